"""What the kickoff scripts share: options, building the pipeline, submitting or running it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from azml.errors import AzmlError, exit_code_for


def parse_args(argv: Sequence[str] | None, description: str, experiment: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default="configs/pipeline_config.json",
                        help="pipeline_config.json (default: %(default)s)")
    parser.add_argument("--experiment", default=experiment, help="experiment name (default: %(default)s)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a pipeline parameter (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow the run until it ends")
    parser.add_argument("--local", action="store_true", help="run the steps on this machine")
    parser.add_argument("--ws-config", "--ws_config", dest="ws_config", default=None,
                        help="workspace config.json (default: .azureml/config.json, searched upward)")
    parser.add_argument("--env-file", dest="env_file", default=None, help="settings file (default: .env)")
    parser.add_argument("--target", choices=("v1", "v2"), default="v1",
                        help="AzureML SDK: v1 (azureml-core) or v2 (azure-ai-ml) (default: %(default)s)")
    return parser.parse_args(argv)


def kickoff(make: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    """Build the pipeline with ``make(args)``; run it locally or submit it; print the ids."""
    try:
        pipeline = make(args)
        if args.local:
            result = pipeline.run_pipeline(experiment_name=args.experiment, local=True, out=sys.stdout)
            print(f"local run {result.run_id}: {result.status}")
            return 0 if result.status == "Completed" else 1
        pipeline.construct_pipeline()
        run = pipeline.run_pipeline(experiment_name=args.experiment, wait=args.wait, out=sys.stdout)
    except AzmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    print(f"pipeline run id: {run.run_id}")
    for name, step_run_id in run.steps.items():
        print(f"step run id: {step_run_id} ({name})")
    return 0
