"""Registered dataset inputs submitted to AzureML v1, against the stand-in.

The NYC-taxi shape: two steps each name their input ``raw_data`` for different
registered datasets. The SDK looks each dataset up by name and version
(``GET .../datasets/query/name=NAME?versionId=N``, then its saved definition) and
sends it in the graph as a dataset node bound to the step's ``raw_data`` port.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import FIXTURES
from standin import StandIn

TAXI = FIXTURES / "azure" / "taxi"


def register(standin: StandIn, workspace: Any, name: str, path: str, versions: int = 1) -> None:
    """Register ``name`` in the stand-in with the definition the SDK itself builds for a folder."""
    from azureml.core import Dataset, Datastore

    from azml.targets.azureml_v1.parallel import silence_sdk_telemetry

    silence_sdk_telemetry()
    store = Datastore.get(workspace, "workspaceblobstore")
    flow = Dataset.File.from_files(path=(store, path), validate=False)._dataflow.to_json()
    for _ in range(versions):
        standin.register_dataset(name, flow)


def submit(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    from azml import api

    monkeypatch.chdir(TAXI)
    out = io.StringIO()
    run = api.submit(TAXI / "pipeline_config.json", workspace=workspace, experiment="taxi", out=out)
    return run, out.getvalue()


def test_each_step_gets_its_own_raw_data(standin: StandIn, workspace: Any, stub_blob_upload: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    register(standin, workspace, "green_taxi", "green/", versions=2)
    register(standin, workspace, "yellow_taxi", "yellow/")
    run, printed = submit(workspace, monkeypatch)
    lookups = standin.calls_to("GET", "/datasets/query/name=")
    assert sorted((c.path.rsplit("=", 1)[1], c.query.get("versionId")) for c in lookups) == [
        ("green_taxi", ["2"]), ("yellow_taxi", ["1"])]
    assert "Using dataset 'green_taxi' version 2" in printed
    graph = standin.state["pipeline_runs"][run.run_id]["Graph"]
    modules = {m["Id"]: m for m in standin.state["modules"].values()}
    names = {n["Id"]: modules[n["ModuleId"]]["Name"] for n in graph["ModuleNodes"]}
    datasets = {n["Id"]: n for n in graph.get("DatasetNodes") or []}
    bound = {}
    for edge in graph["Edges"]:
        source = edge["SourceOutputPort"]["NodeId"]
        if source in datasets:
            bound[names[edge["DestinationInputPort"]["NodeId"]]] = (
                edge["DestinationInputPort"]["PortName"], datasets[source])
    assert set(bound) == {"cleanse green", "cleanse yellow"}
    for step, dataset, version in (("cleanse green", "green_taxi", "2"), ("cleanse yellow", "yellow_taxi", "1")):
        port, node = bound[step]
        reference = node["DataSetDefinition"]["Value"]["DataSetReference"]
        assert port == "raw_data"
        assert reference == {"Id": standin.state["registered_datasets"][dataset][0]["datasetId"],
                             "Version": version}
    args = {m["Name"]: m["StructuredInterface"]["Arguments"] for m in modules.values()}
    assert {"ValueType": "Literal", "Value": "DatasetConsumptionConfig:raw_data"}.items() <= {
        k: v for k, v in args["cleanse green"][1].items() if k in ("ValueType", "Value")}.items()


def test_unknown_dataset_version_is_one_line_naming_it(standin: StandIn, workspace: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.errors import DatasetNotFoundError

    register(standin, workspace, "green_taxi", "green/")
    with pytest.raises(DatasetNotFoundError) as caught:
        submit(workspace, monkeypatch)
    assert str(caught.value) == "no dataset 'green_taxi' version 2 in workspace 'azml-ws'"
    assert caught.value.exit_code == 3
    assert not standin.calls_to("POST", "/PipelineRuns/")


def test_mount_and_download_reach_the_modules(standin: StandIn, workspace: Any, stub_blob_upload: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    register(standin, workspace, "green_taxi", "green/", versions=2)
    register(standin, workspace, "yellow_taxi", "yellow/")
    submit(workspace, monkeypatch)
    ports = {m["Name"]: {p["Name"]: (p["DataTypeIdsList"], p["DataStoreMode"])
                         for p in m["StructuredInterface"]["Inputs"]}
             for m in standin.state["modules"].values()}
    assert ports["cleanse green"] == {"raw_data": (["AzureMLDataset"], "mount")}
    assert ports["cleanse yellow"] == {"raw_data": (["AzureMLDataset"], "download")}
