"""The library calls behind each CLI command: one call per command.

Backends are imported inside the functions, so that ``validate`` and ``plan``
load neither the local runner nor azureml.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Mapping, Sequence, TextIO, Union

from azml.errors import RunFailedError, RunNotFoundError, SettingsError
from azml.loading import Loaded, load
from azml.settings import load_settings

__all__ = ["Loaded", "cancel", "construct", "load", "logs", "plan", "run", "status", "submit",
           "validate"]

#: A config path, or a config already loaded (what the Python façade holds).
ConfigRef = Union[str, "os.PathLike[str]", Loaded]


def _loaded(config: ConfigRef, env_file: str | None, params: Sequence[str]) -> Loaded:
    if isinstance(config, Loaded):
        return config
    return load(config, env_file=env_file, params=params)


def validate(config_path: str | os.PathLike[str], *, env_file: str | None = None,
             warn: TextIO | None = None) -> str:
    """A one-line summary of a valid config (warnings to ``warn``); ConfigError otherwise."""
    loaded = load(config_path, env_file=env_file)
    if warn is not None:
        print_warnings(loaded, warn)
    steps = loaded.plan.steps.values()
    mpi = sum(1 for s in steps if s.is_mpi)
    edges = loaded.plan.edges()
    order = sum(1 for e in edges if e.kind == "order")
    return (
        f"{loaded.config.path}: valid, {len(loaded.plan.steps)} step"
        f"{'s' if len(loaded.plan.steps) != 1 else ''} ({mpi} MPI), {len(edges)} dependenc"
        f"{'ies' if len(edges) != 1 else 'y'} ({order} order-only), {len(loaded.plan.parameters)} "
        f"parameter{'s' if len(loaded.plan.parameters) != 1 else ''}"
    )


def print_warnings(loaded: Loaded, out: TextIO) -> None:
    """Each warning of the config and plan on its own line, as ``warning: FILE: PATH: ...``."""
    for problem in loaded.plan.warnings:
        print(f"warning: {problem.render()}", file=out)


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
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "local",
    reuse: bool = True,
    max_parallel: int | None = None,
    fail_fast: bool = False,
    parameters: Mapping[str, Any] | None = None,
    out: TextIO | None = None,
) -> Any:
    """Run the pipeline locally; RunFailedError unless every step Completed or was Reused.

    ``parameters`` (name -> typed value) override parameters on top of ``params``.
    """
    from azml.targets.local import run_plan

    out = out or sys.stderr
    loaded = _loaded(config_path, env_file, params)
    print_warnings(loaded, out)
    result = run_plan(
        loaded.plan if parameters is None else loaded.replan(parameters),
        loaded.settings,
        experiment=experiment,
        reuse=reuse,
        max_parallel=max_parallel,
        fail_fast=fail_fast,
        out=out,
    )
    if result.status != "Completed":
        failed = [s.id for s in result.steps if s.status == "Failed"]
        raise RunFailedError(result.run_id, result.status, failed)
    return result


def construct(
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    workspace: Any = None,
    ws_config: str | None = None,
    auth: str | None = None,
    out: TextIO | None = None,
) -> Any:
    """Prepare the workspace (datastores, cluster) and build the SDK steps, without submitting."""
    from azml.targets.azureml_v1 import prepare
    from azml.targets.azureml_v1.workspace import connect

    loaded = _loaded(config_path, env_file, params)
    ws = workspace if workspace is not None else connect(loaded.settings, ws_config, auth)
    return prepare(loaded.plan, loaded.settings, ws, out)


def submit(
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "DEV-train-pipeline",
    ws_config: str | None = None,
    auth: str | None = None,
    workspace: Any = None,
    tags: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = False,
    prepared: Any = None,
    out: TextIO | None = None,
) -> Any:
    """Submit the pipeline to AzureML; returns the run handle.

    With ``wait``, follows the run and raises RunFailedError (exit code 1) unless
    it completes, naming the failed steps with their log tails.
    """
    from azml.targets.azureml_v1 import submit_plan

    loaded = _loaded(config_path, env_file, params)
    print_warnings(loaded, sys.stderr)
    return submit_plan(loaded.plan, loaded.settings, experiment=experiment, workspace=workspace,
                       ws_config=ws_config, auth=auth, tags=tags, parameters=parameters,
                       wait=wait, prepared=prepared, out=out)


def status(run_id: str | None = None, *, env_file: str | None = None) -> Any:
    """Local runs (newest first) or one run, as JSON-ready dicts."""
    from azml.targets.local import run_status

    return run_status(load_settings(env_file), run_id)


def logs(
    run_id: str,
    *,
    step: str | None = None,
    follow: bool = False,
    env_file: str | None = None,
    out: TextIO | None = None,
) -> None:
    """Write a local run's logs (one step's, or all) to ``out``."""
    from azml.targets.local import stream_logs

    stream_logs(load_settings(env_file), run_id, step=step, follow=follow, out=out or sys.stdout)


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
        raise SettingsError(
            exc.what, f"no local run has id '{run_id}', and AzureML cannot be asked: {exc.problem}", exc.advice
        ) from None
