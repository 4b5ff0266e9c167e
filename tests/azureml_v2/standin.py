"""A local stand-in for the AzureML v2 REST API (Azure Resource Manager + blob).

Serves, over HTTPS on 127.0.0.1, the requests azure-ai-ml 1.35 sends for
``MLClient.jobs.create_or_update`` of a pipeline job (anonymous environments,
code snapshots uploaded through a pending-upload SAS, anonymous components, the
job itself), ``jobs.get``, ``jobs.list(parent_job_name=...)``, ``jobs.begin_cancel``
and the ARM cloud metadata the SDK reads when ``ARM_CLOUD_METADATA_URL`` is set.

Where the shapes come from (recorded, not guessed):

* the request sequence, URLs, query strings and bodies: azure-ai-ml 1.35.2 itself,
  recorded by :attr:`Server.calls` and asserted in the tests;
* the response bodies: the Azure SDK's own test recordings in Azure/azure-sdk-assets
  (``python/sdk/ml/azure-ai-ml/tests/recordings/pipeline_job/e2etests/
  test_pipeline_job.pyTestPipelineJobtest_pipeline_job_create.json``, azure-ai-ml
  1.32, 2026-03: job PUT 201 echoing the properties with ``status: NotStarted``,
  ``services.Studio/Tracking``; datastore GET; blob HEAD 404 ``BlobNotFound``;
  ``...test_pipeline_job_create_with_distribution_component.json``: component PUT 201
  with the server's stringly typed ``componentSpec``), and the REST specification's
  examples (Azure/azure-rest-api-specs, machinelearningservices
  2024-01-01-preview ``examples/Job/cancel.json``: 202 with ``Location``;
  2024-04-01 ``examples/VirtualMachineSize/list.json``: the ``value`` list of sizes with
  ``vCPUs``, ``gpus``, ``lowPriorityCapable``, ``estimatedVMPrices``, ``supportedComputeTypes``).

State lives in :attr:`StandIn.state`; child jobs are created when a pipeline job is
submitted, their status is moved by the test (:meth:`StandIn.finish`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.azureml_v2._server import Call, Reply, Server
from tests.azureml_v2.standin_assets import add_asset, install_assets
from tests.azureml_v2.standin_ops import install_ops

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "azml-rg"
WORKSPACE = "azml-ws"
CLOUD = "AzmlStandIn"
BLOB_ACCOUNT = "standinacct"
BLOB_CONTAINER = "azureml-blobstore-5e1f0000"
_SCOPE = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
          "/providers/Microsoft.MachineLearningServices/workspaces/" + WORKSPACE)
_WS = (r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
       r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)")
_SYSTEM_DATA = {"createdAt": "2026-03-04T21:17:21.8084817+00:00", "createdBy": "Sanitized",
                "createdByType": "User"}
#: final job states as the service names them (JobStatus in the REST spec)
TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding")


def vm_size(name: str, vcpus: int, gpus: int, memory: float, low_priority: bool = True) -> dict[str, Any]:
    """One VirtualMachineSize as GET .../locations/<region>/vmSizes lists it (REST spec example)."""
    return {"name": name, "family": "standard" + name.split("_")[1] + "Family", "vCPUs": vcpus,
            "gpus": gpus, "osVhdSizeMB": 1047552, "maxResourceVolumeMB": 28672, "memoryGB": memory,
            "lowPriorityCapable": low_priority, "premiumIO": True,
            "estimatedVMPrices": {"billingCurrency": "USD", "unitOfMeasure": "OneHour", "values": [
                {"retailPrice": 0.29, "osType": "Linux", "vmTier": "Standard"}]},
            "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]}


#: The sizes the stand-in's region offers unless a test changes them.
DEFAULT_VM_SIZES = (vm_size("Standard_DS3_v2", 4, 0, 14.0), vm_size("Standard_D4s_v3", 4, 0, 16.0),
                    vm_size("Standard_NC4as_T4_v3", 4, 1, 28.0), vm_size("Standard_NC8as_T4_v3", 8, 1, 56.0),
                    vm_size("Standard_NC48ads_A100_v4", 48, 2, 440.0, low_priority=False))


class StandIn(Server):
    """The v2 service: ARM routes for assets and jobs, a blob container for snapshots."""

    def __init__(self) -> None:
        super().__init__()
        #: a new workspace id per stand-in: azure-ai-ml caches anonymous components on disk
        #: ($TMPDIR/azure-ai-ml/<version>) keyed by it, which must not leak across tests
        self.workspace_id = str(uuid.uuid4())
        self.state: dict[str, dict[str, Any]] = {
            "environments": {}, "codes": {}, "components": {}, "jobs": {}, "blobs": {},
            "datastores": {"workspaceblobstore": _datastore("workspaceblobstore", BLOB_CONTAINER)},
            "computes": {}, "runs": {}, "logs": {},
            "vm_sizes": {size["name"].lower(): size for size in DEFAULT_VM_SIZES},
        }
        self.run_counter = 0
        #: when True, a cancel never completes (to test the cancel timeout)
        self.cancel_sticks = False
        #: a final (status, {node: status}) a pipeline job takes as soon as it is created
        self.finish_on_submit: tuple[str, dict[str, str]] | None = None
        _install(self)

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/metadata/endpoints?api-version=2019-05-01"

    # -- job bookkeeping -----------------------------------------------------------

    def children(self, parent: str) -> list[dict[str, Any]]:
        return [r for r in self.state["runs"].values() if r.get("parentRunId") == parent]

    def child(self, parent: str, node: str) -> dict[str, Any]:
        (found,) = [r for r in self.children(parent) if r["properties"]["azureml.nodeid"] == node]
        return found

    def records(self, name: str) -> list[dict[str, Any]]:
        """The status holders of job ``name`` and its children (pipeline job) or of one child."""
        if name in self.state["jobs"]:
            return [self.state["jobs"][name]["properties"], *self.children(name)]
        return [self.state["runs"][name]] if name in self.state["runs"] else []

    def finish(self, name: str, status: str, child_status: dict[str, str] | None = None) -> None:
        """Move pipeline job ``name`` to ``status``; its children by node name to ``child_status``."""
        with self.lock:
            self.state["jobs"][name]["properties"]["status"] = status
            for run in self.children(name):
                run["status"] = (child_status or {}).get(run["properties"]["azureml.nodeid"], status)

    def write_log(self, run_id: str, name: str, text: str) -> None:
        self.state["logs"].setdefault(run_id, {})[name] = text

    def add_compute(self, name: str, vm_size: str = "STANDARD_NC6S_V3") -> None:
        self.state["computes"][name] = _compute(name, vm_size)

    def add_datastore(self, name: str, container: str = "data") -> None:
        self.state["datastores"][name] = _datastore(name, container)

    def add_data(self, name: str, *versions: str, path: str = "datasets/") -> None:
        """Register data asset ``name`` (a uri_folder) in ``versions``, the last the latest."""
        add_asset(self.state, "data", name, list(versions), "uri_folder",
                  f"azureml://datastores/workspaceblobstore/paths/{path}")

    def add_model(self, name: str, *versions: str) -> None:
        """Register model ``name`` (custom_model) in ``versions``, the last the latest."""
        add_asset(self.state, "models", name, list(versions), "custom_model",
                  f"azureml://datastores/workspaceblobstore/paths/models/{name}/")


@contextmanager
def running() -> Iterator[StandIn]:
    service = StandIn()
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _arm(kind: str, name: str, version: str | None, properties: dict[str, Any]) -> dict[str, Any]:
    path = f"{_SCOPE}/{kind}/{name}" + (f"/versions/{version}" if version else "")
    arm_type = f"Microsoft.MachineLearningServices/workspaces/{kind}" + ("/versions" if version else "")
    return {"id": path, "name": version or name, "type": arm_type, "properties": properties,
            "systemData": dict(_SYSTEM_DATA)}


def _datastore(name: str, container: str, account: str = BLOB_ACCOUNT) -> dict[str, Any]:
    return _arm("datastores", name, None, {
        "description": None, "tags": None, "properties": None, "isDefault": name == "workspaceblobstore",
        "credentials": {"credentialsType": "AccountKey"}, "subscriptionId": SUBSCRIPTION,
        "resourceGroup": RESOURCE_GROUP, "datastoreType": "AzureBlob", "accountName": account,
        "containerName": container, "endpoint": "core.windows.net", "protocol": "https",
        "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity"})


def _compute(name: str, vm_size: str) -> dict[str, Any]:
    body = _arm("computes", name, None, {
        "computeType": "AmlCompute", "computeLocation": "westus", "provisioningState": "Succeeded",
        "isAttachedCompute": False, "disableLocalAuth": False,
        "properties": {"vmSize": vm_size, "vmPriority": "Dedicated", "osType": "Linux",
                       "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0,
                                         "nodeIdleTimeBeforeScaleDown": "PT2M"},
                       "allocationState": "Steady", "errors": None}})
    body["location"] = "westus"
    body["tags"] = {}
    return body


def _not_found(what: str) -> Reply:
    return Reply(404, {"error": {"code": "UserError", "message": f"{what} not found",
                                 "details": [], "additionalInfo": []}})


def _install(svc: StandIn) -> None:
    st = svc.state

    @svc.route("GET", r"/metadata/endpoints")
    def metadata(call: Call) -> Reply:
        # The shape of ARM's /metadata/endpoints?api-version=2019-05-01 (a list of clouds);
        # azure-ai-ml reads name, portal, resourceManager, authentication.loginEndpoint
        # and suffixes.storage (azure/ai/ml/_azure_environments.py, _convert_arm_to_cli).
        return Reply(200, [{
            "name": CLOUD, "portal": "https://portal.standin.test/",
            "resourceManager": svc.base_url + "/",
            "authentication": {"loginEndpoint": "https://login.standin.test/",
                               "audiences": [svc.base_url + "/"], "tenant": "common"},
            "suffixes": {"storage": "standin.test"}}])

    _install_assets(svc, st)
    _install_blob(svc, st)
    _install_jobs(svc, st)
    install_ops(svc, st, _WS, _SCOPE, _arm, _not_found)
    install_assets(svc, st, _WS, _arm, _not_found)


def _install_assets(svc: StandIn, st: dict[str, dict[str, Any]]) -> None:
    @svc.route("GET", _WS)
    def get_workspace(call: Call, **_: str) -> Reply:
        # Shape of the REST spec's Workspace/get.json (2024-10-01-preview), trimmed to one
        # identity; the SDK reads workspaceId (its anonymous-component cache key).
        return Reply(200, {
            "id": _SCOPE, "name": WORKSPACE, "type": "Microsoft.MachineLearningServices/workspaces",
            "location": "westus", "identity": {"type": "SystemAssigned", "principalId": SUBSCRIPTION,
                                                "tenantId": SUBSCRIPTION},
            "properties": {
                "workspaceId": svc.workspace_id, "friendlyName": WORKSPACE, "hbiWorkspace": False,
                "storageAccount": (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                                   f"/providers/Microsoft.Storage/storageAccounts/{BLOB_ACCOUNT}"),
                "discoveryUrl": f"{svc.base_url}/discovery",
                "mlFlowTrackingUri": "azureml://westus.api.azureml.ms/mlflow/v1.0" + _SCOPE,
                "publicNetworkAccess": "Enabled", "provisioningState": "Succeeded"}})

    @svc.route("GET", r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.MachineLearningServices"
               r"/locations/(?P<location>[^/]+)/vmSizes")
    def list_vm_sizes(call: Call, sub: str, location: str) -> Reply:
        return Reply(200, {"value": [copy.deepcopy(v) for v in st["vm_sizes"].values()]})

    @svc.route("GET", _WS + r"/datastores/(?P<name>[^/]+)")
    def get_datastore(call: Call, name: str, **_: str) -> Reply:
        found = st["datastores"].get(name)
        return Reply(200, found) if found else _not_found(f"datastore {name}")

    @svc.route("GET", _WS + r"/computes/(?P<name>[^/]+)")
    def get_compute(call: Call, name: str, **_: str) -> Reply:
        found = st["computes"].get(name)
        return Reply(200, found) if found else _not_found(f"compute {name}")

    @svc.route("PUT", _WS + r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def put_environment(call: Call, name: str, version: str, **_: str) -> Reply:
        props = dict((call.body or {}).get("properties") or {})
        props.setdefault("osType", "Linux")
        props["provisioningState"] = "Succeeded"
        st["environments"][(name, version)] = _arm("environments", name, version, props)
        return Reply(201, st["environments"][(name, version)])

    @svc.route("GET", _WS + r"/codes/(?P<name>[^/]+)/versions")
    def list_codes(call: Call, name: str, **_: str) -> Reply:
        wanted = (call.query.get("hash") or [None])[0]
        value = [c for (n, _v), c in st["codes"].items() if n == name and wanted in (
            None, (c["properties"].get("properties") or {}).get("hash_sha256"))]
        return Reply(200, {"value": value, "nextLink": None})

    @svc.route("POST", _WS + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/startPendingUpload")
    def pending_upload(call: Call, name: str, version: str, **_: str) -> Reply:
        container = f"{svc.base_url}/{BLOB_ACCOUNT}/{BLOB_CONTAINER}"
        return Reply(200, {
            "blobReferenceForConsumption": {
                "blobUri": container,
                "storageAccountArmId": (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
                                        f"/providers/Microsoft.Storage/storageAccounts/{BLOB_ACCOUNT}"),
                "credential": {"credentialType": "SAS",
                               "sasUri": f"{container}?sv=2026-02-06&sr=c&sp=rcwl&sig=c3RhbmQtaW4%3D"}},
            "pendingUploadId": str(uuid.uuid4()), "pendingUploadType": "TemporaryBlobReference"})

    @svc.route("PUT", _WS + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def put_code(call: Call, name: str, version: str, **_: str) -> Reply:
        props = dict((call.body or {}).get("properties") or {})
        props["provisioningState"] = "Succeeded"
        st["codes"][(name, version)] = _arm("codes", name, version, props)
        return Reply(201, st["codes"][(name, version)])

    @svc.route("GET", _WS + r"/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def get_code(call: Call, name: str, version: str, **_: str) -> Reply:
        found = st["codes"].get((name, version))
        return Reply(200, found) if found else _not_found(f"code {name}:{version}")

    @svc.route("PUT", _WS + r"/components/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def put_component(call: Call, name: str, version: str, **_: str) -> Reply:
        props = copy.deepcopy((call.body or {}).get("properties") or {})
        spec = props.get("componentSpec") or {}
        spec.pop("_source", None)
        # The service names an anonymous component's version by a GUID of its own.
        stored = str(uuid.uuid4()) if props.get("isAnonymous") else version
        props["provisioningState"] = "Succeeded"
        st["components"][(name, stored)] = _arm("components", name, stored, props)
        return Reply(201, st["components"][(name, stored)])


def _install_blob(svc: StandIn, st: dict[str, dict[str, Any]]) -> None:
    """Blob service routes (path-style, as for Azurite) for the code snapshot upload."""
    blob = rf"/{BLOB_ACCOUNT}/(?P<container>[^/]+)/(?P<path>.+)"
    headers = {"x-ms-version": "2026-02-06", "Server": "Windows-Azure-Blob/1.0"}

    @svc.route("HEAD", blob)
    def head_blob(call: Call, container: str, path: str) -> Reply:
        found = st["blobs"].get(path)
        if found is None:
            return Reply(404, None, {**headers, "x-ms-error-code": "BlobNotFound"})
        meta = {f"x-ms-meta-{k}": v for k, v in found["metadata"].items()}
        return Reply(200, None, {**headers, **meta, "x-ms-blob-type": "BlockBlob",
                                 "Content-Type": "application/octet-stream",
                                 "ETag": '"0x8DE7A1FF3F508B8"',
                                 "Last-Modified": "Wed, 04 Mar 2026 18:57:58 GMT"})

    @svc.route("PUT", blob)
    def put_blob(call: Call, container: str, path: str) -> Reply:
        if call.query.get("comp") == ["metadata"]:  # Set Blob Metadata answers 200
            entry = st["blobs"].setdefault(path, {"data": b"", "metadata": {}})
            entry["metadata"] = {k[len("x-ms-meta-"):]: v for k, v in call.headers.items()
                                 if k.lower().startswith("x-ms-meta-")}
            return Reply(200, b"", {**headers, "ETag": '"0x8DE7A1FF3F508B9"',
                                    "Last-Modified": "Wed, 04 Mar 2026 18:57:59 GMT"})
        else:
            st["blobs"][path] = {"data": call.raw, "metadata": {
                k[len("x-ms-meta-"):]: v for k, v in call.headers.items()
                if k.lower().startswith("x-ms-meta-")}}
        return Reply(201, b"", {**headers, "ETag": '"0x8DE7A1FF3F508B8"',
                                "Last-Modified": "Wed, 04 Mar 2026 18:57:58 GMT",
                                "x-ms-request-server-encrypted": "true"})


def _install_jobs(svc: StandIn, st: dict[str, dict[str, Any]]) -> None:
    @svc.route("PUT", _WS + r"/jobs/(?P<name>[^/]+)")
    def put_job(call: Call, name: str, **_: str) -> Reply:
        props = copy.deepcopy((call.body or {}).get("properties") or {})
        props.update({"status": "NotStarted", "identity": None, "componentId": None,
                      "notificationSetting": None, "secretsConfiguration": None,
                      "services": _services(name)})
        st["jobs"][name] = _arm("jobs", name, None, props)
        reply = copy.deepcopy(st["jobs"][name])
        if props.get("jobType") == "Pipeline":
            props["status"] = "Running"
            for node in (props.get("jobs") or {}):
                _start_child(svc, name, node, props)
            if svc.finish_on_submit is not None:
                svc.finish(name, *svc.finish_on_submit)
        return Reply(201, reply)

    @svc.route("GET", _WS + r"/jobs/(?P<name>[^/]+)")
    def get_job(call: Call, name: str, **_: str) -> Reply:
        if name in st["jobs"]:
            return Reply(200, copy.deepcopy(st["jobs"][name]))
        if name in st["runs"]:  # a pipeline child job: MFE answers without properties
            return Reply(200, {"id": f"{_SCOPE}/jobs/{name}", "name": name,
                               "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                               "properties": None, "systemData": dict(_SYSTEM_DATA)})
        return _not_found(f"job {name}")

    @svc.route("POST", _WS + r"/jobs/(?P<name>[^/]+)/cancel")
    def cancel_job(call: Call, name: str, **_: str) -> Reply:
        records = svc.records(name)
        if not records:
            return _not_found(f"job {name}")
        for record in records:
            if record["status"] not in TERMINAL:
                record["status"] = "CancelRequested"
        return Reply(202, None, {"Location": f"{svc.base_url}/operations/cancel/{name}"})

    @svc.route("GET", r"/operations/cancel/(?P<name>[^/]+)")
    def cancel_operation(call: Call, name: str) -> Reply:
        if svc.cancel_sticks:
            return Reply(202, None, {"Location": f"{svc.base_url}/operations/cancel/{name}",
                                     "Retry-After": "0"})
        for record in svc.records(name):
            if record["status"] == "CancelRequested":
                record["status"] = "Canceled"
        return Reply(200, None)

    _install_history(svc, st)


def _install_history(svc: StandIn, st: dict[str, dict[str, Any]]) -> None:
    """Workspace discovery and run history, where pipeline child jobs live."""
    history = r"/history/v1\.0" + _WS

    @svc.route("GET", r"/discovery")
    def discovery(call: Call) -> Reply:
        keys = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive", "labeling",
                "modelmanagement", "pipelines", "studiocoreservices")
        return Reply(200, {k: svc.base_url for k in keys})

    @svc.route("GET", history + r"/runs/(?P<rid>[^/]+)/children")
    def children(call: Call, rid: str, **_: str) -> Reply:
        return Reply(200, {"value": [copy.deepcopy(r) for r in svc.children(rid)],
                           "continuationToken": None, "nextLink": None})

    @svc.route("GET", history + r"/runs/(?P<rid>[^/]+)/details")
    def details(call: Call, rid: str, **_: str) -> Reply:
        run = st["runs"].get(rid)
        if run is None:
            return _not_found(f"run {rid}")
        logs = {name: f"{svc.base_url}/{BLOB_ACCOUNT}/azureml/ExperimentRun/dcid.{rid}/{name}?sig=bG9ncw%3D%3D"
                for name in sorted(st["logs"].get(rid, {}))}
        return Reply(200, {"runId": rid, "target": run.get("target"), "status": run["status"],
                           "parentRunId": run.get("parentRunId"), "startTimeUtc": run["createdUtc"],
                           "properties": run["properties"], "logFiles": logs, "warnings": [],
                           "inputDatasets": [], "outputDatasets": []})

    @svc.route("GET", history + r"/runs/(?P<rid>[^/]+)")
    def get_run(call: Call, rid: str, **_: str) -> Reply:
        run = st["runs"].get(rid)
        return Reply(200, copy.deepcopy(run)) if run else _not_found(f"run {rid}")

    @svc.route("GET", rf"/{BLOB_ACCOUNT}/azureml/ExperimentRun/dcid\.(?P<rid>[^/]+)/(?P<name>.+)")
    def log_file(call: Call, rid: str, name: str) -> Reply:
        text = st["logs"].get(rid, {}).get(name)
        if text is None:
            return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
        return Reply(200, text.encode(), {"Content-Type": "text/plain", "x-ms-blob-type": "BlockBlob"})


def _services(name: str) -> dict[str, Any]:
    """A job's services as the recorded PUT response carries them."""
    return {
        "Tracking": {"jobServiceType": "Tracking", "port": None, "status": None,
                     "endpoint": "azureml://westus.api.azureml.ms/mlflow/v1.0" + _SCOPE + "?",
                     "errorMessage": None, "properties": None, "nodes": None},
        "Studio": {"jobServiceType": "Studio", "port": None, "status": None,
                   "endpoint": (f"https://ml.azure.com/runs/{name}?wsid=/subscriptions/{SUBSCRIPTION}"
                                f"/resourcegroups/{RESOURCE_GROUP}/workspaces/{WORKSPACE}"),
                   "errorMessage": None, "properties": None, "nodes": None}}


def _start_child(svc: StandIn, parent: str, node: str, props: dict[str, Any]) -> None:
    """The run-history record the service creates for pipeline node ``node``.

    Shaped as run history's Run (``runId``, ``parentRunId``, ``status``, ``displayName``,
    ``properties`` with ``azureml.nodeid``), as in the v1 stand-in's records.
    """
    svc.run_counter += 1
    child = f"{uuid.uuid4()}"
    spec = props["jobs"][node]
    svc.state["runs"][child] = {
        "runId": child, "runUuid": child, "parentRunId": parent, "rootRunId": parent,
        "runNumber": svc.run_counter, "experimentId": props.get("experimentName"),
        "status": "Queued", "runType": "azureml.StepRun", "name": spec.get("display_name") or node,
        "displayName": spec.get("display_name") or node, "createdUtc": "2026-03-04T21:17:25.000Z",
        "target": "serverless", "tags": {},
        "properties": {"azureml.nodeid": node, "azureml.pipeline": parent,
                       "azureml.runsource": "azureml.StepRun"},
        "services": {}}
