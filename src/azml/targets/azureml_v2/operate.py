"""Operate a submitted v2 pipeline job from here: status, logs (``--follow``), download.

What each reads, as azure-ai-ml 1.35 reads it (recorded by the tests' stand-in):

* status: ``jobs.get`` (the pipeline job: status, studio URL), then its child jobs from
  run history (``GET /history/v1.0/.../runs/<id>/children``, the call ``jobs.list(
  parent_job_name=..)`` makes), read as run history returns them: status, start and
  end times, node name, and reuse: a reused child carries ``azureml.isreused: "true"``
  and ``azureml.reusedrunid`` (``PipelineConstants`` in azure-ai-ml, which
  ``jobs.download`` follows to the reused job).
* logs: run history's details (``GET .../runs/<id>/details``: status and ``logFiles``,
  SAS URLs), the user log picked as ``jobs.stream`` does (``user_logs/std_log*``),
  downloaded with the SDK's own retrying pipeline, and for a parallel job its batch
  driver's files under ``logs/`` (error summary, result, progress); ``follow`` polls
  until the child job ends, printing only what is new.
* download: the child job's named outputs as ``jobs.download`` resolves them
  (``POST /history/v1.0/.../rundata``, then ``POST /data/v1.0/.../dataversion/
  batchGetResolvedUris``: ``azureml://.../datastores/<name>/paths/<path>``), the
  datastore (``GET datastores/<name>``), and the blobs fetched with azml's own client
  (:mod:`azml.data.fetch`); and its log files.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from azml.errors import AzureServiceError, StepNotFoundError, UsageError
from azml.settings import Settings
from azml.targets.azureml_v2._sdk import error_text, require_sdk
from azml.targets.azureml_v2.jobs import FINAL_STATES, POLL_SECONDS, _get, _service_error, _status
from azml.targets.azureml_v2.workspace import Workspace
from azml.targets.parallel_logs import parallel_logs
from azml.targets.remote import LogTail

REUSED_FLAG = "azureml.isreused"
REUSED_RUN = "azureml.reusedrunid"
NODE = "azureml.nodeid"
DATASTORE_URI = re.compile(r"azureml://(?:.*/)?datastores/(?P<store>[^/]+)/paths/(?P<path>.*)")


def job_record(workspace: Workspace, name: str) -> dict[str, Any]:
    """Job ``name`` (a pipeline job with its steps, or one child job) as a JSON-ready record."""
    require_sdk("Reading an AzureML job")
    job = _get(workspace, name)
    record: dict[str, Any] = {"run_id": name, "name": getattr(job, "display_name", None) or name,
                              "status": _status(job), "type": str(getattr(job, "type", "") or ""),
                              "target": "azureml_v2", "portal_url": getattr(job, "studio_url", "") or "",
                              "started": None, "ended": None, "duration": None, "reused_from": None}
    if record["type"] == "pipeline":
        record["steps"] = [_child_record(run) for run in children(workspace, name)]
    return record


def children(workspace: Workspace, name: str) -> list[Any]:
    """The child runs of pipeline job ``name`` as run history returns them, in creation order."""
    ops = workspace.client.jobs._runs_operations
    try:
        runs = list(ops._operation.get_child(ops._subscription_id, ops._resource_group_name,
                                             ops._workspace_name, name))
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        raise _service_error(f"listing the child jobs of {name}", exc) from None
    return sorted(runs, key=lambda r: (r.run_number or 0, r.run_id))


def _child_record(run: Any) -> dict[str, Any]:
    properties = dict(run.properties or {})
    started, ended = _time(run.start_time_utc), _time(run.end_time_utc)
    reused = None
    if properties.get(REUSED_FLAG) == "true" and properties.get(REUSED_RUN):
        reused = {"run_id": properties[REUSED_RUN], "pipeline_run_id": properties.get("azureml.reusedpipeline")}
    return {"run_id": run.run_id, "name": properties.get(NODE) or run.display_name or run.run_id,
            "display_name": run.display_name, "status": run.status or "Unknown",
            "started": started.isoformat() if started else None,
            "ended": ended.isoformat() if ended else None,
            "duration": round((ended - started).total_seconds(), 1) if started and ended else None,
            "reused_from": reused}


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def pick_children(workspace: Workspace, name: str, step: str | None) -> list[str]:
    """The child job names ``step`` names (node name, display name or job name), every child
    of a pipeline job without it, or ``name`` itself for a job that is not a pipeline."""
    job = _get(workspace, name)
    if str(getattr(job, "type", "")) != "pipeline":
        return [name]
    runs = children(workspace, name)
    if step is None:
        return [r.run_id for r in runs]
    found = [r.run_id for r in runs if step in (r.run_id, r.display_name, (r.properties or {}).get(NODE))]
    if not found:
        raise StepNotFoundError(name, step, [str((r.properties or {}).get(NODE) or r.run_id) for r in runs])
    return found


def stream_logs(workspace: Workspace, name: str, *, step: str | None = None, follow: bool = False,
                all_logs: bool = False, out: TextIO | None = None, poll: float = POLL_SECONDS,
                sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Print the user log of each chosen child job; with ``follow``, until they have ended.

    A parallel job's user log is its batch driver's: after it come the driver's files
    that say what failed and how the job ended (:func:`parallel_logs`; with ``all_logs``,
    every file of its ``logs/`` folder).
    """
    out = out or sys.stdout
    tail = LogTail(out)
    while True:
        ended = True
        for child in pick_children(workspace, name, step):
            status, logs = _read_logs(workspace, child, all_logs)
            for log, text in logs:
                tail.show(f"{child}/{log}", log, f"==> {child}: {log} <==", text)
            ended = ended and status in FINAL_STATES
        if not follow or (ended and (step is not None or _status(_get(workspace, name)) in FINAL_STATES)):
            return tail.shown
        sleep(poll)


