"""Submitted v2 pipeline jobs: submit, follow, status, cancel, logs.

Requests, as azure-ai-ml 1.35.2 sends them (recorded by the tests' stand-in):

* submit (``jobs.create_or_update``): per node an anonymous environment
  (``PUT environments/CliV2AnonymousEnvironment/versions/<hash>``), the code snapshot
  (``GET codes/<id>/versions?hash=..`` then ``POST .../startPendingUpload``, blob
  ``HEAD``/``PUT``/``PUT ?comp=metadata`` through the SAS it returns, ``PUT codes/<id>/
  versions/1``), an anonymous component (``PUT components/azureml_anonymous/versions/
  <hash>``), ``GET computes/<name>`` for a named cluster, then ``PUT jobs/<name>``
  (api-version 2024-01-01-preview) with an ``x-azureml-token`` header;
* ``jobs.get``: ``GET jobs/<name>``; a pipeline child answers there without
  properties, and the SDK reads it from run history (``GET /history/v1.0/.../runs/<id>``)
  after the workspace's discovery document (``GET workspaces/<ws>`` -> ``discoveryUrl``);
* children (``jobs.list(parent_job_name=..)``): ``GET /history/v1.0/.../runs/<id>/children``;
* cancel (``jobs.begin_cancel``): ``POST jobs/<name>/cancel`` -> 202 + ``Location``, polled;
* logs: run history ``GET .../runs/<id>/details`` -> ``logFiles`` (SAS URLs), downloaded.

A run ends in one of :data:`FINAL_STATES`; only ``Completed`` is success.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from azml.errors import AzureServiceError, RunFailedError, RunNotFoundError
from azml.targets.azureml_v2._sdk import error_text, require_sdk
from azml.targets.azureml_v2.workspace import Workspace
from azml.targets.remote import follow

#: JobStatus values after which nothing changes (REST spec JobStatus; SDK JobStatus).
FINAL_STATES = frozenset({"Completed", "Failed", "Canceled", "NotResponding"})
POLL_SECONDS = 10.0
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def _status(job: Any) -> str:
    value = getattr(job, "status", None)
    return str(getattr(value, "value", value) or "Unknown")


@dataclass
class V2Run:
    """A submitted pipeline job and the child jobs seen so far (node name -> job name)."""

    workspace: Workspace
    name: str
    studio_url: str
    out: TextIO = field(default=sys.stdout, repr=False)
    poll: float = POLL_SECONDS
    children: dict[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The pipeline job's name (v1's run id; the same handle API)."""
        return self.name

    @property
    def steps(self) -> dict[str, str]:
        """Child job names by node name, as seen so far."""
        return self.children

    @property
    def status(self) -> str:
        return _status(_get(self.workspace, self.name))

    def cancel(self, step: str | None = None, timeout: float = 300.0) -> str:
        """Cancel the pipeline job, or the child job of node ``step``; a sentence with the outcome."""
        name = self.name if step is None else child_job_name(self.workspace, self.name, step)
        return cancel_job(self.workspace, name, timeout=timeout, poll=self.poll)

    def child_jobs(self) -> list[Any]:
        """The child jobs as the service lists them now."""
        try:
            return list(self.workspace.client.jobs.list(parent_job_name=self.name))
        except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
            raise _service_error(f"listing the child jobs of {self.name}", exc) from None

    def refresh_children(self) -> dict[str, str]:
        """Record (and print) child jobs created since the last look."""
        for child in self.child_jobs():
            node = (child.properties or {}).get("azureml.nodeid") or child.display_name
            if node not in self.children:
                self.children[node] = child.name
                print(f"  step {node}: job {child.name}", file=self.out, flush=True)
        return self.children

    def wait(self, timeout: float | None = None, clock: Callable[[], float] = time.monotonic) -> str:
        """Follow the job to a final state (or ``timeout`` seconds); returns the last status."""
        def poll_status() -> str:
            self.refresh_children()
            return self.status

        return follow(poll_status, FINAL_STATES, f"pipeline job {self.name}", self.out,
                      poll=self.poll, timeout=timeout, clock=clock)

    def failed_steps(self) -> list[str]:
        return sorted((child.properties or {}).get("azureml.nodeid") or child.name
                      for child in self.child_jobs() if _status(child) in ("Failed", "NotResponding"))

    def raise_unless_completed(self, status: str) -> None:
        """RunFailedError (exit 1) unless ``status`` is ``Completed``."""
        if status != "Completed":
            raise RunFailedError(self.name, status, self.failed_steps())


