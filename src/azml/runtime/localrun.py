"""What ``azureml.core.Run.get_context()`` returns inside a local azml step.

AzureML hands a step its run; offline, the SDK returns a run whose ``log()``
prints and drops the value. In a local azml step (see :mod:`.runhook`) the SDK's
``get_context`` returns a :class:`LocalRun` instead: the same methods, recorded
in the local MLflow tracking server the step's ``MLFLOW_TRACKING_URI`` names,
under the MLflow run ``MLFLOW_RUN_ID`` (the step's child run), so values logged
here and through ``mlflow.log_metric`` land in one place.

Validation is the SDK's own: this module is only active when ``azureml.core``
has been imported, so it builds the SDK's metric objects (``ScalarMetric``,
``ListMetric``, ...) and their v2 DTOs, which raise exactly the exceptions
AzureML raises. What the *service* refuses (a list or table of more than 250
values) is, as on AzureML, a warning on stderr and the metric is dropped.

Writes are queued and sent in batches by a background thread (AzureML's SDK
batches too), so a ``log`` call costs microseconds; the queue is flushed at
exit and before any read. Standard library only (plus the azureml SDK that
activated it).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from . import mlflowrest

#: AzureML's service limit on the values of one list or table metric
#: (``FieldName=MetricV2Dto.Value/Count, Limit=250``).
MAX_METRIC_VALUES = 250
FLUSH_SECONDS = 0.5
KIND_TAG = "azml.metric_kind."
TEXT_TAG = "azml.metric_text."
INPUTS_TAG = "azml.input_datasets"
AZML_RUN_TAG = "azml.run_id"
PARENT_TAG = "mlflow.parentRunId"


class Experiment:
    """``run.experiment`` of a local run: its name; no workspace behind it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def workspace(self) -> Any:
        raise RuntimeError(
            f"experiment '{self.name}' is a local azml run: it has no AzureML workspace "
            "(Run.get_context().experiment.workspace exists only on AzureML)")

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name}, Workspace: local)"


class _Sender:
    """The per-process queue of writes to the tracking server."""

    def __init__(self, client: mlflowrest.Client) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.pending: list[tuple[str, dict[str, Any] | None, dict[str, str] | None]] = []
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.warned = False

    def put(self, run_id: str, metric: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None) -> None:
        with self.lock:
            self.pending.append((run_id, metric, tags))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="azml-metrics",
                                               daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            self.wake.wait(FLUSH_SECONDS)
            self.wake.clear()
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        by_run: dict[str, tuple[list[dict[str, Any]], dict[str, str]]] = {}
        for run_id, metric, tags in batch:
            metrics, merged = by_run.setdefault(run_id, ([], {}))
            if metric is not None:
                metrics.append(metric)
            merged.update(tags or {})
        for run_id, (metrics, merged) in by_run.items():
            try:
                self.client.log_batch(run_id, metrics, tags=merged)
            except (mlflowrest.RestError, mlflowrest.TransportError) as exc:
                self._warn(f"{len(metrics)} metric value(s) of run {run_id} were not "
                           f"recorded: {exc}")

    def _warn(self, text: str) -> None:
        sys.stderr.write(f"azml tracking: {text}\n")
        sys.stderr.flush()

    def reset_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.pending = []
        self.wake = threading.Event()
        self.thread = None


