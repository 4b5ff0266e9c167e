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
