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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except AzmlError as exc:
        print(f"azml {args.command}: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print(f"azml {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one catch-all: a bug or an environment failure
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"azml {args.command}: unexpected {exc.__class__.__name__}: {exc} "
                "(rerun with --debug for the traceback)",
                file=sys.stderr,
            )
        return EXIT_UNEXPECTED


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    common.add_argument("--env-file", metavar="PATH", help="settings file (default: ./.env if present)")
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        parents=[common],
        description="Validate, plan, run locally and submit AzureML pipelines described in pipeline_config.json.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _COMMANDS.items():
        add(sub.add_parser(name, parents=[common], help=_HELP[name], description=_HELP[name]))
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


def _v2_option(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--target", choices=(default, "azureml-v2"), default=default,
                   help="'azureml-v2': RUN_ID is an AzureML SDK v2 job name")


def _add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="?", help="a local run id (default: list runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _v2_option(p, "local")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML jobs")
    p.set_defaults(handler=_status)


def _add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="a local run id")
    p.add_argument("--step", metavar="NAME_OR_ID", help="one step's log (step id, name or step run id)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    _v2_option(p, "local")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML jobs")
    p.set_defaults(handler=_logs)


def _add_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="pipeline run id (local or AzureML)")
    p.add_argument("--step", metavar="STEP_ID", help="cancel only this step run")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML runs")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a final state")
    _v2_option(p, "auto")
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

    result = api.status(args.run_id, env_file=args.env_file, target=args.target, ws_config=args.ws_config)
    if args.target == "azureml-v2":
        print(json.dumps(result, indent=2) if args.json else _job_text(result))
        return 0
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_status_text(result))
    return 0


def _logs(args: argparse.Namespace) -> int:
    from azml import api

    api.logs(args.run_id, step=args.step, follow=args.follow, env_file=args.env_file,
             target=args.target, ws_config=args.ws_config)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from azml import api

    print(api.cancel(args.run_id, step_id=args.step, env_file=args.env_file,
                     ws_config=args.ws_config, timeout=args.timeout, target=args.target))
    return 0


def _job_text(job: Any) -> str:
    """An AzureML v2 job and its steps, one line each."""
    lines = [f"{job['name']}  {job['status']}  ({job['type'] or 'job'})"]
    lines += [f"  {s['step']:<20} {s['status']:<12} job {s['job']}" for s in job.get("steps", [])]
    return "\n".join(lines)


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
}
_HELP = {
    "validate": "check a pipeline config; print every problem at once",
    "plan": "show the steps in order with their command lines, data and compute",
    "run": "run the pipeline locally under AzureML's contract",
    "submit": "submit the pipeline to AzureML",
    "export": "write the AzureML SDK v2 pipeline job as YAML (az ml job create -f)",
    "status": "show local runs, or one run",
    "logs": "print a local run's logs",
    "cancel": "cancel a run or one step run (local ids first, then AzureML)",
    "metrics": "metrics of a run per step (local or AzureML); --plot, --compare",
    "ui": "start the MLflow UI for the local store on 127.0.0.1 and print its address",
    "models": "list models registered in the local store",
}
