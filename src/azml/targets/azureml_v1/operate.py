"""Operate a submitted AzureML v1 pipeline run from here: status, logs, download.

What each reads, as azureml-core / azureml-pipeline-core 1.6x fetch it:

* status: ``Run.get`` (run history ``GET .../runs/<id>``), then the step runs
  (``GET .../runs/<id>/children``): status, start and end times, and whether the
  service reused an earlier run. A reused step run carries the properties
  ``azureml.reusedrunid``, ``azureml.reusednodeid`` and ``azureml.reusedpipeline``
  (how ``StepRun._from_dto`` in azureml-pipeline-core recognises one).
* logs: a step run's log files (``Run.get_details``: run history details, backfilled
  from the artifacts service's ``user_logs/`` and ``system_logs/``); the step's own
  output is ``user_logs/std_log.txt`` (``std_log_process_0.txt`` and so on for MPI
  ranks). A ParallelRunStep's is its batch driver's; the driver's own files under
  ``logs/`` (error summary, result, progress) follow it. ``follow`` polls, as
  ``Run.wait_for_completion(show_output=True)`` does, printing only what is new,
  until the step run ends.
* download: the step's outputs (``StepRun.get_outputs``: the pipelines service's
  ``POST PipelineRuns/<id>/Outputs``; each a PortDataReference naming a datastore
  and a path on it), fetched from blob storage with azml's own client
  (:mod:`azml.data.fetch`), and its log files, each written atomically.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from azml.errors import AzureServiceError, RunNotFoundError, StepNotFoundError, UsageError
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import error_text, quiet_stdout, require_sdk
from azml.targets.azureml_v1.runs import FINAL_STATES, POLL_SECONDS, _get_run, _portal_url
from azml.targets.parallel_logs import parallel_logs
from azml.targets.remote import LogTail

REUSED_RUN = "azureml.reusedrunid"
REUSED_PIPELINE = "azureml.reusedpipeline"
STEP_LOG_PREFIX = "user_logs/std_log"
LEGACY_DRIVER_LOG = "azureml-logs/70_driver_log"


def connect_workspace(settings: Settings, ws_config: str | None, workspace: Any) -> Any:
    """``workspace`` if given, else the one of config.json (see :mod:`.workspace`)."""
    if workspace is not None:
        return workspace
    from azml.targets.azureml_v1.workspace import connect

    return connect(settings, ws_config)


def run_status(settings: Settings, run_id: str, *, ws_config: str | None = None,
               workspace: Any = None) -> dict[str, Any]:
    """A pipeline run (or one step run) as a JSON-ready record, its steps in run order."""
    require_sdk("Reading an AzureML run")
    ws = connect_workspace(settings, ws_config, workspace)
    run = _get_run(ws, run_id, "the AzureML workspace")
    record = _run_record(run)
    record.update(target="azureml_v1", portal_url=_portal_url(run))
    if _is_pipeline(run):
        record["steps"] = [_run_record(step) for step in _steps(run)]
    return record


def _is_pipeline(run: Any) -> bool:
    return str((getattr(run, "_run_dto", None) or {}).get("run_type", "")) == "azureml.PipelineRun" \
        or type(run).__name__ == "PipelineRun"


def _steps(run: Any) -> list[Any]:
    try:
        steps = list(run.get_steps())
    except Exception as exc:
        raise AzureServiceError(f"listing the step runs of {run.id}", error_text(exc)) from None
    return sorted(steps, key=lambda s: (_dto(s).get("run_number") or 0, s.id))


def _dto(run: Any) -> dict[str, Any]:
    return dict(getattr(run, "_run_dto", None) or {})


def _run_record(run: Any) -> dict[str, Any]:
    dto = _dto(run)
    started, ended = _time(dto.get("start_time_utc")), _time(dto.get("end_time_utc"))
    properties = dto.get("properties") or {}
    record: dict[str, Any] = {
        "run_id": run.id, "name": dto.get("display_name") or dto.get("name") or run.id,
        "status": dto.get("status") or "Unknown", "type": dto.get("run_type") or "",
        "started": started.isoformat() if started else None,
        "ended": ended.isoformat() if ended else None,
        "duration": round((ended - started).total_seconds(), 1) if started and ended else None,
        "reused_from": None,
    }
    if properties.get(REUSED_RUN):
        record["reused_from"] = {"run_id": properties[REUSED_RUN],
                                 "pipeline_run_id": properties.get(REUSED_PIPELINE)}
    return record


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def pick_steps(settings: Settings, run_id: str, step: str | None, workspace: Any) -> list[Any]:
    """The step runs ``step`` names (a step name or step run id), or every step; or the run
    itself when ``run_id`` is a step run."""
    require_sdk("Reading an AzureML run")
    run = _get_run(workspace, run_id, "the AzureML workspace")
    if not _is_pipeline(run):
        return [run]
    steps = _steps(run)
    if step is None:
        return steps
    found = [s for s in steps if step in (s.id, _dto(s).get("display_name"), _dto(s).get("name"))]
    if not found:
        raise StepNotFoundError(run_id, step, [str(_dto(s).get("display_name") or s.id) for s in steps])
    return found


def stream_logs(settings: Settings, run_id: str, *, step: str | None = None, follow: bool = False,
                all_logs: bool = False, out: TextIO | None = None, ws_config: str | None = None,
                workspace: Any = None, poll: float = POLL_SECONDS,
                sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Print each chosen step run's log (``user_logs/std_log.txt``); returns the names printed.

    A ParallelRunStep's log is its batch driver's: after it come the driver's files that
    say what failed and how the job ended (:func:`parallel_logs`; with ``all_logs``, every
    file of its ``logs/`` folder). With ``follow``, keep polling and print what is new
    until every chosen step run (and, without ``step``, the pipeline run) has ended.
    """
    out = out or sys.stdout
    ws = connect_workspace(settings, ws_config, workspace)
    tail = LogTail(out)
    while True:
        steps = pick_steps(settings, run_id, step, ws)
        ended = True
        for step_run in steps:
            status, logs = _read_logs(step_run, all_logs)
            label = _dto(step_run).get("display_name") or step_run.id
            for name, text in logs:
                tail.show(f"{step_run.id}/{name}", name, f"==> {label} ({step_run.id}): {name} <==",
                          text)
            ended = ended and status in FINAL_STATES
        if not follow or (ended and _pipeline_ended(ws, run_id, step)):
            return tail.shown
        sleep(poll)


