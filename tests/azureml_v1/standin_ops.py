"""Stand-in routes for operating runs (outputs, progress) and publishing and scheduling.

Shapes come from the SDK's own REST client (azureml-pipeline-core 1.62,
``_restclients/aeva/aml_pipelines_api10.py`` URLs and ``models/*.py`` attribute maps):

* ``POST PipelineRuns/<id>/Outputs`` with body ``[node id]``: ``{output name: NodeOutput}``,
  a NodeOutput holding ``DataLocation.DataReference.AzureBlobReference`` (datastore
  name and relative path), as ``_AevaPortDataReferenceProvider`` reads it. A
  PipelineData is written under ``azureml/<step run id>/<output name>`` on its datastore.
* published pipelines, pipeline endpoints and schedules: see :func:`install_publish_routes`.

Runs move through :meth:`Progress.stages`: each read of a run's details applies the
next stage (status, times, log text), so a test of ``--follow`` sees a step start,
write, and end, one poll at a time, without timing.
"""

from __future__ import annotations

import uuid
from typing import Any

Stage = dict[str, Any]


def advance(svc: Any, run_id: str) -> None:
    """Apply the next scripted stage of ``run_id`` (status, times, logs), if any."""
    stages = svc.stages.get(run_id)
    if not stages:
        return
    stage = stages.pop(0)
    run = svc.state["runs"][run_id]
    for key in ("status", "startTimeUtc", "endTimeUtc"):
        if key in stage:
            run[key] = stage[key]
    run["properties"].update(stage.get("properties") or {})
    for name, text in (stage.get("logs") or {}).items():
        svc.logs.setdefault(run_id, {})[name] = text
    parent = run.get("parentRunId")
    if parent and "pipeline_status" in stage:
        svc.state["runs"][parent]["status"] = stage["pipeline_status"]


def node_outputs(svc: Any, pipeline_run_id: str, node_id: str) -> dict[str, Any]:
    """The NodeOutputs of one node of a submitted graph, each a blob data reference."""
    graph = svc.state["pipeline_runs"][pipeline_run_id]["Graph"]
    node = next(n for n in graph["ModuleNodes"] if n["Id"] == node_id)
    step_run = next(r for r in svc.runs_of(pipeline_run_id) if r["tags"].get("azureml.nodeid") == node_id)
    found = {}
    for setting in node.get("ModuleOutputSettings") or []:
        store = svc.state["datastores"][setting.get("DataStoreName") or "workspaceblobstore"]
        section = store["azureStorageSection"]
        found[setting["Name"]] = {
            "DataTypeId": "AnyDirectory",
            "DataLocation": {"StorageType": "AzureBlob", "DataReference": {
                "Type": "AzureBlob", "AzureBlobReference": {
                    "AmlDataStoreName": store["name"], "Container": section["containerName"],
                    "Account": section["accountName"],
                    "RelativePath": f"azureml/{step_run['runId']}/{setting['Name']}"}}}}
    return found


def install_ops_routes(svc: Any, ws: str) -> None:
    """Routes for status, logs, download (the run-history ones are in standin.py)."""

    @svc.route("POST", ws + r"/PipelineRuns/(?P<rid>[0-9a-f-]{36})/Outputs")
    def outputs(call: Any, rid: str, **_: str) -> tuple[int, Any]:
        if rid not in svc.state["pipeline_runs"]:
            return 404, {"error": {"code": "NotFound", "message": "pipeline run not found"}}
        (node_id,) = call.body or [""]
        return 200, node_outputs(svc, rid, node_id)


def new_id() -> str:
    return str(uuid.uuid4())


