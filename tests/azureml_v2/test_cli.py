"""The v2 commands through ``azml``: validate, plan, submit (--wait), status, logs, cancel.

Submit, status, logs and cancel run against the HTTPS stand-in of the v2 REST API
(standin.py) with the real azure-ai-ml client, from a copy of the fan-in fixture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from azml.cli import main
from tests.azureml_v2.conftest import plan_in_fresh_interpreter, write_ws_config
from tests.azureml_v2.standin import StandIn
from tests.conftest import REPO

FANIN = REPO / "tests" / "fixtures" / "local" / "fanin_v2"
TOOLS = REPO / "tests" / "fixtures" / "local" / "tools"


@pytest.fixture
def fanin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fan-in fixture as the working directory, with a workspace config.json."""
    root = tmp_path / "proj"
    shutil.copytree(FANIN, root)
    shutil.copy2(TOOLS / "contract.py", root / "src" / "contract.py")
    write_ws_config(root)
    monkeypatch.chdir(root)
    for name in ("AML_COMPUTE_CLUSTER_NAME", "AML_COMPUTE_CLUSTER_VM_SIZE", "AZML_HOME"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def service(standin: StandIn) -> StandIn:
    standin.add_datastore("blobstore")
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    return standin


def _edit(path: Path, step: str, **changes: Any) -> None:
    doc = json.loads(path.read_text())
    doc[step].update(changes)
    path.write_text(json.dumps(doc))


def test_validate_names_every_v2_problem_with_its_path(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({
        "parameters": {"lr": 0.1},
        "Prep-A": {"type": "PythonScriptStep", "name": "a", "script": "a.py", "source_directory": "src",
                   "inputs": {"raw": {"datastore": "store", "path": "raw"}},
                   "outputs": ["Model", "model", "azml_done"],
                   "arguments": ["--raw", "${{inputs.raw}}", "--m", "${{outputs.model}}"],
                   "register_model": {"name": "m", "path": "model/weights", "tags": {"k": "v"}}},
        "prep_b": {"type": "PythonScriptStep", "name": "b", "script": "b.py", "source_directory": "src",
                   "inputs": {"lr": "Prep-A.Model"}, "arguments": ["--lr", "${{parameters.lr}}"]},
    })
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    for where in ("Prep-A.register_model.path: v2 registers a whole output",
                  "Prep-A.register_model.tags: v2 registers a job output as a model without tags",
                  "prep_b.inputs.lr: v2 passes parameter 'lr' to the step as an input of that name",
                  "Prep-A.outputs.azml_done: 'azml_done' and 'azml_after_*' are the ports",
                  "Prep-A.outputs.model: equals 'Model' ignoring case"):
        assert f"{path}: {where}" in err, err
    assert "Traceback" not in err and err.count("problems found") == 1
    assert main(["validate", str(path)]) == 0  # the same config is fine for the local and v1 targets


def test_step_ids_that_share_a_node_name(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({sid: {"type": "PythonScriptStep", "name": sid, "script": "a.py", "source_directory": "src",
                               "outputs": [f"out{index}"]}
                         for index, sid in enumerate(("Prep-A", "prep_a", "Step_2"))})
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    assert (f"{path}: prep_a: expected a step id that differs from 'Prep-A' once lower-cased with "
            "characters other than a-z, 0-9 and _ made '_': both are v2 node 'prep_a'; rename one") in err
    assert "Step_2" not in err  # upper case alone is fine: its node is step_2


def test_validate_says_once_that_v1_support_ended(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"a": {"type": "PythonScriptStep", "name": "a", "script": "a.py",
                               "source_directory": "src", "outputs": ["out"]}})
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count("support ended on 2026-06-30") == 1 and "--target azureml-v2" in err
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 0
    assert capsys.readouterr().err.count("support ended on 2026-06-30") == 1


def test_a_parallel_run_step_is_valid_for_v2(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    """It becomes a parallel node (tests/azureml_v2/test_parallel.py has the settings)."""
    path = write_config({"score": {"type": "ParallelRunStep", "name": "score", "script": "a.py",
                                   "source_directory": "src", "inputs": {"raw": {"datastore": "s", "path": "p"}},
                                   "outputs": ["scores"], "compute": {"cluster_name": "cpu-cluster"}}})
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 0
    assert "ParallelRunStep" not in capsys.readouterr().err


def test_plan_v2_imports_no_sdk_and_needs_no_network(fanin: Path) -> None:
    view = json.loads(plan_in_fresh_interpreter(fanin, "pipeline_config.json", "--target", "azureml-v2",
                                                "--json"))
    assert view["steps"]["train"] == "train" and view["job"]["nodes"]["train"]["job_tier"] == "spot"


def test_submit_wait_status_logs_and_cancel(fanin: Path, service: StandIn,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2", "--experiment", "exp-v2"]) == 0
    out = capsys.readouterr().out
    (put,) = service.calls_to("PUT", "/jobs/")
    name = put.path.rsplit("/", 1)[-1]
    assert f"Submitted pipeline job {name} to experiment 'exp-v2'" in out
    body = put.body["properties"]
    assert list(body["jobs"]) == ["prep_a", "prep_b", "audit", "train", "report"]
    assert body["jobs"]["train"]["inputs"]["azml_after_audit"]["value"] == "${{parent.jobs.audit.outputs.azml_done}}"
    assert body["jobs"]["train"]["outputs"]["model"] == {"mode": "ReadWriteMount", "job_output_type": "custom_model",
                                                         "name": "unet"}
    assert service.calls_to("GET", "/vmSizes") and service.calls_to("GET", "/datastores/blobstore")

    assert main(["status", name, "--target", "azureml-v2", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "Running" and {s["name"] for s in status["steps"]} == set(body["jobs"])

    child = service.child(name, "train")["runId"]
    service.write_log(child, "user_logs/std_log_process_0.txt", "epoch 1\n")
    assert main(["logs", name, "--step", "train", "--target", "azureml-v2"]) == 0
    assert "epoch 1" in capsys.readouterr().out

    assert main(["cancel", name, "--target", "azureml-v2", "--step", "train", "--timeout", "5"]) == 0
    assert "final state Canceled" in capsys.readouterr().out
    assert service.child(name, "train")["status"] == "Canceled"
    assert main(["cancel", name, "--target", "azureml-v2", "--timeout", "5"]) == 0
    assert f"Job {name}: cancel requested; final state Canceled." in capsys.readouterr().out


def test_submit_wait_exits_1_on_a_failed_job(fanin: Path, service: StandIn,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    service.finish_on_submit = ("Failed", {"prep_a": "Completed", "prep_b": "Completed", "audit": "Completed",
                                           "train": "Failed", "report": "Canceled"})
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2", "--wait"]) == 1
    err = capsys.readouterr().err
    assert "ended Failed (failed: train)" in err


def test_submit_wait_exits_0_on_a_completed_job(fanin: Path, service: StandIn) -> None:
    service.finish_on_submit = ("Completed", {})
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2", "--wait"]) == 0


def test_a_vm_size_the_region_lacks_stops_submit_before_the_job(fanin: Path, service: StandIn,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _edit(fanin / "pipeline_config.json", "train", compute={"vm_size": "Standard_NC8as_T4_v4"})
    _edit(fanin / "pipeline_config.json", "audit",
          compute={"vm_size": "Standard_NC48ads_A100_v4", "priority": "lowpriority"})
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    assert ("train.compute.vm_size: serverless compute in the workspace's region does not offer VM size "
            "'Standard_NC8as_T4_v4' (close: Standard_NC8as_T4_v3") in err
    assert "audit.compute.priority: VM size 'Standard_NC48ads_A100_v4' cannot run as spot" in err
    assert not service.calls_to("PUT", "/jobs/") and not service.calls_to("PUT", "/codes/")


def test_a_missing_datastore_stops_submit(fanin: Path, standin: StandIn,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    assert main(["submit", "pipeline_config.json", "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    assert "prep_a.inputs.raw: datastore 'blobstore' is not registered in workspace 'azml-ws'" in err
    assert not standin.calls_to("PUT", "/jobs/")


def test_unknown_v2_job_exits_3(fanin: Path, service: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "no_such_job", "--target", "azureml-v2"]) == 3
    assert "no run with id 'no_such_job'" in capsys.readouterr().err


def test_kickoff_script_submits_with_v2(fanin: Path, service: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    from azml.pipelines.dev.kickoff_train_pipeline import main as kickoff

    assert kickoff(["--config", "pipeline_config.json", "--target", "v2", "--experiment", "kick"]) == 0
    out = capsys.readouterr().out
    (put,) = service.calls_to("PUT", "/jobs/")
    assert f"pipeline run id: {put.path.rsplit('/', 1)[-1]}" in out
    assert put.body["properties"]["experimentName"] == "kick"
    assert "step run id: " in out and "(train)" in out


def test_train_pipeline_with_target_v2_builds_the_job_offline(fanin: Path) -> None:
    from azml import TrainPipeline

    pipeline = TrainPipeline("pipeline_config.json", target="v2")
    pipeline.construct_pipeline()
    assert [node.name for node in pipeline.steps] == ["prep_a", "prep_b", "audit", "train", "report"]
    assert pipeline.sdk.settings.default_compute == "serverless"
    from azml.errors import UsageError

    with pytest.raises(UsageError, match="unknown target 'v3'"):
        TrainPipeline("pipeline_config.json", target="v3")


def test_a_vm_size_outside_the_table_is_a_warning_offline(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"a": {"type": "PythonScriptStep", "name": "a", "script": "a.py", "source_directory": "src",
                               "outputs": ["out"], "compute": {"vm_size": "Standard_HB176rs_v4"}}})
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 0
    assert (f"warning: {path}: a.compute.vm_size: VM size 'Standard_HB176rs_v4' is not in azml's table; "
            "whether serverless compute offers it in the workspace's region is checked when you submit"
            ) in capsys.readouterr().err


def test_original_output_path_is_the_outputs_path_on_the_datastore(write_config, project: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({
        "step1": {"type": "PythonScriptStep", "name": "prepare", "script": "a.py", "source_directory": "src",
                  "input_datareference_path": "raw/", "input_datareference_name": "raw_data",
                  "input_dataset_name": "rawstore", "output": "prepared", "output_path": "runs/prepared"},
        "step2": {"type": "MpiStep", "name": "train", "script": "train.py", "source_directory": "src"},
    })
    assert main(["plan", str(path), "--target", "azureml-v2", "--json"]) == 0
    nodes = json.loads(capsys.readouterr().out)["job"]["nodes"]
    assert nodes["step1"]["outputs"]["prepared"]["uri"] == "azureml://datastores/rawstore/paths/runs/prepared"
    assert nodes["step1"]["inputs"]["input_data"]["uri"] == "azureml://datastores/rawstore/paths/raw/"
    assert nodes["step2"]["inputs"]["input_data"] == {"bind": "step1.prepared", "mode": "ro_mount",
                                                      "type": "uri_folder"}
    # the original form runs in file order: step2 also waits for step1 by order, which the data edge carries
    assert "azml_after_step1" not in nodes["step2"]["inputs"]