def _details(workspace: Workspace, name: str) -> Any:
    try:
        return workspace.client.jobs._runs_operations.get_run_details(name)
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"reading the logs of job {name}", exc) from None


def _read_logs(workspace: Workspace, name: str, everything: bool) -> tuple[str, list[tuple[str, str]]]:
    """``(status, [(log name, text)])`` of child job ``name``: its user log, picked as
    ``jobs.stream`` picks it, then a parallel job's driver logs (run history lists the
    job's ``logs/`` files with the others)."""
    from azure.ai.ml.operations._job_ops_helper import _get_sorted_filtered_logs

    details = _details(workspace, name)
    files = dict(details.log_files or {})
    names = _get_sorted_filtered_logs(files, "command", only_streamable=False)[:1]
    names += parallel_logs(files, everything=everything)
    return str(details.status or ""), [(log, _fetch(workspace, files[log])) for log in names]


def _fetch(workspace: Workspace, url: str) -> str:
    from azure.ai.ml._utils.utils import create_requests_pipeline_with_retry, download_text_from_url

    pipeline = create_requests_pipeline_with_retry(requests_pipeline=workspace.client.jobs._requests_pipeline)
    try:
        return str(download_text_from_url(url, pipeline))
    except Exception as exc:  # noqa: BLE001
        raise AzureServiceError("downloading a log file", error_text(exc)) from None


def download(workspace: Workspace, settings: Settings, name: str, dest: Path, *,
             step: str | None = None, output: str | None = None, logs: bool = True,
             out: TextIO | None = None) -> list[dict[str, Any]]:
    """Outputs (or ``output``) and logs of the chosen child jobs into ``dest/<node>/``."""
    from azml.data.fetch import write_atomic

    done: list[dict[str, Any]] = []
    for child in pick_children(workspace, name, step):
        node = _node_name(workspace, child)
        folder = dest / _safe(node)
        uris = _output_uris(workspace, child, output)
        if output is not None and output not in uris:
            if step is not None:
                raise UsageError(f"job {child} has no output '{output}'")
            continue
        for out_name, uri in sorted(uris.items()):
            done.append(_download_output(workspace, settings, out_name, uri,
                                         folder / "outputs" / _safe(out_name), out))
        if logs and output is None:
            files = dict(_details(workspace, child).log_files or {})
            for log, url in sorted(files.items()):
                parts = [_safe(p) for p in log.split("/") if p not in ("", ".", "..")]
                write_atomic(folder.joinpath("logs", *parts), _fetch(workspace, url).encode("utf-8"))
            done.append({"kind": "logs", "name": child, "local": str(folder / "logs"),
                         "files": len(files), "logs": sorted(files)})
    if output is not None and not done:
        raise UsageError(f"no step of job {name} has an output '{output}'")
    return done


def _node_name(workspace: Workspace, child: str) -> str:
    run = workspace.client.jobs._runs_operations.get_run(child)
    return str((run.properties or {}).get(NODE) or run.display_name or child)


def _output_uris(workspace: Workspace, child: str, output: str | None) -> dict[str, str]:
    """Named outputs of a child job as ``azureml://`` URIs, resolved as ``jobs.download`` does."""
    from azure.ai.ml.operations._job_ops_helper import get_job_output_uris_from_dataplane

    jobs = workspace.client.jobs
    try:
        return dict(get_job_output_uris_from_dataplane(
            child, jobs._runs_operations, jobs._dataset_dataplane_operations,
            jobs._model_dataplane_operations, output_names=output))
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"resolving the outputs of job {child}", exc) from None


def _download_output(workspace: Workspace, settings: Settings, name: str, uri: str, target: Path,
                     out: TextIO | None) -> dict[str, Any]:
    from azml.data.fetch import datastore_location, download_prefix

    match = DATASTORE_URI.fullmatch(uri)
    if not match:
        raise UsageError(f"output '{name}' is at {uri}, not on a datastore azml can read")
    try:
        store = workspace.client.datastores.get(match.group("store"))
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"looking up datastore '{match.group('store')}'", exc) from None
    location, credential = datastore_location(
        settings, str(store.account_name), str(store.container_name),
        endpoint=getattr(store, "endpoint", None), protocol=getattr(store, "protocol", None))
    result = download_prefix(settings, location, match.group("path"), target, credential=credential, out=out)
    return {"kind": "output", "name": name, "datastore": match.group("store"), "path": match.group("path"),
            "local": str(target), "files": result.files, "bytes": result.bytes}


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip()
    return cleaned if cleaned not in ("", ".", "..") else "_"
