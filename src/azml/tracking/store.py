"""Recording local runs in the MLflow store: the calls the local runner makes.

A local pipeline run is an MLflow run (the parent) in the experiment the user
named; each step run is a child run (tag ``mlflow.parentRunId``), as AzureML
shows a pipeline run and its step runs. Writes go through the tracking server's
REST API (:mod:`azml.runtime.mlflowrest`, no MLflow import here); reads for
``status``/``metrics``/``models`` go to the SQLite file directly (see
:mod:`azml.tracking.reads`), so they need no server.

Nothing here raises into a run: a failing store is remembered in
:attr:`Tracking.problem` (a sentence naming the file) and every later call is
skipped, so the run completes and can say its metrics were not recorded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azml.errors import ModelPathError, TrackingUnavailable
from azml.runtime import mlflowrest
from azml.runtime.localrun import AZML_RUN_TAG, INPUTS_TAG, PARENT_TAG
from azml.tracking import server

STEP_RUN_TAG = "azml.step_run_id"
STEP_ID_TAG = "azml.step_id"
REUSED_TAG = "azml.reused_from"
STATUS = {"Completed": "FINISHED", "Reused": "FINISHED", "Failed": "FAILED",
          "Canceled": "KILLED", "NotStarted": "KILLED"}


@dataclass
class PipelineHandle:
    """The MLflow side of one local pipeline run."""

    local_run_id: str
    experiment: str
    experiment_id: str = ""
    mlflow_run_id: str = ""
    steps: dict[str, str] = field(default_factory=dict)  # step run id -> MLflow run id
    pending: dict[str, Future[Any]] = field(default_factory=dict)  # child runs being created


class Tracking:
    """The tracking store of one AZML_HOME, as the local runner uses it."""

    def __init__(self, home: str | os.PathLike[str], timeout: float = server.READY_TIMEOUT,
                 idle: str | None = None) -> None:
        self.layout = server.Layout.of(home)
        self.problem = ""
        self.client: mlflowrest.Client | None = None
        #: one worker: child runs are created ahead of their steps, ends are sent behind
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="azml-tracking")
        try:
            info = server.ensure_server(home, idle)
            self.client = mlflowrest.Client(info.uri, timeout=timeout)
        except TrackingUnavailable as exc:
            self.problem = str(exc)
        except OSError as exc:
            self.problem = f"tracking store {self.layout.db}: {exc}"

    @property
    def uri(self) -> str:
        return self.client.uri if self.client else ""

    def _fail(self, exc: Exception) -> None:
        if not self.problem:
            self.problem = f"tracking store {self.layout.db}: {exc}"
        self.client = None

    # -- the runner's calls ----------------------------------------------------------

    def start_pipeline_run(self, experiment: str, local_run_id: str,
                           tags: Mapping[str, str] | None = None,
                           steps: Sequence[tuple[str, str, str]] = ()) -> PipelineHandle:
        """Create the parent run; a handle (empty on failure, see :attr:`problem`).

        ``steps`` (step id, step run id, name) lets the child runs be created in the
        background while the run prepares, so :meth:`start_step_run` rarely waits.
        """
        handle = PipelineHandle(local_run_id, experiment)
        if self.client is None:
            return handle
        try:
            handle.experiment_id = self.client.experiment_id(experiment) or ""
            run = self.client.create_run(handle.experiment_id, local_run_id,
                                         {AZML_RUN_TAG: local_run_id, **dict(tags or {})})
            handle.mlflow_run_id = str(run["info"]["run_id"])
        except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
            self._fail(exc)
            return handle
        for step_id, step_run_id, name in steps:
            handle.pending[step_run_id] = self._worker.submit(
                self._create_child, handle, step_id, step_run_id, name)
        return handle

    def _create_child(self, handle: PipelineHandle, step_id: str, step_run_id: str,
                      name: str, inputs: Mapping[str, str] | None = None) -> str:
        client = self.client
        if client is None:
            return ""
        tags = {AZML_RUN_TAG: handle.local_run_id, STEP_RUN_TAG: step_run_id,
                STEP_ID_TAG: step_id, PARENT_TAG: handle.mlflow_run_id,
                INPUTS_TAG: json.dumps(dict(inputs or {}))}
        try:
            run = client.create_run(handle.experiment_id, name, tags)
        except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
            self._fail(exc)
            return ""
        handle.steps[step_run_id] = str(run["info"]["run_id"])
        return handle.steps[step_run_id]

    def _later(self, call: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                call()
            except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
                self._fail(exc)

        self._worker.submit(guarded)

    def close(self) -> str:
        """Wait for queued writes; the problem sentence ('' when all was recorded)."""
        self._worker.shutdown(wait=True)
        return self.problem

    def start_step_run(self, handle: PipelineHandle, step_id: str, step_run_id: str, name: str,
                       inputs: Mapping[str, str] | None = None) -> dict[str, str]:
        """Create the step's child run; the variables the step process gets.

        ``inputs`` maps named inputs delivered by mount or download to their local
        paths (what ``Run.get_context().input_datasets`` returns). The variables are
        the ones AzureML sets in a job (``MLFLOW_TRACKING_URI``, ``MLFLOW_RUN_ID``,
        ``MLFLOW_EXPERIMENT_NAME``, ``MLFLOW_EXPERIMENT_ID``), empty when tracking failed.
        """
        if self.client is None or not handle.mlflow_run_id:
            return {}
        pending = handle.pending.pop(step_run_id, None)
        child = pending.result() if pending is not None else ""
        if not child:
            child = self._create_child(handle, step_id, step_run_id, name, inputs)
        elif inputs and self.client is not None:
            try:
                self.client.set_tag(child, INPUTS_TAG, json.dumps(dict(inputs)))
            except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
                self._fail(exc)
        if not child or self.client is None:
            return {}
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_RUN_ID": child,
                "MLFLOW_EXPERIMENT_NAME": handle.experiment,
                "MLFLOW_EXPERIMENT_ID": handle.experiment_id}

    def end_step_run(self, handle: PipelineHandle, step_run_id: str, status: str) -> None:
        """Close the step's child run with its final azml status (Completed, Failed...)."""
        child = handle.steps.get(step_run_id)
        client = self.client
        if client is None or not child:
            return
        self._later(lambda: client.update_run(child, STATUS.get(status, "FAILED")))

    def record_reused_step(self, handle: PipelineHandle, step_id: str, step_run_id: str,
                           name: str, reused_from: str) -> None:
        """A reused step: a finished child run carrying the original's latest metrics."""
        if self.client is None or not handle.mlflow_run_id:
            return
        from azml.tracking import reads

        self.start_step_run(handle, step_id, step_run_id, name)
        child = handle.steps.get(step_run_id)
        if not child or self.client is None:
            return
        metrics = [{"key": k, "value": v, "timestamp": mlflowrest.now_ms(), "step": 0}
                   for k, v in reads.latest_metrics(self.layout.db, reused_from).items()]
        try:
            self.client.log_batch(child, metrics, tags={REUSED_TAG: reused_from})
            self.client.update_run(child, "FINISHED")
        except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
            self._fail(exc)

    def end_pipeline_run(self, handle: PipelineHandle, status: str) -> None:
        client = self.client
        if client is None or not handle.mlflow_run_id:
            return
        self._later(lambda: client.update_run(handle.mlflow_run_id, STATUS.get(status, "FAILED")))

    # -- model registration -------------------------------------------------------------

    def register_model(self, handle: PipelineHandle, step_run_id: str, name: str,
                       path: str | os.PathLike[str], tags: Mapping[str, str] | None = None
                       ) -> int | None:
        """Register ``path`` (a file or folder of a step's output) as a new version of ``name``.

        The files are linked (or copied) into the step run's artifacts, the version
        points at them and carries the run id, the step's latest metrics (as
        ``metric.<name>`` tags) and ``tags``. Returns the version, or None on failure.
        """
        child = handle.steps.get(step_run_id)
        if self.client is None or not child:
            return None
        from azml.tracking import reads

        try:
            run = self.client.get_run(child)
            artifact_uri = str(run["info"]["artifact_uri"])
            target = self._artifact_dir(artifact_uri) / "model" / name
            _link_tree(Path(path), target)
            try:
                self.client.call("POST", "registered-models/create", {"name": name})
            except mlflowrest.RestError as exc:
                if exc.code != "RESOURCE_ALREADY_EXISTS":
                    raise
            metrics = reads.latest_metrics(self.layout.db, step_run_id)
            all_tags = {**{f"metric.{k}": repr(v) for k, v in metrics.items()},
                        STEP_RUN_TAG: step_run_id, AZML_RUN_TAG: handle.local_run_id,
                        **dict(tags or {})}
            body = {"name": name, "source": f"{artifact_uri}/model/{name}", "run_id": child,
                    "tags": [{"key": k, "value": str(v)} for k, v in all_tags.items()]}
            version = self.client.call("POST", "model-versions/create", body)
            return int(version["model_version"]["version"])
        except (mlflowrest.RestError, mlflowrest.TransportError, OSError) as exc:
            self._fail(exc)
            return None

    def _artifact_dir(self, artifact_uri: str) -> Path:
        relative = artifact_uri.split(":", 1)[1].lstrip("/")
        return self.layout.artifacts / relative


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link ``source`` (file or folder) to ``target``; copy across file systems."""
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        _link(source, target)
        return
    for root, _dirs, files in os.walk(source):
        for file in files:
            src = Path(root) / file
            dst = target / src.relative_to(source)
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link(src, dst)


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def model_path(outputs: Mapping[str, str | os.PathLike[str]], path: str) -> Path:
    """The file or folder ``path`` names: ``<output>[/<inside>]`` of a finished step.

    Raises:
        ModelPathError: no such output, or nothing at that path after the step.
    """
    output, _, inside = path.strip("/").partition("/")
    if output not in outputs:
        raise ModelPathError(path, f"the step has no output '{output}' "
                                   f"(its outputs: {', '.join(sorted(outputs)) or 'none'})")
    full = Path(outputs[output]) / inside if inside else Path(outputs[output])
    if not full.exists():
        raise ModelPathError(path, f"nothing at {full} after the step")
    return full