class LocalRun:
    """A step run (or its pipeline run, as ``parent``) recorded in the local store.

    Attributes match AzureML's ``Run`` where a script uses them: ``id``,
    ``parent``, ``experiment.name``, ``input_datasets``, ``type``.
    """

    def __init__(self, sender: _Sender, run_id: str, mlflow_run_id: str, experiment: str,
                 run_type: str = "azureml.StepRun") -> None:
        self._sender = sender
        self._client = sender.client
        self._run_id = run_id
        self._mlflow_run_id = mlflow_run_id
        self._experiment = Experiment(experiment)
        self._type = run_type
        self._info: dict[str, Any] | None = None
        self._parent: LocalRun | None = None
        self._counters: dict[str, int] = {}
        self._texts: dict[str, list[Any]] = {}

    def __repr__(self) -> str:
        return (f"Run(Experiment: {self._experiment.name}, Id: {self._run_id}, "
                f"Type: {self._type}, Status: Running, Local: azml)")

    # -- identity ----------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._run_id

    @property
    def type(self) -> str:
        return self._type

    @property
    def experiment(self) -> Experiment:
        return self._experiment

    @property
    def name(self) -> str:
        return str(self._tags().get("mlflow.runName", self._run_id))

    display_name = name

    @property
    def parent(self) -> LocalRun | None:
        """The pipeline run, as on AzureML (``None`` for the pipeline run itself)."""
        if self._parent is None:
            tags = self._tags()
            parent_id = tags.get(PARENT_TAG)
            if parent_id:
                parent_tags = _tag_map(self._client.get_run(parent_id))
                self._parent = LocalRun(self._sender, parent_tags.get(AZML_RUN_TAG, parent_id),
                                        parent_id, self._experiment.name, "azureml.PipelineRun")
        return self._parent

    @property
    def input_datasets(self) -> dict[str, str]:
        """Named inputs delivered by mount or download: the local path of each."""
        return dict(json.loads(self._tags().get(INPUTS_TAG) or "{}"))

    def get_status(self) -> str:
        return "Running"

    def _tags(self) -> dict[str, str]:
        if self._info is None:
            self._info = self._client.get_run(self._mlflow_run_id)
        return _tag_map(self._info)

    # -- metrics -------------------------------------------------------------------

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """A scalar; logging a name again appends to its series, as on AzureML."""
        if isinstance(value, (list, range)) or _is_generator(value):
            _raise_user_error("run.log does not support list type. Use run.log_list instead")
        cells, _ = _checked("scalar", name, value, step=step)
        self._record(name, "scalar", cells, step)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        cells, _ = _checked("list", name, value)
        self._record(name, "list", cells, None)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        cells, _ = _checked("row", name, kwargs)
        self._record(name, "table", cells, None)

    def log_table(self, name: str, value: Any, description: str = "") -> None:
        cells, _ = _checked("table", name, value)
        self._record(name, "table", cells, None)

    def log_image(self, name: str, path: Any = None, plot: Any = None,
                  description: str = "") -> None:
        """An image file or a matplotlib figure, stored as an artifact of the run."""
        uploads = _image_upload(name, path, plot)
        artifact_uri = str(self._run_info()["info"]["artifact_uri"])
        for artifact_path, data, content_type in uploads:
            self._client.upload_artifact(artifact_uri, artifact_path, data, content_type)
            self._sender.put(self._mlflow_run_id, tags={KIND_TAG + name: "image",
                                                        TEXT_TAG + name: artifact_path})

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> Any:
        """Store a file (path or binary stream) as artifact ``name`` of the run."""
        if isinstance(path_or_stream, (str, os.PathLike)):
            with open(path_or_stream, "rb") as handle:
                data = handle.read()
        else:
            data = path_or_stream.read()
            data = data.encode() if isinstance(data, str) else data
        self._client.upload_artifact(str(self._run_info()["info"]["artifact_uri"]), name, data)
        return None

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        for root, _dirs, files in os.walk(path):
            for file in sorted(files):
                full = os.path.join(root, file)
                self.upload_file(name + "/" + os.path.relpath(full, path).replace(os.sep, "/"), full)

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Any) -> None:
        """Tags as on AzureML: a dict, or a bare string (a tag without value)."""
        if isinstance(tags, str):
            tags = {tags: None}
        clean = {str(k): "" if v is None else str(v) for k, v in dict(tags).items()}
        self._client.log_batch(self._mlflow_run_id, tags=clean)
        self._info = None

    def get_tags(self) -> dict[str, str]:
        self.flush()
        self._info = None
        return {k: v for k, v in self._tags().items()
                if not k.startswith(("mlflow.", "azml."))}

    def get_metrics(self, name: str | None = None, recursive: bool = False,
                    run_type: str | None = None, populate: bool = False) -> dict[str, Any]:
        """Logged metrics as AzureML returns them: one value, or a list for a series."""
        self.flush()
        self._info = None
        metrics = _read_metrics(self._client, self._run_info())
        if name is not None:
            metrics = {k: v for k, v in metrics.items() if k == name}
        return {self._run_id: metrics} if recursive else metrics

    def flush(self, timeout_seconds: int = 300) -> None:
        self._sender.flush()

    def complete(self, _set_status: bool = True) -> None:
        self.flush()

    def _run_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self._client.get_run(self._mlflow_run_id)
        return self._info

    def _record(self, name: str, kind: str, cells: list[dict[str, Any]],
                step: int | None) -> None:
        if len(cells) > MAX_METRIC_VALUES:
            _service_refused(name, len(cells))
            return
        stamp = mlflowrest.now_ms()
        tags = {KIND_TAG + name: kind}
        texts: list[Any] = []
        for cell in cells:
            for column, value in cell.items():
                key = name if kind != "table" else f"{name}/{column}"
                if _is_number(value):
                    index = step if step is not None else self._counters.get(key, 0)
                    self._counters[key] = index + 1
                    self._sender.put(self._mlflow_run_id, {"key": key, "value": float(value),
                                                           "timestamp": stamp, "step": index})
                else:
                    texts.append(value if kind != "table" else {column: value})
        if texts:
            self._texts.setdefault(name, []).extend(texts)
            tags[TEXT_TAG + name] = json.dumps(self._texts[name][-50:], default=str)[:5000]
        self._sender.put(self._mlflow_run_id, tags=tags)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        raise AttributeError(
            f"Run.{attribute} is not available in a local azml step (azml records log, "
            "log_list, log_row, log_table, log_image, upload_file, tag, set_tags, get_metrics, "
            "id, parent, experiment.name and input_datasets locally)")


