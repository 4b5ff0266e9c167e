"""Submit, follow, status, cancel and logs of v2 pipeline jobs against the stand-in."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from azml.errors import RunFailedError, RunNotFoundError
from azml.targets.azureml_v2.build import build_pipeline_job
from azml.targets.azureml_v2.jobs import V2Run, cancel_job, job_logs, job_status, submit_job
from tests.azureml_v2.specs import fanin_spec, project
from tests.azureml_v2.standin import StandIn

JOBS = "/jobs/"


def submit(workspace: Any, standin: StandIn, tmp_path: Path) -> tuple[V2Run, str]:
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    job = build_pipeline_job(fanin_spec(project(tmp_path / "proj")))
    out = io.StringIO()
    run = submit_job(workspace, job, "DEV-train-pipeline", out=out, poll=0.01)
    return run, out.getvalue()


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_submit_sends_assets_then_the_pipeline_job(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, printed = submit(workspace, standin, tmp_path)
    # one anonymous environment (all nodes share it); each node's code snapshot goes
    # through a pending upload (nodes are resolved in parallel, so a shared folder may
    # be uploaded once per node); two distinct snapshots, one per folder
    assert len({c.path for c in standin.calls_to("PUT", "/environments/CliV2AnonymousEnvironment/")}) == 1
    codes = standin.calls_to("PUT", "/codes/")
    assert len(standin.calls_to("POST", "/startPendingUpload")) == len(codes)
    assert len({c.body["properties"]["properties"]["hash_sha256"] for c in codes}) == 2
    assert {p.rsplit("/", 1)[-1] for p in standin.state["blobs"]} == {"prepare.py", "train.py"}
    assert len(standin.calls_to("PUT", "/components/azureml_anonymous/versions/")) == 4
    assert standin.calls_to("GET", "/computes/cpu-cluster")  # a named cluster is looked up
    (put,) = standin.calls_to("PUT", JOBS)
    assert claims(put.headers["x-azureml-token"])["aud"].startswith("https://ml.azure.")
    body = put.body["properties"]
    assert (body["jobType"], body["experimentName"], body["displayName"]) == ("Pipeline", "DEV-train-pipeline", "fan-in")
    assert body["settings"]["continue_on_step_failure"] is False
    assert body["settings"]["default_compute"].endswith("/computes/serverless")
    assert body["inputs"] == {"epochs": {"value": "3", "jobInputType": "literal"},
                              "lr": {"value": "0.5", "jobInputType": "literal"}}
    train = body["jobs"]["train"]
    assert train["resources"] == {"instance_count": 2, "instance_type": "Standard_NC8as_T4_v3"}
    assert train["distribution"] == {"process_count_per_instance": 2, "distribution_type": "Mpi"}
    assert train["inputs"]["a"]["value"] == "${{parent.jobs.prepare_a.outputs.patches}}"
    assert train["inputs"]["epochs"]["value"] == "${{parent.inputs.epochs}}"
    after = body["jobs"]["report"]["inputs"]["azml_after_prepare_b"]
    assert (after["value"], after["mode"]) == ("${{parent.jobs.prepare_b.outputs.azml_done}}", "Direct")
    assert body["jobs"]["report"]["computeId"].endswith("/computes/cpu-cluster")
    raw = body["jobs"]["prepare_a"]["inputs"]["raw"]
    assert (raw["uri"], raw["mode"]) == ("azureml://datastores/rawstore/paths/raw/a/", "ReadOnlyMount")
    # what the user sees: job name, studio link, each step's child job
    assert f"Submitted pipeline job {run.name} to experiment 'DEV-train-pipeline'" in printed
    assert f"studio: https://ml.azure.com/runs/{run.name}" in printed
    for node in ("prepare_a", "prepare_b", "train", "report"):
        assert f"step {node}: job {standin.child(run.name, node)['runId']}" in printed


def test_wait_on_a_failed_job_raises_run_failed(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    standin.finish(run.name, "Failed", {"prepare_a": "Completed", "prepare_b": "Completed", "train": "Failed",
                                        "report": "Canceled"})
    status = run.wait(timeout=30)
    assert status == "Failed"
    with pytest.raises(RunFailedError) as caught:
        run.raise_unless_completed(status)
    assert caught.value.exit_code == 1
    assert caught.value.failed_steps == ("train",)
    assert f"pipeline job {run.name}: Failed" in run.out.getvalue() if isinstance(run.out, io.StringIO) else True


def test_wait_on_a_completed_job_returns(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    standin.finish(run.name, "Completed")
    status = run.wait(timeout=30)
    run.raise_unless_completed(status)
    assert status == "Completed"


def test_status_lists_steps(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    record = job_status(workspace, run.name)
    assert (record["name"], record["status"], record["type"]) == (run.name, "Running", "pipeline")
    assert [s["step"] for s in record["steps"]] == ["prepare_a", "prepare_b", "report", "train"]
    assert {s["status"] for s in record["steps"]} == {"Queued"}


def test_cancel_the_pipeline_job(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    message = cancel_job(workspace, run.name, poll=0.01)
    assert message == f"Job {run.name}: cancel requested; final state Canceled."
    assert standin.calls_to("POST", f"/jobs/{run.name}/cancel")
    assert {c["status"] for c in standin.children(run.name)} == {"Canceled"}
    assert cancel_job(workspace, run.name) == f"Job {run.name} had already ended (Canceled); nothing to cancel."


def test_cancel_one_child_job(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    child = standin.child(run.name, "train")["runId"]
    assert cancel_job(workspace, child, poll=0.01).endswith("final state Canceled.")
    assert standin.child(run.name, "prepare_a")["status"] == "Queued"


def test_cancel_that_never_finishes_times_out(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    standin.cancel_sticks = True
    ticks = iter(range(1000))
    message = cancel_job(workspace, run.name, timeout=0.5, poll=0, clock=lambda: float(next(ticks)))
    assert "cancel requested; still CancelRequested" in message and "timed out" in message


def test_logs_of_a_child_job(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    run, _ = submit(workspace, standin, tmp_path)
    child = standin.child(run.name, "train")["runId"]
    standin.write_log(child, "user_logs/std_log_process_0.txt", "epoch 1 loss 0.5\n")
    standin.write_log(child, "user_logs/std_log_process_1.txt", "epoch 1 loss 0.6\n")
    standin.write_log(child, "system_logs/lifecycler/execution-wrapper.log", "not for users\n")
    out = io.StringIO()
    names = job_logs(workspace, child, out)
    assert names == ["user_logs/std_log_process_0.txt", "user_logs/std_log_process_1.txt"]
    assert "==> user_logs/std_log_process_0.txt <==\nepoch 1 loss 0.5\n" in out.getvalue()
    assert "not for users" not in out.getvalue()


def test_unknown_job_is_run_not_found(workspace: Any, standin: StandIn) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        job_status(workspace, "no_such_job")
    assert caught.value.exit_code == 3
    with pytest.raises(RunNotFoundError):
        cancel_job(workspace, "no_such_job")
