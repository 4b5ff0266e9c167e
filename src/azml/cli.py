"""The ``azml`` command. It parses, makes one library call (in :mod:`azml.api`)
and prints; errors become exit codes in :func:`main`, the one place that maps them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from azml.errors import AzmlError, UsageError, exit_code_for

EXIT_UNEXPECTED = 1
#: The reader of our output went away (``azml status | head -3``): 128 + SIGPIPE, quietly.
EXIT_CLOSED_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_CLOSED_PIPE
    except AzmlError as exc:
        print(f"azml {args.command}: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print(f"azml {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one catch-all: a bug or an environment failure
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"azml {args.command}: unexpected {exc.__class__.__name__}: {exc} "
                "(rerun with --debug for the traceback)",
                file=sys.stderr,
            )
        return EXIT_UNEXPECTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush raises nothing."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def _common(suppress: bool) -> argparse.ArgumentParser:
    """Options valid before and after the command; after it, they keep what came before."""
    common = argparse.ArgumentParser(add_help=False)
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    common.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors",
                        **default)
    common.add_argument("--env-file", metavar="PATH", help="settings file (default: ./.env if present)",
                        **default)
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        parents=[_common(suppress=False)],
        description="Validate, plan, run locally and submit AzureML pipelines described in pipeline_config.json.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    after = _common(suppress=True)
    for name, add in _COMMANDS.items():
        add(sub.add_parser(name, parents=[after], help=_HELP[name], description=_HELP[name]))
    return parser


def _params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a pipeline parameter (repeatable)")


#: What --target accepts: ``azure`` is AzureML SDK v1, ``azureml-v2`` SDK v2 (azure-ai-ml).
AZURE_TARGETS = ("azure", "azureml-v1", "azureml-v2")


def _add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--target", choices=("local", *AZURE_TARGETS), default="local",
                   help="'azureml-v2' also checks everything AzureML SDK v2 would refuse")
    p.set_defaults(handler=_validate)


def _add_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--target", choices=("local", *AZURE_TARGETS), default="local",
                   help="'azure' shows the SDK v1 objects AzureML would receive, 'azureml-v2' the SDK v2 "
                   "pipeline job (no credentials, no network)")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment name (azureml-v2)")
    _params(p)
    p.set_defaults(handler=_plan)


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    _params(p)
    p.add_argument("--no-reuse", action="store_true", help="run every step even when nothing changed")
    p.add_argument("--max-parallel", type=_positive_int, metavar="N",
                   help="steps running at once (default: number of cores)")
    p.add_argument("--experiment", default="local", help="experiment name recorded with the run")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop independent branches as soon as one step fails")
    p.add_argument("--env", choices=("isolated", "current"), default="isolated", dest="env_mode",
                   help="isolated (default): each step in an environment built from its "
                   "requirements; current: azml's own interpreter and packages")
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                   help="give steps this shell variable too (repeatable; AzureML would not)")
    p.add_argument("--pull", action="store_true",
                   help="pull missing datastore inputs from blob storage before running")
    p.add_argument("--target", choices=AZURE_TARGETS, default="azureml-v1",
                   help="whose contract the steps get: AzureML SDK v1's variables (default) or a v2 "
                   "command job's (azureml-v2); argv is the same")
    p.set_defaults(handler=_run)


def _add_submit(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="AzureML experiment name")
    _params(p)
    p.add_argument("--wait", action="store_true", help="wait for the run to finish")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json (default: as the SDK finds it)")
    p.add_argument("--target", choices=AZURE_TARGETS, default="azure",
                   help="'azure' (SDK v1, default) or 'azureml-v2' (SDK v2 pipeline job)")
    p.set_defaults(handler=_submit)


def _add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("-o", "--output", required=True, metavar="PIPELINE.yml",
                   help="the YAML file to write (for 'az ml job create -f')")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment name in the YAML")
    _params(p)
    p.set_defaults(handler=_export)


def _azure_options(p: argparse.ArgumentParser, default: str | None = None) -> None:
    what = "the AzureML SDK whose run or job the id is (default: v1 for a GUID, else v2)" \
        if default is None else f"AzureML SDK v1 or v2 (default {default})"
    p.add_argument("--target", choices=("azureml-v1", "azureml-v2"), default=default, help=what)
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML")


def _add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="?", help="a local run id, or an AzureML run/job id (default: list "
                   "local runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _azure_options(p)
    p.set_defaults(handler=_status)


def _add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="a local run id, or an AzureML run/job id")
    p.add_argument("--step", metavar="NAME_OR_ID", help="one step's log (step id, name or step run id)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    p.add_argument("--tail", type=_natural, metavar="N", help="only the last N lines of each log")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="AzureML: seconds between polls with --follow (default 5 for v1, 10 for v2)")
    _azure_options(p)
    p.set_defaults(handler=_logs)


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("repair",),
                   help="repair: keep a damaged store aside, salvage it and rebuild it from the run folders")
    p.set_defaults(handler=_store)


def _add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="an AzureML pipeline run id (v1) or pipeline job name (v2)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="where to put DIR/<step>/outputs/"
                   "<output>/ and DIR/<step>/logs/")
    p.add_argument("--step", metavar="NAME_OR_ID", help="only this step (name or step run id)")
    p.add_argument("--output", metavar="NAME", help="only this output (and no logs)")
    p.add_argument("--no-logs", action="store_true", help="outputs only")
    _azure_options(p)
    p.set_defaults(handler=_download)


def _add_publish(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json (v2: or a pipeline job YAML)")
    p.add_argument("--name", required=True, help="published pipeline (v1) / pipeline component (v2) name")
    p.add_argument("--endpoint", metavar="E", help="v1: pipeline endpoint to make it the default of; "
                   "v2: batch endpoint (default: the name)")
    p.add_argument("--compute", metavar="CLUSTER", help="v2: the deployment's default compute cluster")
    _params(p)
    _azure_options(p, "azureml-v1")
    p.set_defaults(handler=_publish)


def _add_schedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json (v2: or a pipeline job YAML)")
    p.add_argument("--name", required=True, help="schedule name (v1 also publishes the pipeline under it)")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar='"M H DOM MON DOW"', help='a cron expression, e.g. "0 2 * * *"')
    when.add_argument("--every", metavar="N{m,h,d,w}", help="an interval, e.g. 30m, 6h, 1d, 2w")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment of the scheduled runs")
    p.add_argument("--endpoint", metavar="E", help="v1: schedule this pipeline endpoint's default version")
    _params(p)
    _azure_options(p, "azureml-v1")
    p.set_defaults(handler=_schedule)


def _add_schedules(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="disabled schedules too")
    p.add_argument("--json", action="store_true", help="print JSON")
    _azure_options(p, "azureml-v1")
    p.set_defaults(handler=_schedules)


def _add_unschedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="schedule name (or v1 schedule id)")
    _azure_options(p, "azureml-v1")
    p.set_defaults(handler=_unschedule)


def _add_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="pipeline run id (local or AzureML)")
    p.add_argument("--step", metavar="STEP_ID", help="cancel only this step run")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a final state")
    _azure_options(p)
    p.set_defaults(handler=_cancel)


def _add_metrics(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="+", help="local run id, or AzureML run id (several with --compare)")
    p.add_argument("--step", metavar="STEP", help="only this step (step id, name or step run id)")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of every series metric (loss curves)")
    p.add_argument("--compare", action="store_true", help="one row per run with the final value of each metric")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML runs")
    p.set_defaults(handler=_metrics)


def _add_ui(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stop", action="store_true", help="stop the local MLflow server")
    p.set_defaults(handler=_ui)


def _add_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_models)


def _metrics(args: argparse.Namespace) -> int:
    from azml import api

    if len(args.run_id) > 1 and not args.compare:
        raise UsageError("several run ids need --compare")
    result = api.metrics(args.run_id, step=args.step, plot=args.plot, compare=args.compare,
                         env_file=args.env_file, ws_config=args.ws_config)
    print(json.dumps(result, indent=2) if args.json else result["text"])
    if result["plot"] and not args.json:
        print(f"plot: {result['plot']}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    from azml import api

    answer = api.ui(env_file=args.env_file, stop=args.stop)
    print(answer if args.stop else f"MLflow UI for the local store: {answer}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from azml import api

    rows = api.models(env_file=args.env_file)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no models registered locally")
    else:
        for row in rows:
            print(f"{row['name']:<24} v{row['version']:<4} run {row.get('step_run_id') or '-'}  "
                  f"(mlflow run {row['run_id']})  {row['source']}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from azml import api

    print(api.validate(args.config, env_file=args.env_file, warn=sys.stderr, target=args.target))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from azml import api

    print(api.plan(args.config, env_file=args.env_file, params=args.param,
                   target=args.target, as_json=args.json, experiment=args.experiment))
    return 0


def _run(args: argparse.Namespace) -> int:
    from azml import api

    api.run(args.config, env_file=args.env_file, params=args.param, experiment=args.experiment,
            reuse=not args.no_reuse, max_parallel=args.max_parallel, fail_fast=args.fail_fast,
            env_mode=args.env_mode, pass_env=args.pass_env, pull=args.pull,
            target=args.target)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from azml import api

    api.submit(args.config, env_file=args.env_file, params=args.param, experiment=args.experiment,
               ws_config=args.ws_config, wait=args.wait, target=args.target)
    return 0


def _export(args: argparse.Namespace) -> int:
    from azml import api

    written = api.export(args.config, args.output, env_file=args.env_file, params=args.param,
                         experiment=args.experiment)
    print(f"wrote {written} (submit it with: az ml job create -f {written})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from azml import api

    result = api.status(args.run_id, env_file=args.env_file, target=args.target,
                        ws_config=args.ws_config)
    if args.json:
        print(json.dumps(result, indent=2))
    elif isinstance(result, dict) and str(result.get("target", "")).startswith("azureml"):
        from azml.report import azure_status_text

        print(azure_status_text(result))
    else:
        print(_status_text(result))
    return 0


def _logs(args: argparse.Namespace) -> int:
    from azml import api

    api.logs(args.run_id, step=args.step, follow=args.follow, tail=args.tail, env_file=args.env_file,
             target=args.target, ws_config=args.ws_config, interval=args.interval)
    return 0


def _store(args: argparse.Namespace) -> int:
    from azml import api

    print(api.repair_store(env_file=args.env_file))
    return 0


def _download(args: argparse.Namespace) -> int:
    from azml import api

    for item in api.download(args.run_id, args.out, step=args.step, output=args.output,
                             logs=not args.no_logs, env_file=args.env_file, target=args.target,
                             ws_config=args.ws_config):
        where = f" ({item['datastore']}/{item['path']})" if item["kind"] == "output" else ""
        print(f"{item['kind']} {item['name']}{where}: {item['files']} file(s) -> {item['local']}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from azml import api

    done = api.publish(args.config, name=args.name, endpoint=args.endpoint, target=args.target,
                       env_file=args.env_file, params=args.param, ws_config=args.ws_config,
                       compute=args.compute, out=sys.stderr)
    what = f"component {done['component']}" if "component" in done else f"pipeline {done['pipeline_id']}"
    endpoint = f" as version {done['version']} of endpoint {done['endpoint']}" if done.get("endpoint") else ""
    print(f"published {done['name']} ({what}){endpoint}")
    print(f"REST endpoint: {done['rest_endpoint']}")
    print(f"example request:\n  {done['example']}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from azml import api

    done = api.schedule(args.config, name=args.name, cron=args.cron, every=args.every,
                        experiment=args.experiment, endpoint=args.endpoint, target=args.target,
                        env_file=args.env_file, params=args.param, ws_config=args.ws_config,
                        out=sys.stderr)
    print(f"schedule {done['name']} ({done['id']}): {done['recurrence']}, {done['status']}")
    return 0


def _schedules(args: argparse.Namespace) -> int:
    from azml import api

    rows = api.schedules(target=args.target, active_only=not args.all, env_file=args.env_file,
                         ws_config=args.ws_config)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no schedules" if args.all else "no active schedules (--all shows disabled ones)")
    for row in [] if args.json else rows:
        print(f"{row['name']:<24} {row['status']:<9} {row['recurrence']}  {row['id']}")
    return 0


def _unschedule(args: argparse.Namespace) -> int:
    from azml import api

    done = api.unschedule(args.name, target=args.target, env_file=args.env_file,
                          ws_config=args.ws_config)
    print(f"schedule {done['name']} ({done['id']}): {done['status']}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from azml import api

    print(api.cancel(args.run_id, step_id=args.step, env_file=args.env_file,
                     ws_config=args.ws_config, timeout=args.timeout, target=args.target))
    return 0


def _add_data(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option given before the action (azml data --env-file X pull) is not reset
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of unexpected errors")
    common.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS,
                        help="settings file (default: ./.env if present)")
    p.set_defaults(handler=lambda _args: _data_help(p))
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    pull = sub.add_parser("pull", parents=[common], help="download DATASTORE[/PATH] from blob storage "
                          "into the local datastore folder (skips unchanged files, resumes)")
    pull.add_argument("spec", metavar="DATASTORE[/PATH]")
    pull.add_argument("--workers", type=_positive_int, metavar="N", help="parallel transfers (default 8)")
    pull.add_argument("--verify", action="store_true",
                      help="check every downloaded file's MD5 against the blob's Content-MD5")
    pull.set_defaults(handler=_data_pull)
    push = sub.add_parser("push", parents=[common], help="upload the local datastore folder "
                          "DATASTORE[/PATH] (or --from DIR) to that blob path")
    push.add_argument("spec", metavar="DATASTORE[/PATH]")
    push.add_argument("--from", dest="source", metavar="DIR", help="upload this folder or file instead, "
                      "e.g. a step's output folder")
    push.add_argument("--workers", type=_positive_int, metavar="N", help="parallel transfers (default 8)")
    push.set_defaults(handler=_data_push)
    reg = sub.add_parser("register", parents=[common], help="register a local folder or file, or "
                         "azureml://datastores/NAME/paths/PATH, as a dataset version")
    reg.add_argument("name")
    reg.add_argument("source", metavar="PATH")
    reg.add_argument("--version", type=_positive_int, metavar="N", help="version number (default: next)")
    reg.set_defaults(handler=_data_register)
    lst = sub.add_parser("list", parents=[common], help="list registered datasets")
    lst.add_argument("name", nargs="?", help="only this dataset's versions")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(handler=_data_list)


def _data_help(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _data_pull(args: argparse.Namespace) -> int:
    from azml import api

    print(api.data_pull(args.spec, workers=args.workers, verify=args.verify,
                        env_file=args.env_file).summary())
    return 0


def _data_push(args: argparse.Namespace) -> int:
    from azml import api

    print(api.data_push(args.spec, source=args.source, workers=args.workers,
                        env_file=args.env_file).summary())
    return 0


def _data_register(args: argparse.Namespace) -> int:
    from azml import api

    found = api.data_register(args.name, args.source, version=args.version, env_file=args.env_file)
    print(f"dataset {found.name} version {found.version}: {found.source}")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from azml import api
    from azml.data.registry import as_dict

    found = api.data_list(name=args.name, env_file=args.env_file)
    if args.json:
        print(json.dumps([as_dict(d) for d in found], indent=2))
    elif not found:
        print("no datasets registered (azml data register NAME PATH)")
    else:
        for d in found:
            print(f"{d.name:<24} {d.version:>4}  {d.source}  ({d.registered})")
    return 0


def _status_text(result: Any) -> str:
    runs = result if isinstance(result, list) else [result]
    if not runs:
        return "no local runs yet"
    lines = []
    for run in runs:
        lines.append(f"{run['run_id']}  {run['status']:<10} {run.get('experiment', '')}  "
                     f"started {run.get('started') or '-'}  ended {run.get('ended') or '-'}")
        if not isinstance(result, list):
            for step in run.get("steps", []):
                reason = f" ({step['reason']})" if step.get("reason") else ""
                lines.append(f"  {step['id']:<20} {step['status']:<10}{reason}")
    return "\n".join(lines)


def _program_name() -> str:
    """``azmlp`` (the name no dependency uses) unless started as ``azml``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "azml" if invoked == "azml" else "azmlp"


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


_COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "validate": _add_validate,
    "plan": _add_plan,
    "run": _add_run,
    "submit": _add_submit,
    "export": _add_export,
    "status": _add_status,
    "logs": _add_logs,
    "cancel": _add_cancel,
    "metrics": _add_metrics,
    "ui": _add_ui,
    "models": _add_models,
    "data": _add_data,
    "store": _add_store,
    "download": _add_download,
    "publish": _add_publish,
    "schedule": _add_schedule,
    "schedules": _add_schedules,
    "unschedule": _add_unschedule,
}
_HELP = {
    "validate": "check a pipeline config; print every problem at once",
    "plan": "show the steps in order with their command lines, data and compute",
    "run": "run the pipeline locally under AzureML's contract",
    "submit": "submit the pipeline to AzureML",
    "export": "write the AzureML SDK v2 pipeline job as YAML (az ml job create -f)",
    "status": "show local runs, or one run (local or AzureML)",
    "logs": "print a run's logs (local or AzureML; --follow)",
    "cancel": "cancel a run or one step run (local ids first, then AzureML)",
    "metrics": "metrics of a run per step (local or AzureML); --plot, --compare",
    "ui": "start the MLflow UI for the local store on 127.0.0.1 and print its address",
    "models": "list models registered in the local store",
    "data": "pull or push data between blob storage and the local datastore folder; "
            "register and list local datasets",
    "store": "maintain the local run store (repair)",
    "download": "download an AzureML run's step outputs and logs",
    "publish": "publish the pipeline to AzureML with a REST endpoint (v1 pipeline endpoint, "
               "v2 batch endpoint)",
    "schedule": "run the pipeline on AzureML on a schedule (--cron or --every)",
    "schedules": "list the AzureML workspace's schedules",
    "unschedule": "disable an AzureML schedule",
}