# -- validation through the SDK's own metric classes -----------------------------------


def _checked(kind: str, name: str, value: Any, step: int | None = None
             ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Cells (one dict per value) of a metric, validated and converted by azureml."""
    try:
        from azureml.core import _metrics as sdk
    except ImportError:  # pragma: no cover - the hook only runs once azureml.core is loaded
        return _fallback_cells(kind, name, value), {}
    if kind == "scalar":
        dto = sdk.ScalarMetric(name, value, step=step).create_v2_dto()
    elif kind == "list":
        dto = sdk.ListMetric(name, value).create_v2_dto()
    elif kind == "row":
        dto = sdk.RowMetric(name, value).create_v2_dto()
    else:
        dto = sdk.TableMetric(name, value).create_v2_dto()
    if dto is None:  # an empty list or table: the SDK sends nothing
        return [], {}
    return [dict(v.data) for v in dto.value], dict(dto.columns)


def _fallback_cells(kind: str, name: str, value: Any) -> list[dict[str, Any]]:
    if kind == "scalar":
        return [{name: value}]
    if kind == "list":
        return [{name: v} for v in value]
    columns = {k: (v if isinstance(v, list) else [v]) for k, v in dict(value).items()}
    length = max((len(v) for v in columns.values()), default=0)
    return [{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(length)]


def _raise_user_error(message: str) -> None:
    try:
        from azureml.exceptions import UserErrorException
    except ImportError:  # pragma: no cover
        raise ValueError(message) from None
    raise UserErrorException(message)


def _service_refused(name: str, size: int) -> None:
    """What the AzureML SDK logs when the service refuses a metric (it does not raise)."""
    message = (f"A field of the entity is over the size limit. FieldName=MetricV2Dto.Value/Count, "
               f"Limit={MAX_METRIC_VALUES}, Size={size}. See https://aka.ms/azure-machine-learning-"
               "limits for service limits documentation.")
    sys.stderr.write(f"Metrics Client: Failed to post metric with name {name} due to the "
                     f"following error \"{message}\"\n")
    sys.stderr.flush()


def _image_upload(name: str, path: Any, plot: Any) -> list[tuple[str, bytes, str]]:
    """(artifact path, bytes, content type) for ``log_image``, checked as the SDK checks."""
    from azureml._run_impl import run_history_facade as facade

    captured: list[tuple[str, bytes, str]] = []

    class _Capture:
        def upload_artifact(self, source: Any, origin: str, container: str, artifact_path: str,
                            content_type: str = "application/octet-stream") -> None:
            if isinstance(source, (str, os.PathLike)):
                with open(source, "rb") as handle:
                    data = handle.read()
            else:
                source.seek(0)
                data = source.read()
            captured.append((f"images/{os.path.basename(str(artifact_path))}", data, content_type))

    class _Facade:
        artifacts = _Capture()
        _origin = "ExperimentRun"
        _data_container_id = "local"

        def _log_metric_v2(self, metric: Any, is_plot: bool = False) -> None:
            metric.log_to_artifact(self.artifacts, self._origin, self._data_container_id,
                                   is_plot=is_plot)

        _log_metric = _log_metric_v2

    facade.RunHistoryFacade.log_image(_Facade(), name, path=path, plot=plot)
    return captured


# -- reading back ----------------------------------------------------------------------


def _read_metrics(client: mlflowrest.Client, run: Mapping[str, Any]) -> dict[str, Any]:
    run_id = str(run["info"]["run_id"])
    tags = _tag_map(run)
    kinds = {k[len(KIND_TAG):]: v for k, v in tags.items() if k.startswith(KIND_TAG)}
    out: dict[str, Any] = {}
    keys = [m["key"] for m in run.get("data", {}).get("metrics", [])]
    for key in keys:
        table, _, column = key.partition("/")
        values = [m["value"] for m in sorted(client.metric_history(run_id, key),
                                             key=lambda m: (m.get("step", 0), m["timestamp"]))]
        if column and kinds.get(table) == "table":
            out.setdefault(table, {})[column] = values if len(values) != 1 else values[0]
        else:
            out[key] = values if len(values) != 1 else values[0]
    for name, kind in kinds.items():
        text = tags.get(TEXT_TAG + name)
        if text is None or name in out:
            continue
        out[name] = text if kind == "image" else _one_or_list(json.loads(text))
    return out


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _tag_map(run: Mapping[str, Any]) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_generator(value: Any) -> bool:
    import inspect

    return inspect.isgenerator(value) or inspect.isgeneratorfunction(value)


# -- the one run of this process -------------------------------------------------------

_CURRENT: LocalRun | None = None
_LOCK = threading.Lock()


def current(environ: Mapping[str, str] = os.environ) -> LocalRun:
    """This step's run (one per process), built from the step's MLFLOW_* / AZUREML_* variables."""
    global _CURRENT
    with _LOCK:
        if _CURRENT is None:
            sender = _Sender(mlflowrest.Client(environ["MLFLOW_TRACKING_URI"]))
            _CURRENT = LocalRun(sender, environ["AZUREML_RUN_ID"], environ["MLFLOW_RUN_ID"],
                                environ.get("MLFLOW_EXPERIMENT_NAME", ""))
            atexit.register(sender.flush)
            os.register_at_fork(after_in_child=sender.reset_after_fork)
        return _CURRENT


def get_context_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    """A classmethod body for ``Run.get_context`` that returns :func:`current`."""

    def get_context(cls: Any, allow_offline: bool = True, used_for_context_manager: bool = False,
                    **kwargs: Any) -> Any:
        return current()

    get_context.__doc__ = getattr(original, "__doc__", None)
    get_context.__wrapped__ = original  # type: ignore[attr-defined]
    return get_context

