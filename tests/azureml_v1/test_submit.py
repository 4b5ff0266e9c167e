"""Submission and cancellation against the local stand-in of the AzureML service."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from standin import StandIn

FANIN = FIXTURES / "azure" / "fanin"
SECRET = "dGhpcyBpcyBhIGJsb2Iga2V5"
#: the train step's arguments as the module sent to the pipelines service carries them
ARGS = [("Literal", "--a"), ("Input", "a"), ("Literal", "--b"), ("Input", "b"), ("Literal", "--epochs"),
        ("Parameter", "epochs"), ("Literal", "--model"), ("Output", "model")]


def submit(folder: Path, standin_settings: Any, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, str]:
    from azml.pipelines.train import TrainPipeline

    monkeypatch.chdir(folder)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": SECRET}.items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    pipeline = TrainPipeline(folder / "pipeline_config.json",
                             ws_config=str(standin_settings.base_dir / ".azureml" / "config.json"))
    pipeline.construct_pipeline(out=out)
    run = pipeline.run_pipeline(experiment_name="DEV-train-pipeline", out=out, **kw)
    return run, out.getvalue()


def test_submit_registers_datastore_builds_graph_and_prints_ids(
        standin: StandIn, standin_settings: Any, stub_blob_upload: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    run, printed = submit(FANIN, standin_settings, monkeypatch)
    # the datastore did not exist: looked up, then registered from BLOB_* settings
    assert standin.calls_to("GET", "/datastores/rawstore")
    (register,) = standin.calls_to("POST", "/datastores")
    section = register.body["azureStorageSection"]
    assert (register.body["name"], section["accountName"], section["containerName"]) == ("rawstore", "acct", "data")
    assert SECRET not in printed
    # one module per step, a data source per data reference, one submission
    modules = {c.body["Name"]: c.body for c in standin.calls_to("POST", "/Modules")}
    assert set(modules) == {"prepare a", "prepare b", "train"}
    train_args = modules["train"]["StructuredInterface"]["Arguments"]
    assert [(a["ValueType"], a.get("Value") or a.get("Name")) for a in train_args] == ARGS
    sources = {c.body["Name"]: c.body for c in standin.calls_to("POST", "/DataSources")}
    assert {n: (s["DataStoreName"], s["PathOnDataStore"]) for n, s in sources.items()} == {
        "raw": ("rawstore", "raw/a"), "raw_b": ("rawstore", "raw/b"), "labels": ("rawstore", "labels")}
    (created,) = standin.calls_to("POST", "/PipelineRuns/Unsubmitted/CreationInfoWithGraph")
    assert created.query["experimentName"] == ["DEV-train-pipeline"]
    assert '"epochs"' in json.dumps(created.body["Graph"])  # the pipeline parameter, default 3
    assert len(standin.calls_to("POST", "/PipelineRuns/Submit/")) == 1
    # ids: the pipeline run and every step run, printed
    assert run.run_id in standin.state["pipeline_runs"]
    assert set(run.steps) == {"prepare a", "prepare b", "train"}
    for name, step_run_id in run.steps.items():
        assert f"step {name}: step run {step_run_id}" in printed
    assert f"Submitted pipeline run {run.run_id}" in printed
    assert run.status == "Running"
    assert stub_blob_upload  # snapshot files were handed to the storage boundary


def graph_of(standin: StandIn, run_id: str) -> dict[str, Any]:
    return standin.state["pipeline_runs"][run_id]["Graph"]


def test_submitted_graph_has_fanin_edges(standin: StandIn, standin_settings: Any,
                                         stub_blob_upload: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run, _ = submit(FANIN, standin_settings, monkeypatch)
    graph = graph_of(standin, run.run_id)
    names = {n["Id"]: standin.state["modules"][n["ModuleId"]]["Name"] for n in graph["ModuleNodes"]}
    edges = {(names.get(e["SourceOutputPort"]["NodeId"]), names.get(e["DestinationInputPort"]["NodeId"]))
             for e in graph["Edges"]}
    assert {("prepare a", "train"), ("prepare b", "train")} <= edges


def test_cancel_pipeline_run_versus_step_run(standin: StandIn, standin_settings: Any,
                                             stub_blob_upload: list[str], workspace: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.runs import cancel_run

    run, _ = submit(FANIN, standin_settings, monkeypatch)
    step_run_id = run.steps["prepare a"]
    sentence = cancel_run(standin_settings, run.run_id, step_id=step_run_id, workspace=workspace, poll=0.01)
    assert "final state Canceled" in sentence and step_run_id in sentence
    assert len(standin.calls_to("POST", f"/runId/{step_run_id}/cancel")) == 1
    assert not standin.calls_to("DELETE", "/Execution")
    sentence = cancel_run(standin_settings, run.run_id, workspace=workspace, poll=0.01)
    assert sentence.startswith(f"Pipeline run {run.run_id}: cancel requested; final state Canceled")
    (delete,) = standin.calls_to("DELETE", "/Execution")
    assert run.run_id in delete.path


def test_cancel_times_out_and_says_so(standin: StandIn, standin_settings: Any, stub_blob_upload: list[str],
                                      workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.runs import cancel_run

    run, _ = submit(FANIN, standin_settings, monkeypatch)
    standin.cancel_sticks = True
    sentence = cancel_run(standin_settings, run.run_id, workspace=workspace, timeout=0.2, poll=0.05)
    assert "still Canceling after 0.2 s (timed out" in sentence


def test_cancel_unknown_ids(standin: StandIn, standin_settings: Any, stub_blob_upload: list[str],
                            workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.errors import RunNotFoundError
    from azml.targets.azureml_v1.runs import cancel_run

    run, _ = submit(FANIN, standin_settings, monkeypatch)
    with pytest.raises(RunNotFoundError):
        cancel_run(standin_settings, "0b6d2a5e-0000-4000-8000-000000000000", workspace=workspace)
    other = run.steps["train"]
    with pytest.raises(RunNotFoundError):
        cancel_run(standin_settings, "0b6d2a5e-0000-4000-8000-000000000000", step_id=other, workspace=workspace)


def _finish(standin: StandIn, run: Any, failing: str | None) -> None:
    """Let the service finish the run: every step Completed, or ``failing`` Failed with a log
    (``parallel NAME``: with the logs a ParallelRunStep's batch driver leaves)."""
    records = standin.state["runs"]
    parallel = failing is not None and failing.startswith("parallel ")
    failing = failing.removeprefix("parallel ") if failing else None
    for name, step_run_id in run.steps.items():
        record = records[step_run_id]
        if name == failing and not parallel:
            record["status"] = "Failed"
            standin.logs[step_run_id] = {"user_logs/std_log.txt":
                                         "loading data\nTraceback (most recent call last):\n"
                                         "ValueError: labels and patches differ in shape\n"}
        elif name == failing:  # a parallel step: the batch driver's layout
            record["status"] = "Failed"
            standin.logs[step_run_id] = {
                "user_logs/std_log.txt": "Job failed: the error threshold was reached.\n",
                "logs/job_result.txt": "Job failed. Read logs/job_error.txt first.\n",
                "logs/job_error.txt": "mini-batch 3 (patch_0007.npy): "
                                      "ValueError: labels and patches differ in shape\n"}
        else:
            record["status"] = "Completed"
    records[run.run_id]["status"] = "Failed" if failing else "Completed"


@pytest.mark.parametrize("failing", [None, "train", "parallel train"])
def test_submit_wait_exit_code_follows_the_run(standin: StandIn, standin_settings: Any,
                                               stub_blob_upload: list[str], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], failing: str | None) -> None:
    """``azml submit --wait``: 0 when the pipeline completes; 1 naming the failed step and its log."""
    from azml.cli import main
    from azml.targets.azureml_v1 import runs

    monkeypatch.chdir(FANIN)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": SECRET}.items():
        monkeypatch.setenv(key, value)
    real_wait = runs.AzureRun.wait

    def wait(self: Any, timeout: float | None = None) -> str:
        self.refresh_steps()
        _finish(standin, self, failing)
        self._poll = 0.01
        return real_wait(self, timeout)

    monkeypatch.setattr(runs.AzureRun, "wait", wait)
    ws = str(standin_settings.base_dir / ".azureml" / "config.json")
    code = main(["submit", "pipeline_config.json", "--experiment", "exp-1", "--wait", "--ws-config", ws])
    err = capsys.readouterr().err
    if failing is None:
        assert code == 0, err
    else:
        assert code == 1
        assert "ended Failed (failed: train)" in err
        assert "step train (step run" in err and "ValueError: labels and patches differ in shape" in err
        if failing.startswith("parallel"):  # the error summary, not the driver's one line
            assert "logs/job_error.txt:" in err and "mini-batch 3 (patch_0007.npy)" in err
        assert SECRET not in err


def test_bad_experiment_name_refused_before_anything_is_registered(
        standin: StandIn, standin_settings: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from azml.cli import main

    monkeypatch.chdir(FANIN)
    ws = str(standin_settings.base_dir / ".azureml" / "config.json")
    assert main(["submit", "pipeline_config.json", "--experiment", "my experiment!", "--ws-config", ws]) == 2
    assert "experiment name 'my experiment!' is not valid" in capsys.readouterr().err
    assert not standin.calls  # not even a workspace lookup
