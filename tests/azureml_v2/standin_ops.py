"""v2 stand-in routes for operating jobs and publishing and scheduling pipelines.

Requests are the ones azure-ai-ml 1.35 sends (recorded by the tests); shapes:

* ``POST /history/v1.0/.../rundata``: GetRunDataResult ``{"runMetadata": Run}`` whose
  ``outputs`` map each output name to a TypedAssetReference ``{"assetId", "type"}``, and
  ``POST /data/v1.0/.../dataversion/batchGetResolvedUris``: BatchDataUriResponse
  ``{"values": {asset id: {"uri", "type"}}}`` (the runhistory and dataset_dataplane
  models in ``azure/ai/ml/_restclient``); a node output without a path is written by
  the service under ``azureml/<child job>/<output>/`` on the default datastore.
* batch endpoints and deployments: the REST specification's examples
  (Azure/azure-rest-api-specs, machinelearningservices stable/2024-04-01
  ``examples/Workspace/BatchEndpoint/createOrUpdate.json``: 201 on create, the
  endpoint with ``scoringUri``, ``defaults.deploymentName``, ``provisioningState``).
  The stand-in provisions at once, so every PUT answers ``Succeeded``.
* components (list of versions), schedules (PUT, GET, list): ARM resources as the
  existing routes shape them (``_arm``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.azureml_v2._server import Call, Reply


def install_ops(svc: Any, st: dict[str, dict[str, Any]], ws: str, scope: str,
                arm: Any, not_found: Any) -> None:
    """Add the routes above to the v2 stand-in ``svc``."""
    for key in ("batch_endpoints", "batch_deployments", "schedules"):
        st.setdefault(key, {})
    _script_progress(svc, st, ws)
    _install_outputs(svc, st, ws, scope)
    _install_components(svc, st, ws)
    _install_endpoints(svc, st, ws, arm, not_found)
    _install_schedules(svc, st, ws, arm, not_found)


def _script_progress(svc: Any, st: dict[str, dict[str, Any]], ws: str) -> None:
    """``svc.stages[run id]``: each read of that run's details first applies the next stage
    (``status``, ``logs``), so ``--follow`` sees a job run and end one poll at a time."""
    svc.stages = {}
    details = re.compile(r"/history/v1\.0" + ws + r"/runs/(?P<rid>[^/]+)/details", re.IGNORECASE)
    dispatch = svc.dispatch

    def staged(call: Call) -> Reply:
        match = details.fullmatch(call.path)
        stages = svc.stages.get(match.group("rid")) if match and call.method == "GET" else None
        if stages:
            stage = stages.pop(0)
            with svc.lock:
                run = st["runs"][match.group("rid")]
                run.update({k: v for k, v in stage.items() if k != "logs"})
                st["logs"].setdefault(run["runId"], {}).update(stage.get("logs") or {})
        return dispatch(call)

    svc.dispatch = staged


def _output_path(st: dict[str, dict[str, Any]], run: dict[str, Any], output: str) -> tuple[str, str]:
    """``(datastore, path)`` where the child job's output was written."""
    job = st["jobs"][run["parentRunId"]]["properties"]["jobs"][run["properties"]["azureml.nodeid"]]
    declared = (job.get("outputs") or {}).get(output) or {}
    uri = declared.get("uri") or ""
    if uri.startswith("azureml://datastores/"):
        store, _, path = uri[len("azureml://datastores/"):].partition("/paths/")
        return store, path
    return "workspaceblobstore", f"azureml/{run['runId']}/{output}/"


def _install_outputs(svc: Any, st: dict[str, dict[str, Any]], ws: str, scope: str) -> None:
    @svc.route("POST", r"/history/v1\.0" + ws + r"/rundata")
    def run_data(call: Call, **_: str) -> Reply:
        rid = (call.body or {}).get("runId")
        run = st["runs"].get(rid)
        if run is None:
            return Reply(404, {"error": {"code": "UserError", "message": f"run {rid} not found"}})
        node = st["jobs"][run["parentRunId"]]["properties"]["jobs"][run["properties"]["azureml.nodeid"]]
        outputs = {name: {"assetId": f"azureml://locations/westus/workspaces/{svc.workspace_id}/data/"
                                     f"azureml_{rid}_output_data_{name}/versions/1", "type": "uri_folder"}
                   for name in (node.get("outputs") or {})}
        return Reply(200, {"runMetadata": {**copy.deepcopy(run), "outputs": outputs},
                           "runDefinition": None, "jobSpecification": None})

    @svc.route("POST", r"/data/v1\.0" + ws + r"/dataversion/batchGetResolvedUris")
    def resolved_uris(call: Call, **_: str) -> Reply:
        values = {}
        for asset in (call.body or {}).get("values") or []:
            rid, _, name = asset.split("/data/azureml_", 1)[1].rsplit("/versions/", 1)[0].partition(
                "_output_data_")
            store, path = _output_path(st, st["runs"][rid], name)
            values[asset] = {"uri": f"azureml:/{scope}/datastores/{store}/paths/{path}", "type": "UriFolder"}
        return Reply(200, {"values": values})