def _pipeline_ended(ws: Any, run_id: str, step: str | None) -> bool:
    """Without ``--step``, following ends with the pipeline run (steps may not exist yet)."""
    if step is not None:
        return True
    run = _get_run(ws, run_id, "the AzureML workspace")
    return str(_dto(run).get("status") or run.get_status()) in FINAL_STATES


def _read_logs(step_run: Any, everything: bool) -> tuple[str, list[tuple[str, str]]]:
    """``(status, [(log name, text)])`` of a step run: its main log, then a parallel step's
    driver logs; none before the step run has written them.

    ``Run.get_details`` lists the step run's log files: run history's own list (its
    ``azureml-logs/`` and ``logs/`` files, where a ParallelRunStep's driver writes) and
    the ``user_logs/`` and ``system_logs/`` the SDK adds from the artifacts service.
    """
    try:
        with quiet_stdout():
            details = step_run.get_details()
    except Exception as exc:
        raise AzureServiceError(f"reading the logs of step run {step_run.id}", error_text(exc)) from None
    files = details.get("logFiles") or {}
    names = [n for n in (main_log(files),) if n] + parallel_logs(files, everything=everything)
    return str(details.get("status") or ""), [(name, _fetch_text(files[name])) for name in names]


def main_log(files: dict[str, Any]) -> str:
    """The step's own output among its log files: ``user_logs/std_log.txt``, else rank 0's,
    else the legacy ``azureml-logs/70_driver_log.txt``; '' when there is none."""
    names = sorted(files)
    for candidates in ([n for n in names if n == STEP_LOG_PREFIX + ".txt"],
                       [n for n in names if n.startswith(STEP_LOG_PREFIX)],
                       [n for n in names if n.startswith(LEGACY_DRIVER_LOG)]):
        if candidates:
            return candidates[0]
    return ""


def _fetch_text(url: str) -> str:
    return _fetch(url).decode("utf-8", errors="replace")