def install_publish_routes(svc: Any, ws: str) -> None:
    """Published pipelines, pipeline endpoints and schedules (the pipelines service).

    Entities carry the keys of the SDK's models (PipelineEntity, PipelineEndpointEntity
    with its PipelineVersionList, PipelineScheduleEntity with Recurrence); the REST
    endpoints the service hands out are its submit routes, ``PipelineRuns/PipelineSubmit/
    <pipeline id>`` and ``PipelineRuns/PipelineEndpointSubmit/Id/<endpoint id>``.
    """
    st = svc.state
    for key in ("pipelines", "pipeline_endpoints", "schedules"):
        st.setdefault(key, {})

    def scope(call: Any) -> str:
        return svc.base_url + call.path.split("/Pipeline")[0].split("/Schedules")[0]

    def missing(what: str) -> tuple[int, Any]:
        return 404, {"error": {"code": "NotFound", "message": f"{what} not found"}}

    @svc.route("POST", ws + r"/Pipelines/Create")
    def create_pipeline(call: Any, **_: str) -> tuple[int, Any]:
        body = call.body or {}
        pid = new_id()
        defaults = {p["Name"]: p.get("DefaultValue") for p in
                    (body.get("GraphInterface") or {}).get("Parameters") or []}
        st["pipelines"][pid] = {
            "Id": pid, "Name": body.get("Name"), "Description": body.get("Description"),
            "Version": body.get("Version"), "GraphId": new_id(), "EntityStatus": "Active",
            "TotalRunSteps": len((body.get("Graph") or {}).get("ModuleNodes") or []),
            "ParameterAssignments": defaults, "Graph": body.get("Graph"),
            "ContinueRunOnStepFailure": body.get("ContinueRunOnStepFailure"),
            "Url": f"{scope(call)}/PipelineRuns/PipelineSubmit/{pid}",
            "CreatedDate": "2024-01-01T00:00:00Z"}
        return 200, {k: v for k, v in st["pipelines"][pid].items() if k != "Graph"}

    @svc.route("GET", ws + r"/Pipelines/(?P<pid>[0-9a-f-]{36})")
    def get_pipeline(call: Any, pid: str, **_: str) -> tuple[int, Any]:
        found = st["pipelines"].get(pid)
        return (200, {k: v for k, v in found.items() if k != "Graph"}) if found else missing("pipeline")

    @svc.route("GET", ws + r"/PipelineEndpoints/Name")
    def endpoint_by_name(call: Any, **_: str) -> tuple[int, Any]:
        name = (call.query.get("Name") or [""])[0]
        for found in st["pipeline_endpoints"].values():
            if found["Name"] == name:
                return 200, found
        return missing(f"pipeline endpoint {name}")

    @svc.route("GET", ws + r"/PipelineEndpoints/Id/(?P<eid>[0-9a-f-]{36})")
    def endpoint_by_id(call: Any, eid: str, **_: str) -> tuple[int, Any]:
        found = st["pipeline_endpoints"].get(eid)
        return (200, found) if found else missing("pipeline endpoint")

    @svc.route("POST", ws + r"/PipelineEndpoints/Create")
    def create_endpoint(call: Any, **_: str) -> tuple[int, Any]:
        body = call.body or {}
        eid = new_id()
        st["pipeline_endpoints"][eid] = {
            "Id": eid, "Name": body.get("Name"), "Description": body.get("Description"),
            "DefaultVersion": "0", "PipelineVersionList": [{"Version": "0", "PipelineId": body.get("PipelineId")}],
            "Url": f"{scope(call)}/PipelineRuns/PipelineEndpointSubmit/Id/{eid}", "EntityStatus": "Active",
            "Properties": body.get("Properties") or {}, "tags": {}}
        return 200, st["pipeline_endpoints"][eid]

    @svc.route("PUT", ws + r"/PipelineEndpoints/(?P<eid>[0-9a-f-]{36})")
    def update_endpoint(call: Any, eid: str, **_: str) -> tuple[int, Any]:
        if eid not in st["pipeline_endpoints"]:
            return missing("pipeline endpoint")
        st["pipeline_endpoints"][eid].update(call.body or {})
        return 200, st["pipeline_endpoints"][eid]

    install_schedule_routes(svc, ws)


def install_schedule_routes(svc: Any, ws: str) -> None:
    """``Schedules/Create``, ``Schedules?activeOnly=`` (a plain list), ``Schedules/<id>`` (GET, PUT)."""
    st = svc.state

    @svc.route("POST", ws + r"/Schedules/Create")
    def create_schedule(call: Any, **_: str) -> tuple[int, Any]:
        body = dict(call.body or {})
        sid = new_id()
        body.update(Id=sid, EntityStatus="Active", ProvisioningStatus="Completed",
                    CreatedDate="2024-01-01T00:00:00Z", Etag=new_id())
        st["schedules"][sid] = body
        return 200, body

    @svc.route("GET", ws + r"/Schedules")
    def list_schedules(call: Any, **_: str) -> tuple[int, Any]:
        active = (call.query.get("activeOnly") or ["true"])[0].lower() == "true"
        found = [s for s in st["schedules"].values() if not active or s["EntityStatus"] == "Active"]
        return 200, found  # the SDK deserializes '[PipelineScheduleEntity]' (a plain list)

    @svc.route("GET", ws + r"/Schedules/(?P<sid>[0-9a-f-]{36})")
    def get_schedule(call: Any, sid: str, **_: str) -> tuple[int, Any]:
        found = st["schedules"].get(sid)
        return (200, found) if found else (404, {"error": {"code": "NotFound", "message": "no schedule"}})

    @svc.route("PUT", ws + r"/Schedules/(?P<sid>[0-9a-f-]{36})")
    def update_schedule(call: Any, sid: str, **_: str) -> tuple[int, Any]:
        if sid not in st["schedules"]:
            return 404, {"error": {"code": "NotFound", "message": "no schedule"}}
        st["schedules"][sid].update(call.body or {})
        return 200, st["schedules"][sid]
