"""The library calls behind each CLI command: one call per command.

Backends are imported inside the functions, so that ``validate`` and ``plan``
load neither the local runner nor azureml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from azml.errors import RunFailedError, RunNotFoundError, SettingsError
from azml.loading import Loaded, load
from azml.settings import load_settings

__all__ = ["Loaded", "cancel", "load", "logs", "plan", "repair_store", "run", "status", "submit",
           "validate"]


def validate(config_path: str | os.PathLike[str], *, env_file: str | None = None) -> str:
    """A one-line summary of a valid config; ConfigError otherwise."""
    loaded = load(config_path, env_file=env_file)
    steps = loaded.plan.steps.values()
    mpi = sum(1 for s in steps if s.is_mpi)
    edges = len(loaded.plan.edges())
    return (
        f"{loaded.config.path}: valid, {len(loaded.plan.steps)} step"
        f"{'s' if len(loaded.plan.steps) != 1 else ''} ({mpi} MPI), {edges} dependenc"
        f"{'ies' if edges != 1 else 'y'}, {len(loaded.plan.parameters)} parameter"
        f"{'s' if len(loaded.plan.parameters) != 1 else ''}"
    )


def plan(
    config_path: str | os.PathLike[str],
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    target: str = "local",
    as_json: bool = False,
) -> str:
    """The plan as text or JSON; ``target="azure"`` shows the SDK objects AzureML would get."""
    loaded = load(config_path, env_file=env_file, params=params)
    if target == "azure":
        from azml.targets.azureml_v1 import describe_plan

        return describe_plan(loaded.plan, loaded.settings, as_json=as_json)
    from azml.report import format_plan, plan_json

    return plan_json(loaded.plan) if as_json else format_plan(loaded.plan, loaded.settings)


def run(
    config_path: str | os.PathLike[str],
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "local",
    reuse: bool = True,
    max_parallel: int | None = None,
    fail_fast: bool = False,
    out: TextIO = sys.stderr,
) -> Any:
    """Run the pipeline locally; RunFailedError unless every step Completed or was Reused."""
    from azml.targets.local import run_plan

    loaded = load(config_path, env_file=env_file, params=params)
    result = run_plan(
        loaded.plan,
        loaded.settings,
        experiment=experiment,
        reuse=reuse,
        max_parallel=max_parallel,
        fail_fast=fail_fast,
        out=out,
    )
    if result.status != "Completed":  # Status.COMPLETED (a str); the local target is imported lazily
        failed = [s.id for s in result.steps if s.status == "Failed"]
        raise RunFailedError(result.run_id, result.status, failed)
    return result


def submit(
    config_path: str | os.PathLike[str],
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "DEV-train-pipeline",
    ws_config: str | None = None,
    wait: bool = False,
    out: TextIO = sys.stdout,
) -> Any:
    """Build the AzureML pipeline and submit it; returns the run handle."""
    from azml.pipelines.train import TrainPipeline

    pipeline = TrainPipeline(config_path, ws_config=ws_config, env_file=env_file, params=params)
    pipeline.construct_pipeline()
    return pipeline.run_pipeline(experiment_name=experiment, wait=wait, out=out)


def status(run_id: str | None = None, *, env_file: str | None = None) -> Any:
    """Local runs (newest first) or one run, as JSON-ready dicts."""
    from azml.targets.local import run_status

    return run_status(load_settings(env_file), run_id)


def logs(
    run_id: str,
    *,
    step: str | None = None,
    follow: bool = False,
    tail: int | None = None,
    env_file: str | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Write a local run's logs (one step's, or all; the last ``tail`` lines of each) to ``out``.

    Streams: memory does not depend on the logs' size.
    """
    from azml.targets.local import stream_logs

    stream_logs(load_settings(env_file), run_id, step=step, follow=follow, tail=tail, out=out)


def repair_store(*, env_file: str | None = None) -> str:
    """Repair a damaged local run store (see :mod:`azml.targets.local.repair`); returns a sentence."""
    from azml.targets.local import repair_store as repair

    return repair(load_settings(env_file).azml_home)


def cancel(
    run_id: str,
    *,
    step_id: str | None = None,
    env_file: str | None = None,
    ws_config: str | None = None,
    timeout: float = 300.0,
) -> str:
    """Cancel a run or one step run: local ids first, then AzureML. Returns a sentence."""
    from azml.targets.local import cancel_local

    settings = load_settings(env_file)
    try:
        return cancel_local(settings, run_id, step_id=step_id)
    except RunNotFoundError:
        pass
    from azml.targets.azureml_v1 import cancel_run

    try:
        return cancel_run(settings, run_id, step_id=step_id, ws_config=ws_config, timeout=timeout)
    except SettingsError as exc:
        raise RunNotFoundError(
            run_id, message=f"no local run has id '{run_id}', and AzureML cannot be asked: "
            f"{exc.problem} ({exc.what}). {exc.advice}") from None
