"""Runs after their start: status, logs, cancel and download, for local runs and AzureML's
(v1 pipeline runs, v2 pipeline jobs). An id that is no local run is asked of AzureML.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from azml.api.common import LOCAL_PREFIX, azure_target, no_local_run, v2_workspace
from azml.errors import RunNotFoundError, UsageError
from azml.settings import load_settings


def status(run_id: str | None = None, *, env_file: str | None = None, target: str | None = None,
           ws_config: str | None = None) -> Any:
    """Local runs (newest first) or one run, as JSON-ready dicts.

    An id that is no local run is an AzureML run or job (see :func:`azure_status`).
    """
    from azml.targets.local import run_status

    settings = load_settings(env_file)
    if run_id is not None and target is not None:
        return azure_status(run_id, env_file=env_file, target=target, ws_config=ws_config)
    try:
        result = run_status(settings, run_id)
    except RunNotFoundError:
        if run_id is None or run_id.startswith(LOCAL_PREFIX):
            raise
        with no_local_run(run_id):
            return azure_status(run_id, env_file=env_file, target=target, ws_config=ws_config)
    if isinstance(result, dict):
        _add_step_metrics(settings, result)
    return result


def _add_step_metrics(settings: Any, run: dict[str, Any]) -> None:
    """Each step's latest metrics from the local tracking store (read-only, no server)."""
    from azml.errors import TrackingUnavailable
    from azml.tracking.query import step_metrics

    try:
        found = step_metrics(settings.azml_home, run["run_id"])
    except TrackingUnavailable as exc:
        run["metrics_note"] = str(exc)
        return
    for step in run.get("steps", []):
        step["metrics"] = found.get(step["id"], {})


def logs(
    run_id: str,
    *,
    step: str | None = None,
    follow: bool = False,
    tail: int | None = None,
    all_logs: bool = False,
    env_file: str | None = None,
    out: TextIO | None = None,
    target: str | None = None,
    ws_config: str | None = None,
    interval: float | None = None,
) -> None:
    """Write a run's logs (one step's, or all; the last ``tail`` lines of each) to ``out``:
    local ids first, then AzureML (``interval``: seconds between polls with ``follow``).

    A parallel step's log is followed by its batch driver's error summary, result and
    progress (with ``all_logs``, every file of its ``logs/`` folder). Streams: memory
    does not depend on the logs' size.
    """
    from azml.targets.local import stream_logs

    if target is not None:
        azure_logs(run_id, step=step, follow=follow, all_logs=all_logs, env_file=env_file, out=out,
                   target=target, ws_config=ws_config, interval=interval)
        return
    try:
        stream_logs(load_settings(env_file), run_id, step=step, follow=follow, tail=tail,
                    all_logs=all_logs, out=out or sys.stdout)
    except RunNotFoundError:
        if run_id.startswith(LOCAL_PREFIX):
            raise
        with no_local_run(run_id):
            azure_logs(run_id, step=step, follow=follow, all_logs=all_logs, env_file=env_file,
                       out=out, target=target, ws_config=ws_config, interval=interval)


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
    target: str | None = None,
) -> str:
    """Cancel a run or one step run: local ids first, then AzureML. Returns a sentence.

    An id that is no local run is an AzureML v1 run (a GUID) or v2 job (any other
    name) unless ``target`` says which; with ``step_id``, that step's run or child job.
    """
    settings = load_settings(env_file)
    if target is None:
        from azml.targets.local import cancel_local

        try:
            return cancel_local(settings, run_id, step_id=step_id)
        except RunNotFoundError:
            if run_id.startswith(LOCAL_PREFIX):
                raise
    with no_local_run(run_id):
        if azure_target(run_id, target) == "azureml_v2":
            from azml.targets.azureml_v2.jobs import cancel_job, child_job_name

            workspace = v2_workspace(settings, ws_config)
            name = child_job_name(workspace, run_id, step_id) if step_id else run_id
            return cancel_job(workspace, name, timeout=timeout)
        from azml.targets.azureml_v1 import cancel_run

        return cancel_run(settings, run_id, step_id=step_id, ws_config=ws_config, timeout=timeout)


def azure_status(run_id: str, *, env_file: str | None = None, target: str | None = None,
                 ws_config: str | None = None) -> dict[str, Any]:
    """An AzureML pipeline run (v1) or pipeline job (v2) with its steps: status, durations,
    ids, portal link, and the earlier run a reused step took its results from."""
    settings = load_settings(env_file)
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import run_status as v1_status

        return v1_status(settings, run_id, ws_config=ws_config)
    from azml.targets.azureml_v2.operate import job_record

    return job_record(v2_workspace(settings, ws_config), run_id)


def azure_logs(run_id: str, *, step: str | None = None, follow: bool = False,
               all_logs: bool = False, env_file: str | None = None, out: TextIO | None = None,
               target: str | None = None, ws_config: str | None = None,
               interval: float | None = None) -> list[str]:
    """Print the step's log (``user_logs/std_log*``) of an AzureML run, and a parallel step's
    batch driver logs (``logs/...``); ``follow`` polls to its end."""
    settings = load_settings(env_file)
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import stream_logs as v1_logs
        from azml.targets.azureml_v1.runs import POLL_SECONDS as V1_POLL

        return v1_logs(settings, run_id, step=step, follow=follow, all_logs=all_logs, out=out,
                       ws_config=ws_config, poll=V1_POLL if interval is None else interval)
    from azml.targets.azureml_v2.jobs import POLL_SECONDS as V2_POLL
    from azml.targets.azureml_v2.operate import stream_logs as v2_logs

    return v2_logs(v2_workspace(settings, ws_config), run_id, step=step, follow=follow,
                   all_logs=all_logs, out=out, poll=V2_POLL if interval is None else interval)


def download(run_id: str, dest: str, *, step: str | None = None, output: str | None = None,
             logs: bool = True, env_file: str | None = None, target: str | None = None,
             ws_config: str | None = None, out: TextIO | None = sys.stderr) -> list[dict[str, Any]]:
    """Download the outputs (or one ``output``) and logs of an AzureML run's steps into ``dest``."""
    from pathlib import Path

    if run_id.startswith(LOCAL_PREFIX):
        raise UsageError(f"{run_id} is a local run: its outputs are already on this machine "
                         f"(`azml status {run_id} --json` shows where)")
    settings = load_settings(env_file)
    folder = Path(os.path.expanduser(dest))
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import download as v1_download

        return v1_download(settings, run_id, folder, step=step, output=output, logs=logs,
                           ws_config=ws_config, out=out)
    from azml.targets.azureml_v2.operate import download as v2_download

    return v2_download(v2_workspace(settings, ws_config), settings, run_id, folder, step=step,
                       output=output, logs=logs, out=out)
