"""The model registration step of an AzureML v1 pipeline (runs on the cluster).

``python register_model.py --model_path P --inside SUB --name NAME --source_step STEP --tags JSON``

Registers ``P/SUB`` (the producing step's output, mounted as this step's input)
with ``Model.register``. The model carries, as AzureML shows them, tags (the
user's, plus ``source_run_id`` of the producing step run) and properties (the
producing step run's latest numeric metrics). Standard library plus azureml-core,
which AzureML v1 environments have through ``azureml-defaults``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any


def register(workspace: Any, model_path: str, model_name: str, *,
             tags: Mapping[str, str] | None = None, properties: Mapping[str, str] | None = None,
             description: str = "") -> Any:
    """``Model.register`` of a file or folder anywhere on disk.

    azureml-core refuses a model path outside the working directory
    (``Model._validate_model_path``: "Unauthorized access: Path outside current
    working directory"), and a mounted input is outside it, so this registers the
    path relative to its parent folder.
    """
    from azureml.core import Model

    parent, base = os.path.split(os.path.abspath(model_path.rstrip("/")))
    here = os.getcwd()
    os.chdir(parent)
    try:
        return Model.register(workspace=workspace, model_path=base, model_name=model_name,
                              tags=dict(tags or {}), properties=dict(properties or {}),
                              description=description or None)
    finally:
        os.chdir(here)


def latest_numbers(metrics: Mapping[str, Any]) -> dict[str, str]:
    """The last numeric value of each metric, as model properties (strings)."""
    out = {}
    for name, value in metrics.items():
        last = value[-1] if isinstance(value, list) and value else value
        if isinstance(last, (int, float)) and not isinstance(last, bool):
            out[name] = repr(last)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model_path", required=True)
    parser.add_argument("--inside", default=".")
    parser.add_argument("--name", required=True)
    parser.add_argument("--source_step", default="")
    parser.add_argument("--tags", default="{}")
    args = parser.parse_args(argv)
    path = os.path.normpath(os.path.join(args.model_path, args.inside))
    if not os.path.exists(path):
        sys.stderr.write(f"register_model: nothing at '{args.inside}' in the output "
                         f"({path}); the model '{args.name}' was not registered\n")
        return 1
    from azureml.core import Run
    from azureml.pipeline.core import PipelineRun

    run = Run.get_context()
    tags = dict(json.loads(args.tags))
    properties: dict[str, str] = {}
    if args.source_step:
        pipeline = PipelineRun(run.experiment, run.parent.id)
        source = pipeline.find_step_run(args.source_step)
        if source:
            tags["source_run_id"] = source[0].id
            properties = latest_numbers(source[0].get_metrics())
    model = register(run.experiment.workspace, path, args.name, tags=tags, properties=properties)
    print(f"registered model {model.name} version {model.version} ({model.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
