"""``azml submit --target azureml-v2`` of the demo (a ParallelRunStep among command nodes) and of
dataset inputs, against the HTTPS stand-in of the v2 REST API with the real azure-ai-ml client."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from azml.cli import main
from tests.azureml_v2.conftest import write_ws_config
from tests.azureml_v2.standin import StandIn
from tests.conftest import REPO

DEMO_CODE = "experiments/interpretation/dutchf3_patch"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AML_COMPUTE_CLUSTER_NAME", "AML_COMPUTE_CLUSTER_VM_SIZE", "AZML_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """A copy of the demo's config and code, with a workspace config.json, as the working directory."""
    root = tmp_path / "demo"
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / DEMO_CODE, root / DEMO_CODE)
    write_ws_config(root)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def taxi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    """A copy of the dataset-input fixture (green_taxi:2, yellow_taxi:1 downloaded)."""
    root = tmp_path / "taxi"
    shutil.copytree(REPO / "tests" / "fixtures" / "azure" / "taxi", root)
    write_ws_config(root)
    monkeypatch.chdir(root)
    return root


def _component(service: StandIn, kind: str) -> dict[str, Any]:
    (spec,) = [c.body["properties"]["componentSpec"] for c in service.calls_to("PUT", "/components/")
               if c.body["properties"]["componentSpec"]["type"] == kind]
    return spec  # type: ignore[no-any-return]


