"""``azml publish`` and ``azml schedule`` of a config on AzureML v2 check the workspace and pin
asset versions as ``azml submit --target azureml-v2`` does, before anything is created.

Against the HTTPS stand-in of the v2 REST API with the real azure-ai-ml client; what the
service received is read from the stand-in's record of the requests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from azml.cli import main
from tests.azureml_v2.conftest import write_ws_config
from tests.azureml_v2.standin import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, StandIn
from tests.conftest import REPO

SCOPE = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
         f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}")
PUBLISH = ["publish", "pipeline_config.json", "--name", "taxi", "--target", "azureml-v2"]
SUBMIT = ["submit", "pipeline_config.json", "--target", "azureml-v2"]
SCHEDULE = ["schedule", "pipeline_config.json", "--name", "nightly", "--every", "1d",
            "--target", "azureml-v2", "--experiment", "taxi-nightly"]


@pytest.fixture
def taxi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The dataset-input fixture as the working directory, ``cleanse_green`` asking for the
    latest ``green_taxi`` (no version), ``cleanse_yellow`` for ``yellow_taxi`` version 1."""
    for name in ("AML_COMPUTE_CLUSTER_NAME", "AML_COMPUTE_CLUSTER_VM_SIZE", "AZML_HOME"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "taxi"
    shutil.copytree(REPO / "tests" / "fixtures" / "azure" / "taxi", root)
    config = root / "pipeline_config.json"
    doc = json.loads(config.read_text())
    del doc["cleanse_green"]["inputs"]["raw_data"]["version"]
    config.write_text(json.dumps(doc))
    write_ws_config(root)
    monkeypatch.chdir(root)
    return root


def _created(service: StandIn) -> list[str]:
    """The requests that create or change something (the lookups are GETs and POSTs of lists)."""
    return [f"{c.method} {c.path}" for c in service.calls if c.method in ("PUT", "PATCH", "DELETE")]


def _raw_data_uris(jobs: dict[str, Any]) -> tuple[str, str]:
    return (jobs["cleanse_green"]["inputs"]["raw_data"]["uri"],
            jobs["cleanse_yellow"]["inputs"]["raw_data"]["uri"])


def test_publish_sends_the_pinned_dataset_version(taxi: Path, standin: StandIn) -> None:
    standin.add_data("green_taxi", "1", "3")
    standin.add_data("yellow_taxi", "1")
    assert main([*PUBLISH, "--compute", "cpu-cluster"]) == 0
    (put,) = standin.calls_to("PUT", "/components/taxi/versions/")
    jobs = put.body["properties"]["componentSpec"]["jobs"]
    assert _raw_data_uris(jobs) == (f"{SCOPE}/data/green_taxi/versions/3",
                                    f"{SCOPE}/data/yellow_taxi/versions/1")
    assert "@latest" not in json.dumps(put.body)


def test_schedule_sends_the_pinned_dataset_version(taxi: Path, standin: StandIn) -> None:
    standin.add_data("green_taxi", "2", "7")
    standin.add_data("yellow_taxi", "1")
    assert main(SCHEDULE) == 0
    (put,) = standin.calls_to("PUT", "/schedules/nightly")
    job = put.body["properties"]["action"]["jobDefinition"]
    assert job["experimentName"] == "taxi-nightly"
    assert _raw_data_uris(job["jobs"]) == (f"{SCOPE}/data/green_taxi/versions/7",
                                           f"{SCOPE}/data/yellow_taxi/versions/1")
    assert "@latest" not in json.dumps(put.body)


@pytest.mark.parametrize("command", [PUBLISH, SCHEDULE, SUBMIT], ids=["publish", "schedule", "submit"])
def test_a_dataset_the_workspace_lacks_stops_before_anything_is_created(
        command: list[str], taxi: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_data("yellow_taxi", "1")
    assert main(command) == 2  # a config problem
    err = capsys.readouterr().err
    assert ("cleanse_green.inputs.raw_data: data asset 'green_taxi' (any version) is not registered "
            f"in workspace '{WORKSPACE}'") in err
    assert "yellow_taxi" not in err
    assert standin.calls_to("GET", "/data/green_taxi")  # the service was asked
    assert _created(standin) == []
    assert not standin.state["jobs"] and not standin.state["schedules"] and not standin.state["batch_endpoints"]