def submit_job(workspace: Workspace, job: Any, experiment_name: str, *, out: TextIO = sys.stdout,
               poll: float = POLL_SECONDS) -> V2Run:
    """Submit the PipelineJob ``job`` to ``experiment_name``; print its name, studio URL, steps."""
    require_sdk("Submitting to AzureML (SDK v2)")
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            created = workspace.client.jobs.create_or_update(job, experiment_name=experiment_name)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        raise _service_error(f"submitting pipeline job to experiment '{experiment_name}'", exc) from None
    finally:
        _pass_on(said.getvalue())
    run = V2Run(workspace, created.name, created.studio_url or "", out=out, poll=poll)
    print(f"Submitted pipeline job {run.name} to experiment '{experiment_name}'", file=out)
    if run.studio_url:
        print(f"  studio: {run.studio_url}", file=out)
    run.refresh_children()
    return run


def _pass_on(text: str) -> None:
    """What the SDK wrote to stderr while submitting, without its colour resets and blank lines.

    azure-ai-ml 1.35 prints ``Fore.RESET + "\\n"`` to stderr after each code upload
    (``_artifacts/_blob_storage_helper.py``) even with ``show_progress=False``.
    """
    for line in text.splitlines():
        if _ESCAPES.sub("", line).strip():
            print(line, file=sys.stderr)


def job_status(workspace: Workspace, name: str) -> dict[str, Any]:
    """Status of job ``name`` and, for a pipeline job, of each child job (by node)."""
    job = _get(workspace, name)
    record: dict[str, Any] = {"name": name, "status": _status(job),
                              "type": str(getattr(job, "type", "") or ""), "steps": []}
    if record["type"] == "pipeline":
        run = V2Run(workspace, name, getattr(job, "studio_url", "") or "")
        record["steps"] = sorted(
            ({"step": (c.properties or {}).get("azureml.nodeid") or c.display_name, "job": c.name,
              "status": _status(c)} for c in run.child_jobs()), key=lambda s: str(s["step"]))
    return record


def child_job_name(workspace: Workspace, parent: str, step: str) -> str:
    """The child job of pipeline job ``parent`` for ``step`` (a step id, node name or child job name)."""
    from azml.errors import StepNotFoundError
    from azml.plan import node_name

    run = V2Run(workspace, parent, "")
    _get(workspace, parent)  # RunNotFoundError for an unknown job
    children = {str((c.properties or {}).get("azureml.nodeid") or c.display_name): str(c.name)
                for c in run.child_jobs()}
    for wanted in (step, node_name(step)):
        if wanted in children:
            return children[wanted]
    if step in children.values():
        return step
    raise StepNotFoundError(parent, step, sorted(children))


def cancel_job(workspace: Workspace, name: str, *, timeout: float = 300.0,
               poll: float = POLL_SECONDS, clock: Callable[[], float] = time.monotonic) -> str:
    """Cancel job ``name`` (a pipeline job or one child job); wait for a final state."""
    status = _status(_get(workspace, name))
    if status in FINAL_STATES:
        return f"Job {name} had already ended ({status}); nothing to cancel."
    try:
        workspace.client.jobs.begin_cancel(name).result(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        if type(exc).__name__ != "TimeoutError":
            raise _service_error(f"cancelling job {name}", exc) from None
    deadline = clock() + timeout
    while True:
        status = _status(_get(workspace, name))
        if status in FINAL_STATES:
            return f"Job {name}: cancel requested; final state {status}."
        if clock() >= deadline:
            return (f"Job {name}: cancel requested; still {status} after {timeout:g} s "
                    "(timed out waiting for a final state).")
        time.sleep(poll)


def job_logs(workspace: Workspace, name: str, out: TextIO = sys.stdout) -> list[str]:
    """Print the user logs of job ``name`` (a child job: ``user_logs/std_log*.txt``).

    Uses the SDK's run-history client and log-file filter (as ``jobs.stream`` does,
    which refuses pipeline child jobs). Returns the names of the files printed.
    """
    _get(workspace, name)  # RunNotFoundError for an unknown name
    from azure.ai.ml._utils.utils import create_requests_pipeline_with_retry, download_text_from_url
    from azure.ai.ml.operations._job_ops_helper import _get_sorted_filtered_logs

    jobs = workspace.client.jobs
    try:
        details = jobs._runs_operations.get_run_details(name)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        raise _service_error(f"reading the logs of job {name}", exc) from None
    files = details.log_files or {}
    names = _get_sorted_filtered_logs(files, "command", only_streamable=False)
    pipeline = create_requests_pipeline_with_retry(requests_pipeline=jobs._requests_pipeline)
    for log in names:
        print(f"==> {log} <==", file=out)
        out.write(download_text_from_url(files[log], pipeline))
    return names


def _get(workspace: Workspace, name: str) -> Any:
    try:
        return workspace.client.jobs.get(name)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        if getattr(exc, "status_code", None) == 404 or "ResourceNotFound" in type(exc).__name__:
            raise RunNotFoundError(name, f"workspace '{workspace.config.workspace_name}'") from None
        raise _service_error(f"looking up job {name}", exc) from None


def _service_error(action: str, exc: Exception) -> AzureServiceError:
    return AzureServiceError(action, error_text(exc))