def _install_components(svc: Any, st: dict[str, dict[str, Any]], ws: str) -> None:
    @svc.route("GET", ws + r"/components/(?P<name>[^/]+)/versions")
    def list_component_versions(call: Call, name: str, **_: str) -> Reply:
        value = [copy.deepcopy(c) for (n, _v), c in st["components"].items() if n == name]
        return Reply(200, {"value": value, "nextLink": None})

    @svc.route("GET", ws + r"/components/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def get_component(call: Call, name: str, version: str, **_: str) -> Reply:
        found = st["components"].get((name, version))
        return Reply(200, copy.deepcopy(found)) if found else Reply(404, {"error": {
            "code": "UserError", "message": f"component {name}:{version} not found"}})


def _install_endpoints(svc: Any, st: dict[str, dict[str, Any]], ws: str, arm: Any, not_found: Any) -> None:
    @svc.route("GET", ws + r"/batchEndpoints/(?P<name>[^/]+)")
    def get_endpoint(call: Call, name: str, **_: str) -> Reply:
        found = st["batch_endpoints"].get(name)
        return Reply(200, copy.deepcopy(found)) if found else not_found(f"batch endpoint {name}")

    @svc.route("PUT", ws + r"/batchEndpoints/(?P<name>[^/]+)")
    def put_endpoint(call: Call, name: str, **_: str) -> Reply:
        body = call.body or {}
        props = dict(body.get("properties") or {})
        props.update(scoringUri=f"https://{name}.westus.inference.ml.azure.com/jobs",
                     swaggerUri=f"https://{name}.westus.inference.ml.azure.com/swagger.json",
                     provisioningState="Succeeded")
        props.setdefault("defaults", {"deploymentName": None})
        created = name not in st["batch_endpoints"]
        entity = arm("batchEndpoints", name, None, props)
        entity.update(location=body.get("location") or "westus", tags=body.get("tags") or {})
        st["batch_endpoints"][name] = entity
        return Reply(201 if created else 200, copy.deepcopy(entity))

    deployment = ws + r"/batchEndpoints/(?P<endpoint>[^/]+)/deployments/(?P<name>[^/]+)"

    @svc.route("PUT", deployment)
    def put_deployment(call: Call, endpoint: str, name: str, **_: str) -> Reply:
        if endpoint not in st["batch_endpoints"]:
            return not_found(f"batch endpoint {endpoint}")
        body = call.body or {}
        props = dict(body.get("properties") or {}, provisioningState="Succeeded")
        entity = arm(f"batchEndpoints/{endpoint}/deployments", name, None, props)
        entity.update(location=body.get("location") or "westus", tags=body.get("tags") or {})
        created = (endpoint, name) not in st["batch_deployments"]
        st["batch_deployments"][(endpoint, name)] = entity
        return Reply(201 if created else 200, copy.deepcopy(entity))

    @svc.route("GET", deployment)
    def get_deployment(call: Call, endpoint: str, name: str, **_: str) -> Reply:
        found = st["batch_deployments"].get((endpoint, name))
        return Reply(200, copy.deepcopy(found)) if found else not_found(f"deployment {name}")


def _install_schedules(svc: Any, st: dict[str, dict[str, Any]], ws: str, arm: Any, not_found: Any) -> None:
    @svc.route("PUT", ws + r"/schedules/(?P<name>[^/]+)")
    def put_schedule(call: Call, name: str, **_: str) -> Reply:
        props = dict((call.body or {}).get("properties") or {}, provisioningState="Succeeded")
        props.setdefault("isEnabled", True)  # the REST spec's default (ScheduleBase.isEnabled)
        created = name not in st["schedules"]
        st["schedules"][name] = arm("schedules", name, None, props)
        return Reply(201 if created else 200, copy.deepcopy(st["schedules"][name]))

    @svc.route("GET", ws + r"/schedules/(?P<name>[^/]+)")
    def get_schedule(call: Call, name: str, **_: str) -> Reply:
        found = st["schedules"].get(name)
        return Reply(200, copy.deepcopy(found)) if found else not_found(f"schedule {name}")

    @svc.route("GET", ws + r"/schedules")
    def list_schedules(call: Call, **_: str) -> Reply:
        view = (call.query.get("listViewType") or ["EnabledOnly"])[0]
        value = [copy.deepcopy(s) for s in st["schedules"].values()
                 if view == "All" or s["properties"].get("isEnabled", True) == (view == "EnabledOnly")]
        return Reply(200, {"value": value, "nextLink": None})
