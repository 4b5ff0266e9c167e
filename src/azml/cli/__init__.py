"""The ``azml`` command. It parses, makes one library call (in :mod:`azml.api`)
and prints; errors become exit codes in :func:`main`, the one place that maps them.

Each command's parser and handler live with their kind (the handlers import
:mod:`azml.api` only when called, so that ``azml --help`` loads no backend):

- :mod:`azml.cli.configs`: validate, plan, run, submit, export
- :mod:`azml.cli.runs`: status, logs, cancel, download, store
- :mod:`azml.cli.tracking`: metrics, ui, models
- :mod:`azml.cli.publishing`: publish, schedule, schedules, unschedule
- :mod:`azml.cli.data`: data pull, push, register, list
- :mod:`azml.cli.args`: options and argument types they share
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from azml.cli import configs, data, publishing, runs, tracking
from azml.cli.args import AZURE_TARGETS as AZURE_TARGETS
from azml.errors import AzmlError, exit_code_for

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
    """The parser of every command, in the order `azml --help` lists them."""
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


def _program_name() -> str:
    """``azmlp`` (the name no dependency uses) unless started as ``azml``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "azml" if invoked == "azml" else "azmlp"


_COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "validate": configs.add_validate,
    "plan": configs.add_plan,
    "run": configs.add_run,
    "submit": configs.add_submit,
    "export": configs.add_export,
    "status": runs.add_status,
    "logs": runs.add_logs,
    "cancel": runs.add_cancel,
    "metrics": tracking.add_metrics,
    "ui": tracking.add_ui,
    "models": tracking.add_models,
    "data": data.add_data,
    "store": runs.add_store,
    "download": runs.add_download,
    "publish": publishing.add_publish,
    "schedule": publishing.add_schedule,
    "schedules": publishing.add_schedules,
    "unschedule": publishing.add_unschedule,
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