def _fetch(url: str) -> bytes:
    """A log file's bytes, fetched as ``Run.get_details_with_logs`` does."""
    from azureml._file_utils import download_file_stream
    from azureml._restclient.utils import create_session_with_retry

    try:
        return bytes(download_file_stream(url, download_to_bytes=True, session=create_session_with_retry())
                     or b"")
    except Exception as exc:
        raise AzureServiceError("downloading a log file", error_text(exc)) from None


def download(settings: Settings, run_id: str, dest: Path, *, step: str | None = None,
             output: str | None = None, logs: bool = True, ws_config: str | None = None,
             workspace: Any = None, out: TextIO | None = None) -> list[dict[str, Any]]:
    """Download the outputs (or ``output``) and logs of the chosen step runs into ``dest``.

    Layout: ``dest/<step name>/outputs/<output>/...`` and ``dest/<step name>/logs/...``.
    Returns one record per thing downloaded.
    """
    ws = connect_workspace(settings, ws_config, workspace)
    steps = pick_steps(settings, run_id, step, ws)
    done: list[dict[str, Any]] = []
    for step_run in steps:
        folder = dest / _safe(str(_dto(step_run).get("display_name") or step_run.id))
        outputs = _outputs(step_run)
        if output is not None and output not in outputs:
            if step is not None:
                raise UsageError(f"step run {step_run.id} has no output '{output}' (its outputs: "
                                 f"{', '.join(sorted(outputs)) or 'none'})")
            continue
        for name, reference in sorted(outputs.items()):
            if output is None or name == output:
                done.append(_download_output(settings, ws, reference, name, folder / "outputs" / name, out))
        if logs and output is None:
            done.append(_download_logs(step_run, folder / "logs"))
    if output is not None and not done:
        raise UsageError(f"no step of run {run_id} has an output '{output}'")
    return done


def _outputs(step_run: Any) -> dict[str, Any]:
    if not hasattr(step_run, "get_outputs"):
        return {}
    try:
        with quiet_stdout():
            return {name: value.get_port_data_reference()
                    for name, value in step_run.get_outputs().items()}
    except Exception as exc:
        raise AzureServiceError(f"reading the outputs of step run {step_run.id}", error_text(exc)) from None


def _download_output(settings: Settings, ws: Any, reference: Any, name: str, target: Path,
                     out: TextIO | None) -> dict[str, Any]:
    from azml.data.fetch import datastore_location, download_prefix

    store = _datastore(ws, reference.datastore_name)
    location, credential = datastore_location(
        settings, str(store.account_name), str(store.container_name),
        endpoint=getattr(store, "endpoint", None), protocol=getattr(store, "protocol", None),
        key=getattr(store, "account_key", None), sas=getattr(store, "sas_token", None))
    result = download_prefix(settings, location, reference.path_on_datastore, target,
                             credential=credential, out=out)
    return {"kind": "output", "name": name, "datastore": reference.datastore_name,
            "path": reference.path_on_datastore, "local": str(target), "files": result.files,
            "bytes": result.bytes}


def _datastore(ws: Any, name: str) -> Any:
    from azureml.core import Datastore

    try:
        return Datastore.get(ws, name)
    except Exception as exc:
        raise AzureServiceError(f"looking up datastore '{name}'", error_text(exc)) from None


def _download_logs(step_run: Any, target: Path) -> dict[str, Any]:
    from azml.data.fetch import write_atomic

    try:
        with quiet_stdout():
            files = dict(step_run.get_details().get("logFiles") or {})
    except Exception as exc:
        raise AzureServiceError(f"reading the logs of step run {step_run.id}", error_text(exc)) from None
    written = []
    for name, url in sorted(files.items()):
        path = target.joinpath(*[_safe(part) for part in name.split("/") if part not in ("", ".", "..")])
        write_atomic(path, _fetch(url))
        written.append(name)
    return {"kind": "logs", "name": step_run.id, "local": str(target), "files": len(written),
            "logs": written}


def _safe(name: str) -> str:
    """A path component from a name the service gave (no separators, no dot names)."""
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"


def not_found(run_id: str) -> RunNotFoundError:
    return RunNotFoundError(run_id, "the AzureML workspace")
