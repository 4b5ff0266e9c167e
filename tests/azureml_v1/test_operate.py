"""Operate submitted v1 runs against the stand-in: status, logs (--follow), download.

Outputs are read the way the SDK finds them (the pipelines service names each
output's datastore and path) and fetched from a real Azurite, which stands for the
workspace's blob account: the stand-in's default datastore points at it.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from standin import StandIn

from tests.azurite.server import ACCOUNT, KEY, Azurite, running

FANIN = FIXTURES / "azure" / "fanin"
PARALLEL = FIXTURES / "local" / "parallel"
STEPS = ("prepare a", "prepare b", "train")
#: what a failed ParallelRunStep's driver leaves under logs/ ("Troubleshooting the ParallelRunStep")
PRS_LOGS = {
    "user_logs/std_log.txt": "SystemExit: 42\n",
    "logs/job_error.txt": "process000 item_03.txt: ValueError: not a number\n",
    "logs/job_result.txt": "Job failed: 1 item failed, more than error_threshold 0. See logs/job_error.txt\n",
    "logs/job_progress_overview.2024010100.txt": "day 1: 3 mini batches scheduled\n",
    "logs/job_progress_overview.2024010200.txt": "day 2: 3 of 3 mini batches processed\n",
    "logs/user/stdout/10.0.0.4/process000.stdout.txt": "scoring item_03.txt\n",
    "logs/sys/master_role.txt": "orchestrator started\n",
    "system_logs/lifecycler/execution-wrapper.txt": "wrapper\n",
}
SHOWN = ["user_logs/std_log.txt", "logs/job_error.txt", "logs/job_result.txt",
         "logs/job_progress_overview.2024010200.txt"]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running(tmp_path_factory.mktemp("azurite"), "the download tests") as server:
        yield server


def submit(standin_settings: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from azml import api

    monkeypatch.chdir(FANIN)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": "a2V5"}.items():
        monkeypatch.setenv(key, value)
    run = api.submit(FANIN / "pipeline_config.json", workspace=workspace, out=io.StringIO())
    assert set(run.steps) == set(STEPS)
    return run


def submit_parallel(standin: StandIn, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The local parallel fixture submitted: step2 ("score items") is a ParallelRunStep."""
    from standin import compute_dto

    from azml import api

    standin.state["computes"]["cpu-cluster"] = compute_dto("cpu-cluster")
    monkeypatch.chdir(PARALLEL)
    monkeypatch.delenv("AML_COMPUTE_CLUSTER_NAME", raising=False)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": "a2V5"}.items():
        monkeypatch.setenv(key, value)
    run = api.submit(PARALLEL / "pipeline_config.json", workspace=workspace, out=io.StringIO())
    assert set(run.steps) == {"split numbers", "score items"}
    return run


def expected(label: str, run_id: str, names: list[str]) -> str:
    """``azml logs`` output for ``names`` of one step run: each headed, a blank line between."""
    return "\n".join(f"==> {label} ({run_id}): {n} <==\n{PRS_LOGS[n]}" for n in names)


def step_runs(standin: StandIn, run_id: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in standin.runs_of(run_id)}


def finish(standin: StandIn, run_id: str, status: str = "Completed") -> None:
    standin.state["runs"][run_id]["status"] = status
    for minute, run in enumerate(standin.runs_of(run_id)):
        run.update(status=status, startTimeUtc=f"2024-01-01T00:0{minute}:00Z",
                   endTimeUtc=f"2024-01-01T00:0{minute}:30Z")


