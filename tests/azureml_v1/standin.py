"""A local stand-in for the part of the AzureML service the SDK talks to.

Runs an ``http.server`` on 127.0.0.1 in a thread and answers the REST routes that
azureml-core / azureml-pipeline-core (1.6x) call for: service discovery, the
datastore service, the pipelines (AEVA) service, run history and snapshots.
Every request is recorded in :attr:`StandIn.calls`, so tests assert on what the
SDK sent. State is kept in memory; nothing is executed.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from standin_ops import advance, install_ops_routes, install_publish_routes

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "azml-rg"
WORKSPACE = "azml-ws"
WORKSPACE_ID = "5e1f0000-0000-4000-8000-00000000a2ed"


@dataclass
class Call:
    """One request the SDK made."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str] = field(repr=False, default_factory=dict)


Route = tuple[str, "re.Pattern[str]", Callable[..., tuple[int, Any]]]


@dataclass(frozen=True)
class Raw:
    """A response body sent as bytes (a blob), not as JSON."""

    data: bytes


class StandIn:
    """The stand-in service; ``with StandIn() as svc:`` starts and stops it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.unknown: list[Call] = []
        self.state: dict[str, dict[str, Any]] = {
            "datastores": {}, "datasources": {}, "modules": {}, "graphs": {}, "saved_datasets": {},
            "pipeline_runs": {}, "runs": {}, "datatypes": {}, "computes": {}, "registered_datasets": {},
        }
        self.lock = threading.Lock()
        self.run_counter = 0
        #: when True, canceled runs stay ``Canceling`` forever
        self.cancel_sticks = False
        #: log files of runs: run id -> {log name: text}, served as the run's logFiles
        self.logs: dict[str, dict[str, str]] = {}
        #: scripted progress of runs: each read of a run's details applies the next stage
        #: (see standin_ops.advance)
        self.stages: dict[str, list[dict[str, Any]]] = {}
        #: injected errors: (method, path fragment, status, body), each answered once
        self.failures: list[tuple[str, str, int, Any]] = []
        self.routes: list[Route] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> StandIn:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/discovery"

    # -- run bookkeeping ---------------------------------------------------

    def start_runs(self, pipeline_run: dict[str, Any], query: dict[str, list[str]]) -> None:
        """Create the run-history records the service creates on submission.

        The pipeline run starts ``Running``; each module node gets a step run,
        ``Running`` when it has no upstream step, else ``Queued``.
        """
        experiment = pipeline_run.get("RunHistoryExperimentName") or "experiment"
        runs = self.state["runs"]
        runs[pipeline_run["Id"]] = self._run_dto(pipeline_run["Id"], experiment, "azureml.PipelineRun",
                                                 "Running", pipeline_run.get("Description") or experiment)
        graph = pipeline_run.get("Graph") or {}
        targets = {e["DestinationInputPort"]["NodeId"] for e in graph.get("Edges") or []
                   if e.get("SourceOutputPort", {}).get("NodeId") in
                   {n["Id"] for n in graph.get("ModuleNodes") or []}}
        for node in graph.get("ModuleNodes") or []:
            step_id = _new_id()
            status = "Queued" if node["Id"] in targets else "Running"
            module = self.state["modules"].get(node.get("ModuleId"), {})
            dto = self._run_dto(step_id, experiment, "azureml.StepRun", status, module.get("Name", node["Id"]),
                                parent=pipeline_run["Id"])
            dto["tags"] = {"azureml.nodeid": node["Id"], "azureml.pipeline": pipeline_run["Id"]}
            dto["properties"]["azureml.moduleid"] = node.get("ModuleId", "")
            runs[step_id] = dto

    def _run_dto(self, run_id: str, experiment: str, run_type: str, status: str, name: str,
                 parent: str | None = None) -> dict[str, Any]:
        scope = (f"/execution/v1.0/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                 f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}")
        self.run_counter += 1
        return {
            "runId": run_id, "runUuid": run_id, "runNumber": self.run_counter, "parentRunId": parent, "rootRunId": parent or run_id,
            "experimentId": f"exp-{experiment}", "status": status, "runType": run_type, "name": name,
            "displayName": name, "createdUtc": "2024-01-01T00:00:00Z", "target": "amlcompute",
            "properties": {"azureml.runsource": run_type}, "tags": {},
            "dataContainerId": f"dcid.{run_id}",
            "cancelUri": f"{self.base_url}{scope}/experiments/{experiment}/runId/{run_id}/cancel",
            "experiment": experiment,
        }

    def observe(self, record: dict[str, Any]) -> str:
        """The status a reader sees; a ``Canceling`` run becomes ``Canceled`` once seen.

        With :attr:`cancel_sticks` set, a canceling run never finishes (to test timeouts).
        """
        status = record["status"]
        if status == "Canceling" and not self.cancel_sticks:
            record["status"] = "Canceled"
        return status

    def register_dataset(self, name: str, dataflow_json: str) -> dict[str, Any]:
        """Register the next version of file dataset ``name``, as the dataset service holds it.

        ``dataflow_json`` is the definition the SDK itself writes (``FileDataset._dataflow
        .to_json()``); it is saved as the version's saved dataset. Returns the DatasetDto.
        """
        with self.lock:
            versions = self.state["registered_datasets"].setdefault(name, [])
            dataset_id = versions[0]["datasetId"] if versions else _new_id()
            saved = _new_id()
            self.state["saved_datasets"][saved] = {"id": saved, "datasetType": "file", "properties": {},
                                                   "dataflowJson": dataflow_json}
            definition = {"datasetId": dataset_id, "versionId": str(len(versions) + 1),
                          "dataflow": dataflow_json, "savedDatasetId": saved, "properties": {},
                          "fileType": "None", "createdTime": "2024-01-01T00:00:00Z"}
            dto = {"datasetId": dataset_id, "name": name, "datasetType": "file", "latest": definition,
                   "isVisible": True, "tags": {}, "description": None,
                   "createdTime": "2024-01-01T00:00:00Z", "datasetState": {"state": "active"}}
            versions.append(dto)
            return dto

    def runs_of(self, parent: str) -> list[dict[str, Any]]:
        return [r for r in self.state["runs"].values() if r.get("parentRunId") == parent]

    # -- dispatch ----------------------------------------------------------

    def handle(self, call: Call) -> tuple[int, Any]:
        with self.lock:
            self.calls.append(call)
            for failure in list(self.failures):
                method, fragment, status, body = failure
                if call.method == method and fragment.lower() in call.path.lower():
                    self.failures.remove(failure)
                    return status, body
        for method, pattern, func in self.routes:
            match = pattern.fullmatch(call.path)
            if match and method == call.method:
                with self.lock:
                    return func(call, **match.groupdict())
        with self.lock:
            self.unknown.append(call)
        return 404, {"error": {"code": "NotFound", "message": f"stand-in has no route {call.method} {call.path}"}}

    def route(self, method: str, pattern: str) -> Callable[[Callable[..., tuple[int, Any]]], Callable[..., tuple[int, Any]]]:
        def register(func: Callable[..., tuple[int, Any]]) -> Callable[..., tuple[int, Any]]:
            self.routes.append((method, re.compile(pattern, re.IGNORECASE), func))
            return func
        return register

    def calls_to(self, method: str, fragment: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and fragment.lower() in c.path.lower()]


def _make_handler(service: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            parts = urlsplit(self.path)
            call = Call(self.command, parts.path, parse_qs(parts.query), body, dict(self.headers))
            status, payload = service.handle(call)
            if isinstance(payload, Raw):
                data, kind = payload.data, "application/octet-stream"
            else:
                data = b"" if payload is None else json.dumps(payload).encode()
                kind = "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


# -- the routes ----------------------------------------------------------------

_WS = (r"/(?P<svc>[\w-]+)/v\d\.\d/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
       r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)")
_DATA_TYPES = ("AnyFile", "AzureBlobReference", "AzureDataLakeReference", "AzureFilesReference",
               "AzureSqlDatabaseReference", "AzurePostgresDatabaseReference",
               "AzureDataLakeGen2Reference", "AzureMLDataset", "AzureMySqlDatabaseReference",
               "DBFSReference", "AnyDirectory")
TERMINAL = ("Completed", "Failed", "Canceled")
#: the log folders run history itself lists in a run's details (``logFiles``)
RH_LOG_PREFIXES = ("azureml-logs/", "logs/")


def _new_id() -> str:
    return str(uuid.uuid4())


def compute_dto(name: str, vm_size: str = "Standard_D2_v2", max_nodes: int = 2) -> dict[str, Any]:
    """An existing AmlCompute cluster, as the compute resource provider returns it."""
    return {
        "id": f"/subscriptions/x/resourceGroups/x/providers/Microsoft.MachineLearningServices/"
              f"workspaces/x/computes/{name}",
        "name": name, "location": "westeurope", "tags": None,
        "properties": {
            "computeType": "AmlCompute", "description": None, "resourceId": None,
            "provisioningState": "Succeeded", "provisioningErrors": None, "isAttachedCompute": False,
            "properties": {"vmSize": vm_size, "vmPriority": "Dedicated", "subnet": None,
                           "scaleSettings": {"minNodeCount": 0, "maxNodeCount": max_nodes,
                                             "nodeIdleTimeBeforeScaleDown": "PT120S"}},
        },
    }


def _datastore_dto(name: str, account: str, container: str) -> dict[str, Any]:
    return {
        "name": name,
        "dataStoreType": "AzureBlob",
        "hasBeenValidated": True,
        "azureStorageSection": {
            "accountName": account, "containerName": container, "endpoint": "core.windows.net",
            "protocol": "https", "credentialType": "None",
        },
    }


def _module_view(entity: dict[str, Any]) -> dict[str, Any]:
    """A module as GET returns it: the entity and the interface derived from it."""
    si = entity.get("StructuredInterface") or {}

    def params(key: str) -> list[dict[str, Any]]:
        return [{"Name": p["Name"], "DefaultValue": p.get("DefaultValue"),
                 "IsOptional": p.get("IsOptional", True)} for p in si.get(key) or []]

    interface = {
        "Parameters": params("Parameters"),
        "MetadataParameters": params("MetadataParameters"),
        "Ports": {
            "Inputs": [{"Name": i["Name"], "DataTypesIds": i.get("DataTypeIdsList", []),
                        "IsOptional": i.get("IsOptional", False)} for i in si.get("Inputs") or []],
            "Outputs": [{"Name": o["Name"], "DataTypeId": o.get("DataTypeId")}
                        for o in si.get("Outputs") or []],
        },
    }
    return {"Data": entity, "Interface": interface}


_AEVA_STATUS = {"Completed": "Finished"}


def _pipeline_run_entity(run: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    code = _AEVA_STATUS.get(status or "", status) if status else (
        "Running" if run.get("submitted") else "NotStarted")
    return {"Id": run["Id"], "RunId": run["RunId"], "Description": run.get("Description"),
            "RunHistoryExperimentName": run.get("RunHistoryExperimentName"),
            "Status": {"StatusCode": code}}


def install_routes(svc: StandIn) -> StandIn:
    """Teach ``svc`` the routes the SDK uses; returns ``svc``."""
    st = svc.state
    st["datastores"]["workspaceblobstore"] = _datastore_dto("workspaceblobstore", "wsaccount", "azureml-blobstore")
    for t in _DATA_TYPES:
        st["datatypes"][t] = {"Id": t, "Name": t, "Description": t, "IsDirectory": t == "AnyDirectory"}

    @svc.route("GET", r"/discovery")
    def discovery(call: Call) -> tuple[int, Any]:
        keys = ("api", "experimentation", "history", "hyperdrive", "modelmanagement", "studio")
        return 200, {k: svc.base_url for k in keys}

    @svc.route("GET", r"/rp/workspaces/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                      r"Microsoft\.MachineLearningServices/workspaces/[^/]+/computes/(?P<name>[^/]+)")
    def get_compute(call: Call, name: str) -> tuple[int, Any]:
        if name in st["computes"]:
            return 200, st["computes"][name]
        return 404, {"error": {"code": "ResourceNotFound", "message": f"compute {name} not found"}}

    @svc.route("GET", _WS + r"/DataTypes")
    def data_types(call: Call, **_: str) -> tuple[int, Any]:
        return 200, list(st["datatypes"].values())

    @svc.route("GET", _WS + r"/default")
    def default_datastore(call: Call, **_: str) -> tuple[int, Any]:
        return 200, st["datastores"]["workspaceblobstore"]

    @svc.route("GET", _WS + r"/datastores/(?P<name>[^/]+)")
    def get_datastore(call: Call, name: str, **_: str) -> tuple[int, Any]:
        if name in st["datastores"]:
            return 200, st["datastores"][name]
        return 404, {"error": {"code": "UserError", "message": f"datastore {name} not found"}}

    @svc.route("POST", _WS + r"/datastores")
    def create_datastore(call: Call, **_: str) -> tuple[int, Any]:
        dto = call.body or {}
        section = dto.get("azureStorageSection") or {}
        name = dto["name"].lower()
        st["datastores"][name] = _datastore_dto(name, section.get("accountName", ""), section.get("containerName", ""))
        st["datastores"][name]["registered_with"] = sorted(k for k, v in section.items() if v)
        return 200, None

    @svc.route("GET", _WS + r"/experiments/(?P<name>[^/]+)")
    def get_experiment(call: Call, name: str, **_: str) -> tuple[int, Any]:
        return 200, {"experimentId": f"exp-{name}", "name": name}

    @svc.route("POST", _WS + r"/experiments/(?P<name>[^/]+)")
    def create_experiment(call: Call, name: str, **_: str) -> tuple[int, Any]:
        return 200, {"experimentId": f"exp-{name}", "name": name}

    @svc.route("GET", _WS + r"/snapshots/latest/metadata")
    def latest_snapshot(call: Call, **_: str) -> tuple[int, Any]:
        return 200, {"root": {}, "id": None}

    @svc.route("POST", _WS + r"/snapshots/getblob")
    def snapshot_blobs(call: Call, **_: str) -> tuple[int, Any]:
        names = (call.body or {}).get("FileNames", [])
        nodes = [{"fullName": n, "blobUri": f"{svc.base_url}/blobs/{uuid.uuid4().hex}/{n}"} for n in names]
        return 200, {"fileNodes": nodes}

    @svc.route("PUT", r"/blobs/.*")
    def put_blob(call: Call) -> tuple[int, Any]:
        return 201, None

    @svc.route("POST", _WS + r"/snapshots/(?P<sid>[0-9a-f-]+)")
    def create_snapshot(call: Call, sid: str, **_: str) -> tuple[int, Any]:
        st.setdefault("snapshots", {})[sid] = call.body
        return 200, {"id": sid}

    @svc.route("GET", _WS + r"/Modules/Hash/(?P<digest>[^/]+)")
    def module_by_hash(call: Call, digest: str, **_: str) -> tuple[int, Any]:
        for module in st["modules"].values():
            if module.get("IdentifierHash") == digest:
                return 200, _module_view(module)
        return 404, {"error": {"code": "NotFound", "message": "module not found"}}

    @svc.route("POST", _WS + r"/Modules")
    def create_module(call: Call, **_: str) -> tuple[int, Any]:
        module = dict(call.body or {})
        module["Id"] = _new_id()
        module["UploadState"] = "Completed"
        st["modules"][module["Id"]] = module
        return 200, module

    @svc.route("GET", _WS + r"/DataSources/Hash/(?P<digest>[^/]+)")
    def datasource_by_hash(call: Call, digest: str, **_: str) -> tuple[int, Any]:
        for source in st["datasources"].values():
            if source.get("IdentifierHash") == digest:
                return 200, source
        return 404, {"error": {"code": "NotFound", "message": "data source not found"}}

    @svc.route("POST", _WS + r"/DataSources")
    def create_datasource(call: Call, **_: str) -> tuple[int, Any]:
        source = dict(call.body or {})
        source["Id"] = _new_id()
        st["datasources"][source["Id"]] = source
        return 200, source

    @svc.route("POST", _WS + r"/saveddatasets")
    def save_dataset(call: Call, **_: str) -> tuple[int, Any]:
        """An unregistered dataset (a FileDataset input of a ParallelRunStep) saved at graph build."""
        body = call.body or {}
        saved = {"id": _new_id(), "datasetType": body.get("datasetType"),
                 "properties": body.get("properties") or {}, "dataflowJson": body.get("dataflowJson")}
        st["saved_datasets"][saved["id"]] = saved
        return 200, saved

    @svc.route("GET", _WS + r"/dataversion/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def dataset_definition(call: Call, name: str, version: str, **_: str) -> tuple[int, Any]:
        """A saved dataset's definition (``unregistered-<saved id>``); the stand-in has no v2
        data assets, so any other name is 404, as the SDK's fallback lookup expects."""
        sid = name.removeprefix("unregistered-")
        if name.startswith("unregistered-") and sid in st["saved_datasets"]:
            return 200, {"legacyDataflow": st["saved_datasets"][sid]["dataflowJson"]}
        return 404, {"error": {"code": "NotFound", "message": "dataset not found"}}

    @svc.route("GET", _WS + r"/datasets/query/name=(?P<name>[^/]+)")
    def dataset_by_name(call: Call, name: str, **_: str) -> tuple[int, Any]:
        """``Dataset.get_by_name``: the DatasetDto of one version (latest without versionId)."""
        versions = st["registered_datasets"].get(name, [])
        wanted = (call.query.get("versionId") or [None])[0]
        found = [v for v in versions if wanted is None or v["latest"]["versionId"] == wanted]
        if not found:
            return 404, {"error": {"code": "UserError", "message": f"dataset {name} not found"}}
        return 200, found[-1]

    @svc.route("GET", _WS + r"/Modules/(?P<mid>[0-9a-f-]{36})")
    def get_module(call: Call, mid: str, **_: str) -> tuple[int, Any]:
        if mid in st["modules"]:
            return 200, _module_view(st["modules"][mid])
        return 404, {"error": {"code": "NotFound", "message": "module not found"}}

    @svc.route("GET", _WS + r"/DataSources/(?P<did>[0-9a-f-]{36})")
    def get_datasource(call: Call, did: str, **_: str) -> tuple[int, Any]:
        if did in st["datasources"]:
            return 200, st["datasources"][did]
        return 404, {"error": {"code": "NotFound", "message": "data source not found"}}

    @svc.route("POST", _WS + r"/PipelineRuns/Unsubmitted/CreationInfoWithGraph")
    def create_pipeline_run(call: Call, **_: str) -> tuple[int, Any]:
        body = call.body or {}
        run_id = _new_id()
        info = body.get("CreationInfo") or {}
        st["pipeline_runs"][run_id] = {
            "Id": run_id, "RunId": run_id, "Description": info.get("Description"),
            "ParameterAssignments": info.get("ParameterAssignments"), "Graph": body.get("Graph"),
            "RunHistoryExperimentName": (call.query.get("experimentName") or [None])[0]
            or info.get("RunHistoryExperimentName"),
            "submitted": False,
        }
        return 200, _pipeline_run_entity(st["pipeline_runs"][run_id])

    @svc.route("POST", _WS + r"/PipelineRuns/Submit/(?P<rid>[0-9a-f-]{36})")
    def submit_pipeline_run(call: Call, rid: str, **_: str) -> tuple[int, Any]:
        pipeline_run = st["pipeline_runs"].get(rid)
        if pipeline_run is None:
            return 404, {"error": {"code": "NotFound", "message": "pipeline run not found"}}
        pipeline_run["submitted"] = True
        svc.start_runs(pipeline_run, call.query)
        return 200, _pipeline_run_entity(pipeline_run)

    @svc.route("GET", _WS + r"/PipelineRuns/(?P<rid>[0-9a-f-]{36})")
    def get_pipeline_run(call: Call, rid: str, **_: str) -> tuple[int, Any]:
        pipeline_run = st["pipeline_runs"].get(rid)
        if pipeline_run is None:
            return 404, {"error": {"code": "NotFound", "message": "pipeline run not found"}}
        record = st["runs"].get(rid)
        status = svc.observe(record) if record else None
        return 200, _pipeline_run_entity(pipeline_run, status)

    @svc.route("POST", _WS + r"/PipelineRuns/(?P<rid>[0-9a-f-]{36})/Graph/Node/StatusCode")
    def node_status(call: Call, rid: str, **_: str) -> tuple[int, Any]:
        node_id = (call.body or [""])[-1]
        for run in svc.runs_of(rid):
            if run["tags"].get("azureml.nodeid") == node_id:
                status = svc.observe(run)
                return 200, _AEVA_STATUS.get(status, status)
        return 200, "NotStarted"

    @svc.route("POST", _WS + r"/PipelineRuns/(?P<rid>[0-9a-f-]{36})/Graph/Shareable/(?P<kind>STDOUT|STDERR|JobLog)")
    def node_shareable_log(call: Call, rid: str, kind: str, **_: str) -> tuple[int, Any]:
        # Jobs on AzureML's common runtime write their logs as run artifacts (user_logs/...),
        # which the stand-in serves; these legacy per-node logs stay empty.
        return 200, Raw(b"")

    @svc.route("DELETE", _WS + r"/PipelineRuns/(?P<rid>[0-9a-f-]{36})/Execution")
    def cancel_pipeline_run(call: Call, rid: str, **_: str) -> tuple[int, Any]:
        if rid not in st["pipeline_runs"]:
            return 404, {"error": {"code": "NotFound", "message": "pipeline run not found"}}
        for record in [st["runs"][rid], *svc.runs_of(rid)]:
            if record["status"] not in TERMINAL:
                record["status"] = "Canceling"
        return 200, None

    @svc.route("POST", _WS + r"/experiments/(?P<exp>[^/]+)/runId/(?P<rid>[^/]+)/cancel")
    def cancel_run(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        record = st["runs"].get(rid)
        if record is None:
            return 404, {"error": {"code": "UserError", "message": f"Run {rid} not found"}}
        if record["status"] not in TERMINAL:
            record["status"] = "Canceling"
        return 200, None

    @svc.route("PATCH", _WS + r"/(?:experiments|experimentids)/(?P<exp>[^/]+)/runs/(?P<rid>[^/]+)")
    def patch_run(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        run = st["runs"].get(rid)
        if run is None:
            return 404, {"error": {"code": "UserError", "message": f"Run {rid} not found"}}
        run["tags"].update((call.body or {}).get("tags") or {})
        return 200, {k: v for k, v in run.items() if k != "experiment"}

    @svc.route("GET", _WS + r"/runs/(?P<rid>[^/]+)")
    def get_workspace_run(call: Call, rid: str, **_: str) -> tuple[int, Any]:
        run = st["runs"].get(rid)
        if run is None:
            return 404, {"error": {"code": "UserError", "message": f"Run {rid} not found"}}
        svc.observe(run)
        return 200, {k: v for k, v in run.items() if k != "experiment"}

    @svc.route("GET", _WS + r"/experimentids/(?P<eid>[^/]+)")
    def get_experiment_by_id(call: Call, eid: str, **_: str) -> tuple[int, Any]:
        return 200, {"experimentId": eid, "name": eid.removeprefix("exp-")}

    @svc.route("GET", _WS + r"/(?:experiments|experimentids)/(?P<exp>[^/]+)/runs/(?P<rid>[^/]+)/metricsingest/wait")
    def metrics_wait(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        return 200, {}

    @svc.route("GET", _WS + r"/(?:experiments|experimentids)/(?P<exp>[^/]+)/runs/(?P<rid>[^/]+)/details")
    def run_details(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        # Run history no longer proxies the common runtime's logs (user_logs/, system_logs/): the
        # SDK backfills them from the artifacts service. It still lists the run's azureml-logs/
        # and logs/ files (a ParallelRunStep's driver writes under logs/), each with its URL.
        run = st["runs"].get(rid)
        if run is None:
            return 404, {"error": {"code": "UserError", "message": f"Run {rid} not found"}}
        advance(svc, rid)
        svc.observe(run)
        listed = {name: f"{svc.base_url}/artifact-blobs/{rid}/{name}"
                  for name in sorted(svc.logs.get(rid, {})) if name.startswith(RH_LOG_PREFIXES)}
        return 200, {"runId": rid, "status": run["status"], "target": run["target"],
                     "startTimeUtc": run.get("startTimeUtc"), "endTimeUtc": run.get("endTimeUtc"),
                     "properties": run["properties"], "logFiles": listed, "warnings": []}

    @svc.route("GET", r"/artifact/v2\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
               r"Microsoft\.MachineLearningServices/workspaces/[^/]+/artifacts/prefix/contentinfo/"
               r"ExperimentRun/dcid\.(?P<rid>[^/]+)/(?P<prefix>.+)")
    def artifacts_by_prefix(call: Call, rid: str, prefix: str) -> tuple[int, Any]:
        files = [{"origin": "ExperimentRun", "container": f"dcid.{rid}", "path": name,
                  "contentUri": f"{svc.base_url}/artifact-blobs/{rid}/{name}"}
                 for name in svc.logs.get(rid, {}) if name.startswith(prefix.rstrip("/") + "/")]
        return 200, {"value": files, "continuationToken": None}

    @svc.route("GET", r"/artifact-blobs/(?P<rid>[^/]+)/(?P<name>.+)")
    def artifact_blob(call: Call, rid: str, name: str) -> tuple[int, Any]:
        text = svc.logs.get(rid, {}).get(name)
        if text is None:
            return 404, {"error": {"code": "NotFound", "message": f"no artifact {name}"}}
        return 200, Raw(text.encode("utf-8"))

    @svc.route("GET", _WS + r"/(?:experiments|experimentids)/(?P<exp>[^/]+)/runs/(?P<rid>[^/]+)/children")
    def run_children(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        children = []
        for run in svc.runs_of(rid):
            svc.observe(run)
            children.append({k: v for k, v in run.items() if k != "experiment"})
        return 200, {"value": children, "continuationToken": None}

    @svc.route("GET", _WS + r"/(?:experiments|experimentids)/(?P<exp>[^/]+)/runs/(?P<rid>[^/]+)")
    def get_run(call: Call, exp: str, rid: str, **_: str) -> tuple[int, Any]:
        run = st["runs"].get(rid)
        if run is None:
            return 404, {"error": {"code": "UserError", "message": f"Run {rid} not found"}}
        svc.observe(run)
        return 200, {k: v for k, v in run.items() if k != "experiment"}

    _install_model_routes(svc)
    install_ops_routes(svc, _WS)
    install_publish_routes(svc, _WS)
    return svc


def _install_model_routes(svc: StandIn) -> None:
    """Artifacts (model upload) and model management (assets, models), as Model.register uses them."""
    st = svc.state
    st.setdefault("artifacts", {})
    st.setdefault("assets", {})
    st.setdefault("models", {})

    @svc.route("POST", _WS + r"/artifacts/batch/metadata/(?P<origin>[^/]+)/(?P<container>[^/]+)")
    def create_artifacts(call: Call, origin: str, container: str, **_: str) -> tuple[int, Any]:
        artifacts, content = {}, {}
        for item in (call.body or {}).get("paths", []):
            path = item["path"]
            ident = f"{origin}/{container}/{path}"
            st["artifacts"][ident] = {"artifactId": ident, "origin": origin,
                                      "container": container, "path": path}
            artifacts[path] = st["artifacts"][ident]
            content[path] = {"contentUri": f"{svc.base_url}/blobs/{uuid.uuid4().hex}/{container}/{path}",
                             "origin": origin, "container": container, "path": path}
        return 200, {"artifacts": artifacts, "artifactContentInformation": content, "errors": {}}

    @svc.route("POST", _WS + r"/assets")
    def create_asset(call: Call, **_: str) -> tuple[int, Any]:
        asset = dict(call.body or {})
        asset["id"] = uuid.uuid4().hex
        st["assets"][asset["id"]] = asset
        return 200, asset

    @svc.route("POST", _WS + r"/models")
    def register_model(call: Call, **_: str) -> tuple[int, Any]:
        body = dict(call.body or {})
        versions = [m for m in st["models"].values() if m["name"] == body.get("name")]
        body["version"] = len(versions) + 1
        body["id"] = f"{body.get('name')}:{body['version']}"
        body.setdefault("createdTime", "2024-01-01T00:00:00Z")
        st["models"][body["id"]] = body
        return 200, body

    @svc.route("GET", _WS + r"/models/(?P<mid>[^/]+)")
    def get_model(call: Call, mid: str, **_: str) -> tuple[int, Any]:
        if mid in st["models"]:
            return 200, st["models"][mid]
        return 404, {"error": {"code": "NotFound", "message": f"model {mid} not found"}}