def test_the_demo_submits_its_parallel_step_as_a_parallel_node(demo: Path, standin: StandIn,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_compute("cpu-cluster", "STANDARD_D2_V2")
    assert main(["submit", "configs/pipeline_config.json", "--target", "azureml-v2",
                 "--experiment", "demo-v2"]) == 0
    assert "step score: job " in capsys.readouterr().out
    (put,) = standin.calls_to("PUT", "/jobs/")
    jobs = put.body["properties"]["jobs"]
    assert list(jobs) == ["generate", "prepare", "train", "evaluate", "score"]
    score = jobs["score"]
    assert (score["type"], score["input_data"], score["mini_batch_size"]) == ("parallel", "${{inputs.sections}}", 8)
    assert score["inputs"]["sections"]["value"] == "${{parent.jobs.generate.outputs.sections}}"
    assert score["inputs"]["model"]["value"] == "${{parent.jobs.train.outputs.model}}"
    assert score["computeId"].endswith("/computes/cpu-cluster")
    assert (score["retry_settings"], score["max_concurrency_per_instance"], score["error_threshold"]) == (
        {"timeout": 60, "max_retries": 3}, 2, 10)
    assert score["task"]["program_arguments"] == "--model ${{inputs.model}} --append_row_file_name scores.txt"
    assert score["task"]["append_row_to"] == "${{outputs.predictions}}"

    spec = _component(standin, "parallel")
    assert spec["inputs"]["model"] == {"type": "custom_model", "mode": "ro_mount"}
    stored = standin.state["components"][("azureml_anonymous", score["componentId"].rsplit("/", 1)[-1])]
    assert stored["properties"]["componentSpec"]["type"] == "parallel"  # the node runs that component
    # the entry script's folder was uploaded as a code asset, and the task runs from it
    code_id = spec["task"]["code"].removeprefix("azureml:")
    assert "/codes/" in code_id and any(c.path == code_id.split("?")[0] for c in standin.calls_to("PUT", "/codes/"))
    assert any(path.endswith("dutchf3_patch/score.py") for path in standin.state["blobs"])
    environment = spec["task"]["environment"].removeprefix("azureml:")
    (env_put,) = [c for c in standin.calls_to("PUT", "/environments/") if c.path == environment]
    conda = env_put.body["properties"]["condaFile"]
    assert "azureml-core" in conda and "azureml-dataset-runtime[fuse]" in conda

    name = put.path.rsplit("/", 1)[-1]
    assert main(["status", name, "--target", "azureml-v2", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {s["name"] for s in status["steps"]} == set(jobs)  # the parallel node is a child job too


#: what a failed parallel job's driver leaves under logs/ (v2 "How to use parallel job in pipeline",
#: "Troubleshoot batch endpoints"), and a worker's own output
PARALLEL_LOGS = {
    "user_logs/std_log.txt": "SystemExit: 42\n",
    "logs/job_error.txt": "process001 section_7.npy: ValueError: empty section\n",
    "logs/job_result.txt": "Job failed: 1 item failed, more than error_threshold 0. See logs/job_error.txt\n",
    "logs/job_progress_overview.txt": "2 of 2 mini batches processed\n",
    "logs/readme.txt": "the layout of logs\n",
    "logs/user/stdout/10.0.0.5/process001.stdout.txt": "scoring section_7.npy\n",
    "system_logs/lifecycler/execution-wrapper.txt": "wrapper\n",
}


def test_logs_of_the_parallel_step_end_with_what_failed(demo: Path, standin: StandIn,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_compute("cpu-cluster", "STANDARD_D2_V2")
    assert main(["submit", "configs/pipeline_config.json", "--target", "azureml-v2"]) == 0
    (put,) = standin.calls_to("PUT", "/jobs/")
    name = put.path.rsplit("/", 1)[-1]
    standin.finish(name, "Failed")
    score, train = (standin.child(name, node)["runId"] for node in ("score", "train"))
    for log, text in PARALLEL_LOGS.items():
        standin.write_log(score, log, text)
    standin.write_log(train, "user_logs/std_log.txt", "epoch 1\n")
    standin.write_log(train, "logs/azureml/executionlogs.txt", "not a parallel job's\n")
    capsys.readouterr()

    shown = ["user_logs/std_log.txt", "logs/job_error.txt", "logs/job_result.txt",
             "logs/job_progress_overview.txt"]
    assert main(["logs", name, "--step", "score", "--target", "azureml-v2"]) == 0
    assert capsys.readouterr().out == "\n".join(f"==> {score}: {log} <==\n{PARALLEL_LOGS[log]}"
                                                for log in shown)
    fetched = [c.path.rsplit(f"/dcid.{score}/", 1)[1]
               for c in standin.calls_to("GET", f"/ExperimentRun/dcid.{score}/")]
    assert fetched == shown  # listed by run history's details; fetched only to be shown

    assert main(["logs", name, "--step", "score", "--target", "azureml-v2", "--all"]) == 0
    every = capsys.readouterr().out
    assert every.endswith(f"==> {score}: logs/user/stdout/10.0.0.5/process001.stdout.txt <==\n"
                          f"scoring section_7.npy\n\n==> {score}: logs/readme.txt <==\nthe layout of logs\n")
    assert main(["logs", name, "--step", "train", "--target", "azureml-v2", "--all"]) == 0
    assert capsys.readouterr().out == f"==> {train}: user_logs/std_log.txt <==\nepoch 1\n"


def test_datasets_are_pinned_to_the_version_the_workspace_holds(taxi: Path, standin: StandIn) -> None:
    doc = json.loads((taxi / "pipeline_config.json").read_text())
    del doc["cleanse_green"]["inputs"]["raw_data"]["version"]  # the latest green_taxi
    (taxi / "pipeline_config.json").write_text(json.dumps(doc))
    standin.add_data("green_taxi", "1", "3")
    standin.add_data("yellow_taxi", "1")
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2"]) == 0
    (put,) = standin.calls_to("PUT", "/jobs/")
    jobs = put.body["properties"]["jobs"]
    green, yellow = jobs["cleanse_green"]["inputs"]["raw_data"], jobs["cleanse_yellow"]["inputs"]["raw_data"]
    assert green == {"uri": f"{_scope()}/data/green_taxi/versions/3", "mode": "ReadOnlyMount",
                     "job_input_type": "uri_folder"}
    assert yellow == {"uri": f"{_scope()}/data/yellow_taxi/versions/1", "mode": "Download",
                      "job_input_type": "uri_folder"}
    assert standin.calls_to("GET", "/data/green_taxi")  # the container: its latestVersion


def test_a_dataset_the_workspace_lacks_stops_submit(taxi: Path, standin: StandIn,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_data("green_taxi", "1")
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    assert ("cleanse_green.inputs.raw_data: data asset 'green_taxi' (version 2) is not registered in "
            "workspace 'azml-ws'") in err
    assert "cleanse_yellow.inputs.raw_data: data asset 'yellow_taxi' (version 1)" in err
    assert not standin.calls_to("PUT", "/jobs/") and not standin.calls_to("PUT", "/codes/")


def test_a_registered_model_is_pinned_too(demo: Path, standin: StandIn) -> None:
    config = demo / "configs" / "pipeline_config.json"
    doc = json.loads(config.read_text())
    doc["score"]["model"] = {"name": "dutchf3-unet"}
    config.write_text(json.dumps(doc))
    standin.add_compute("cpu-cluster", "STANDARD_D2_V2")
    standin.add_model("dutchf3-unet", "4", "5")
    assert main(["submit", "configs/pipeline_config.json", "--target", "azureml-v2"]) == 0
    (put,) = standin.calls_to("PUT", "/jobs/")
    model = put.body["properties"]["jobs"]["score"]["inputs"]["model"]
    assert model["uri"] == f"{_scope()}/models/dutchf3-unet/versions/5"
    assert model["job_input_type"] == "custom_model"


def test_the_sdk_looks_up_a_label_under_the_prefixed_name(workspace: Any, standin: StandIn) -> None:
    """Why azml pins ``@latest`` itself: azure-ai-ml 1.35.2 resolves ``azureml:NAME@latest`` given
    from Python by looking up the asset ``azureml:NAME``. If this starts to fail, the SDK
    resolves labels itself and the pinning can go."""
    from azure.ai.ml import Input

    standin.add_data("green_taxi", "1")
    operations = workspace.client.jobs
    with pytest.raises(Exception, match="azureml:green_taxi does not exist"):
        operations._resolve_job_input(Input(type="uri_folder", path="azureml:green_taxi@latest"), ".")
    assert standin.calls_to("GET", "/data/azureml%3Agreen_taxi")
    standin.unknown.clear()


def _scope() -> str:
    from tests.azureml_v2.standin import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

    return (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}")