def test_status_lists_steps_with_durations_ids_and_reuse(standin: StandIn, standin_settings: Any,
                                                         workspace: Any, stub_blob_upload: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.operate import run_status

    run = submit(standin_settings, workspace, monkeypatch)
    finish(standin, run.run_id)
    earlier = str(uuid.uuid4())
    step_runs(standin, run.run_id)["prepare b"]["properties"].update({
        "azureml.reusedrunid": "prior-step-run", "azureml.reusednodeid": "n1",
        "azureml.reusedpipeline": earlier})
    record = run_status(standin_settings, run.run_id, workspace=workspace)
    assert (record["run_id"], record["status"], record["target"]) == (run.run_id, "Completed", "azureml_v1")
    assert f"/runs/{run.run_id}?wsid=/subscriptions/" in record["portal_url"]
    steps = {s["name"]: s for s in record["steps"]}
    assert set(steps) == set(STEPS)
    assert {s["run_id"] for s in steps.values()} == set(run.steps.values())
    assert steps["prepare a"]["duration"] == 30.0 and steps["prepare a"]["started"].startswith("2024-01-01T00:00")
    assert steps["prepare b"]["reused_from"] == {"run_id": "prior-step-run", "pipeline_run_id": earlier}
    assert steps["train"]["reused_from"] is None


def test_logs_of_one_step_and_unknown_step(standin: StandIn, standin_settings: Any, workspace: Any,
                                           stub_blob_upload: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.errors import StepNotFoundError
    from azml.targets.azureml_v1.operate import stream_logs

    run = submit(standin_settings, workspace, monkeypatch)
    finish(standin, run.run_id)
    train = run.steps["train"]
    standin.logs[train] = {"user_logs/std_log_process_1.txt": "rank 1\n",
                           "user_logs/std_log_process_0.txt": "rank 0 epoch 1\n",
                           "system_logs/lifecycler/execution-wrapper.log": "wrapper\n"}
    out = io.StringIO()
    shown = stream_logs(standin_settings, run.run_id, step="train", out=out, workspace=workspace)
    assert shown == ["user_logs/std_log_process_0.txt"]
    assert out.getvalue() == f"==> train ({train}): user_logs/std_log_process_0.txt <==\nrank 0 epoch 1\n"
    with pytest.raises(StepNotFoundError, match="trian"):
        stream_logs(standin_settings, run.run_id, step="trian", out=out, workspace=workspace)


def test_a_parallel_step_shows_its_error_summary_result_and_progress(
        standin: StandIn, standin_settings: Any, workspace: Any, stub_blob_upload: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's log, then what its logs/ folder says failed; workers' own logs with --all."""
    from azml.targets.azureml_v1.operate import stream_logs

    run = submit_parallel(standin, workspace, monkeypatch)
    finish(standin, run.run_id, "Failed")
    score = run.steps["score items"]
    standin.logs[score] = dict(PRS_LOGS)
    out = io.StringIO()
    shown = stream_logs(standin_settings, run.run_id, step="score items", out=out, workspace=workspace)
    assert shown == SHOWN
    assert out.getvalue() == expected("score items", score, SHOWN)
    fetched = [c.path.split(f"/artifact-blobs/{score}/", 1)[1]
               for c in standin.calls_to("GET", f"/artifact-blobs/{score}/")]
    assert fetched == SHOWN  # each file the SDK's details listed is fetched only when shown

    every = stream_logs(standin_settings, run.run_id, step="score items", all_logs=True,
                        out=io.StringIO(), workspace=workspace)
    assert every == [*SHOWN, "logs/user/stdout/10.0.0.4/process000.stdout.txt",
                     "logs/job_progress_overview.2024010100.txt", "logs/sys/master_role.txt"]


def test_a_step_that_is_not_parallel_shows_its_own_log_only(
        standin: StandIn, standin_settings: Any, workspace: Any, stub_blob_upload: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.operate import stream_logs

    run = submit(standin_settings, workspace, monkeypatch)
    finish(standin, run.run_id)
    train = run.steps["train"]
    standin.logs[train] = {"user_logs/std_log.txt": "epoch 1\n", "logs/azureml/9_azureml.log": "sdk\n",
                           "logs/metrics.txt": "loss 0.1\n", "azureml-logs/70_driver_log.txt": "old\n"}
    for everything in (False, True):
        out = io.StringIO()
        shown = stream_logs(standin_settings, run.run_id, step="train", all_logs=everything, out=out,
                            workspace=workspace)
        assert shown == ["user_logs/std_log.txt"]
        assert out.getvalue() == f"==> train ({train}): user_logs/std_log.txt <==\nepoch 1\n"


def test_following_a_parallel_step_tails_each_of_its_logs(
        standin: StandIn, standin_settings: Any, workspace: Any, stub_blob_upload: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Like ``tail -f`` on several files: a log's header again when the output returns to it."""
    from azml.targets.azureml_v1.operate import stream_logs

    run = submit_parallel(standin, workspace, monkeypatch)
    score = run.steps["score items"]
    driver, overview, result = ("user_logs/std_log.txt", "logs/job_progress_overview.txt",
                                "logs/job_result.txt")
    standin.stages[score] = [
        {"status": "Running", "logs": {driver: "started\n"}},
        {"status": "Running", "logs": {overview: "0 of 3 processed\n"}},
        {"status": "Running", "logs": {driver: "started\nstill running\n",
                                       overview: "0 of 3 processed\n3 of 3 processed\n"}},
        {"status": "Completed", "logs": {result: "Job succeeded\n"}},
    ]
    out, sleeps = io.StringIO(), []
    shown = stream_logs(standin_settings, run.run_id, step="score items", follow=True, out=out,
                        workspace=workspace, poll=2.0, sleep=sleeps.append)
    assert shown == [driver, overview, result]
    head = f"==> score items ({score}): "
    assert out.getvalue() == (
        f"{head}{driver} <==\nstarted\n\n{head}{overview} <==\n0 of 3 processed\n"
        f"\n{head}{driver} <==\nstill running\n\n{head}{overview} <==\n3 of 3 processed\n"
        f"\n{head}{result} <==\nJob succeeded\n")
    assert sleeps == [2.0, 2.0, 2.0] and standin.stages[score] == []


def test_follow_prints_new_lines_until_the_step_ends(standin: StandIn, standin_settings: Any,
                                                     workspace: Any, stub_blob_upload: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.operate import stream_logs

    run = submit(standin_settings, workspace, monkeypatch)
    train = run.steps["train"]
    log = "user_logs/std_log.txt"
    standin.stages[train] = [
        {"status": "Running", "logs": {log: "epoch 1\n"}},
        {"status": "Running"},
        {"status": "Running", "logs": {log: "epoch 1\nepoch 2\n"}},
        {"status": "Completed", "logs": {log: "epoch 1\nepoch 2\ndone\n"}},
    ]
    sleeps: list[float] = []
    out = io.StringIO()
    stream_logs(standin_settings, run.run_id, step=train, follow=True, out=out, workspace=workspace,
                poll=7.0, sleep=sleeps.append)
    assert out.getvalue() == f"==> train ({train}): {log} <==\nepoch 1\nepoch 2\ndone\n"
    assert sleeps == [7.0, 7.0, 7.0]  # polled until the service said Completed, then stopped
    assert standin.stages[train] == []


def test_download_outputs_and_logs(standin: StandIn, standin_settings: Any, workspace: Any,
                                   stub_blob_upload: list[str], monkeypatch: pytest.MonkeyPatch,
                                   azurite: Azurite, tmp_path: Path) -> None:
    from azml.settings import load_settings
    from azml.targets.azureml_v1.operate import download

    container = f"ws{uuid.uuid4().hex[:16]}"
    azurite.service().create_container(container)
    section = standin.state["datastores"]["workspaceblobstore"]["azureStorageSection"]
    section.update(accountName=ACCOUNT, containerName=container)
    run = submit(standin_settings, workspace, monkeypatch)
    finish(standin, run.run_id)
    train = run.steps["train"]
    blobs = azurite.service().get_container_client(container)
    blobs.upload_blob(f"azureml/{train}/model/weights.bin", b"\x00w" * 1000)
    blobs.upload_blob(f"azureml/{train}/model/meta/info.json", b"{}")
    blobs.upload_blob(f"azureml/{train}x/model/other.bin", b"not this step")
    standin.logs[train] = {"user_logs/std_log.txt": "trained\n"}
    settings = load_settings(environ={**dict(standin_settings.values), **azurite.env("data")},
                             base_dir=tmp_path)
    done = download(settings, run.run_id, tmp_path / "out", step="train", workspace=workspace,
                    out=None)
    model = tmp_path / "out" / "train" / "outputs" / "model"
    assert sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.is_file()) == [
        "meta/info.json", "weights.bin"]
    assert (model / "weights.bin").read_bytes() == b"\x00w" * 1000
    assert (tmp_path / "out" / "train" / "logs" / "user_logs" / "std_log.txt").read_text() == "trained\n"
    assert [d["kind"] for d in done] == ["output", "logs"]
    assert done[0]["path"] == f"azureml/{train}/model" and done[0]["files"] == 2
    (outputs_call,) = standin.calls_to("POST", f"/PipelineRuns/{run.run_id}/Outputs")
    assert outputs_call.body == [step_runs(standin, run.run_id)["train"]["tags"]["azureml.nodeid"]]
    assert KEY not in repr(done)
