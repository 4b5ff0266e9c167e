"""The commands on runs, local or AzureML: status, logs, cancel, download, and the local
run store's repair."""

from __future__ import annotations

import argparse
import json
from typing import Any

from azml.cli.args import azure_options, natural


def add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="?", help="a local run id, or an AzureML run/job id (default: list "
                   "local runs)")
    p.add_argument("--json", action="store_true", help="print JSON")
    azure_options(p)
    p.set_defaults(handler=_status)


def add_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="a local run id, or an AzureML run/job id")
    p.add_argument("--step", metavar="NAME_OR_ID", help="one step's log (step id, name or step run id)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    p.add_argument("--tail", type=natural, metavar="N", help="only the last N lines of each log")
    p.add_argument("--all", dest="all_logs", action="store_true",
                   help="a parallel step: every file of its logs/ folder (each worker's output, "
                   "the system logs), not only the error summary, result and progress")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="AzureML: seconds between polls with --follow (default 5 for v1, 10 for v2)")
    azure_options(p)
    p.set_defaults(handler=_logs)


def add_cancel(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="pipeline run id (local or AzureML)")
    p.add_argument("--step", metavar="STEP_ID", help="cancel only this step run")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a final state")
    azure_options(p)
    p.set_defaults(handler=_cancel)


def add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", help="an AzureML pipeline run id (v1) or pipeline job name (v2)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="where to put DIR/<step>/outputs/"
                   "<output>/ and DIR/<step>/logs/")
    p.add_argument("--step", metavar="NAME_OR_ID", help="only this step (name or step run id)")
    p.add_argument("--output", metavar="NAME", help="only this output (and no logs)")
    p.add_argument("--no-logs", action="store_true", help="outputs only")
    azure_options(p)
    p.set_defaults(handler=_download)


def add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("repair",),
                   help="repair: keep a damaged store aside, salvage it and rebuild it from the run folders")
    p.set_defaults(handler=_store)


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
        print(status_text(result))
    return 0


def _logs(args: argparse.Namespace) -> int:
    from azml import api

    api.logs(args.run_id, step=args.step, follow=args.follow, tail=args.tail, all_logs=args.all_logs,
             env_file=args.env_file, target=args.target, ws_config=args.ws_config,
             interval=args.interval)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from azml import api

    print(api.cancel(args.run_id, step_id=args.step, env_file=args.env_file,
                     ws_config=args.ws_config, timeout=args.timeout, target=args.target))
    return 0


def _download(args: argparse.Namespace) -> int:
    from azml import api

    for item in api.download(args.run_id, args.out, step=args.step, output=args.output,
                             logs=not args.no_logs, env_file=args.env_file, target=args.target,
                             ws_config=args.ws_config):
        where = f" ({item['datastore']}/{item['path']})" if item["kind"] == "output" else ""
        print(f"{item['kind']} {item['name']}{where}: {item['files']} file(s) -> {item['local']}")
    return 0


def _store(args: argparse.Namespace) -> int:
    from azml import api

    print(api.repair_store(env_file=args.env_file))
    return 0


def status_text(result: Any) -> str:
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
