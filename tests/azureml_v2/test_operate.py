"""Operate v2 pipeline jobs against the stand-in: status, logs (--follow), download; publish
to a batch endpoint, schedule, list and disable schedules.

Outputs are resolved as ``jobs.download`` resolves them and fetched from a real Azurite,
which stands for the workspace's blob account (the stand-in's default datastore
points at it).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from azml.targets.azureml_v2.build import build_pipeline_job
from azml.targets.azureml_v2.jobs import V2Run, submit_job
from tests.azureml_v2.specs import fanin_spec, project
from tests.azureml_v2.standin import StandIn
from tests.azurite.server import ACCOUNT, KEY, Azurite, running

NODES = ["prepare_a", "prepare_b", "train", "report"]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running(tmp_path_factory.mktemp("azurite"), "the download tests") as server:
        yield server


def built(tmp_path: Path) -> Any:
    return build_pipeline_job(fanin_spec(project(tmp_path / "proj")))


def submitted(workspace: Any, standin: StandIn, tmp_path: Path) -> V2Run:
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    return submit_job(workspace, built(tmp_path), "DEV-train-pipeline", out=io.StringIO(), poll=0.01)


def test_status_with_steps_durations_ids_and_reuse(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    from azml.targets.azureml_v2.operate import job_record

    run = submitted(workspace, standin, tmp_path)
    standin.finish(run.name, "Completed")
    for minute, node in enumerate(NODES):
        standin.child(run.name, node).update(startTimeUtc=f"2026-03-04T21:0{minute}:00Z",
                                             endTimeUtc=f"2026-03-04T21:0{minute}:45Z")
    standin.child(run.name, "prepare_b")["properties"].update(
        {"azureml.isreused": "true", "azureml.reusedrunid": "earlier-child"})
    record = job_record(workspace, run.name)
    assert (record["run_id"], record["status"], record["type"]) == (run.name, "Completed", "pipeline")
    assert record["portal_url"] == run.studio_url
    steps = {s["name"]: s for s in record["steps"]}
    assert list(steps) == NODES  # in the order the service created them
    assert steps["train"]["run_id"] == standin.child(run.name, "train")["runId"]
    assert steps["train"]["duration"] == 45.0
    assert steps["prepare_b"]["reused_from"] == {"run_id": "earlier-child", "pipeline_run_id": None}
    assert steps["prepare_a"]["reused_from"] is None


def test_follow_prints_new_output_until_the_step_ends(workspace: Any, standin: StandIn,
                                                      tmp_path: Path) -> None:
    from azml.targets.azureml_v2.operate import stream_logs

    run = submitted(workspace, standin, tmp_path)
    child = standin.child(run.name, "train")["runId"]
    log = "user_logs/std_log_process_0.txt"
    standin.write_log(child, "user_logs/std_log_process_1.txt", "rank 1\n")
    standin.stages[child] = [{"status": "Running", "logs": {log: "epoch 1\n"}},
                             {"status": "Running", "logs": {log: "epoch 1\nepoch 2\n"}},
                             {"status": "Running"},
                             {"status": "Completed", "logs": {log: "epoch 1\nepoch 2\ndone\n"}}]
    out, sleeps = io.StringIO(), []
    shown = stream_logs(workspace, run.name, step="train", follow=True, out=out, poll=3.0,
                        sleep=sleeps.append)
    assert shown == [log]
    assert out.getvalue() == f"==> {child}: {log} <==\nepoch 1\nepoch 2\ndone\n"
    assert sleeps == [3.0, 3.0, 3.0] and standin.stages[child] == []


def test_download_outputs_and_logs(workspace: Any, standin: StandIn, tmp_path: Path, azurite: Azurite) -> None:
    from azml.settings import load_settings
    from azml.targets.azureml_v2.operate import download

    container = f"ws{uuid.uuid4().hex[:16]}"
    azurite.service().create_container(container)
    store = standin.state["datastores"]["workspaceblobstore"]["properties"]
    store.update(accountName=ACCOUNT, containerName=container)
    run = submitted(workspace, standin, tmp_path)
    standin.finish(run.name, "Completed")
    child = standin.child(run.name, "train")["runId"]
    blobs = azurite.service().get_container_client(container)
    blobs.upload_blob(f"azureml/{child}/model/weights.bin", b"w" * 4096)
    blobs.upload_blob("azml/prepared/a/patch.npy", b"p")  # prepare_a's output, declared at that path
    standin.write_log(child, "user_logs/std_log_process_0.txt", "trained\n")
    settings = load_settings(environ=azurite.env("unused"), base_dir=tmp_path)
    done = download(workspace, settings, run.name, tmp_path / "out", step="train", out=None)
    assert (tmp_path / "out" / "train" / "outputs" / "model" / "weights.bin").read_bytes() == b"w" * 4096
    assert (tmp_path / "out" / "train" / "logs" / "user_logs" / "std_log_process_0.txt").read_text() == "trained\n"
    assert [(d["kind"], d.get("path")) for d in done] == [("output", f"azureml/{child}/model/"), ("logs", None)]
    only = download(workspace, settings, run.name, tmp_path / "one", step="prepare_a", output="patches",
                    out=None)
    assert [(d["name"], d["path"]) for d in only] == [("patches", "azml/prepared/a/")]
    assert (tmp_path / "one" / "prepare_a" / "outputs" / "patches" / "patch.npy").read_bytes() == b"p"
    assert KEY not in repr(done) + repr(only)


def test_publish_registers_a_component_and_deploys_it_as_the_default(workspace: Any, standin: StandIn,
                                                                     tmp_path: Path) -> None:
    from azml.targets.azureml_v2.publish import publish

    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    first = publish(workspace, built(tmp_path), name="fanin", compute="cpu-cluster")
    (component,) = [c for c in standin.calls_to("PUT", "/components/fanin/versions/")]
    spec = component.body["properties"]["componentSpec"]
    assert spec["type"] == "pipeline" and set(spec["inputs"]) == {"epochs", "lr"}
    assert first["component"] == "fanin:1" and first["endpoint"] == "fanin"
    assert first["rest_endpoint"] == "https://fanin.westus.inference.ml.azure.com/jobs"
    (deploy,) = standin.calls_to("PUT", "/batchEndpoints/fanin/deployments/fanin-v1")
    configuration = deploy.body["properties"]["deploymentConfiguration"]
    assert configuration["deploymentConfigurationType"] == "PipelineComponent"
    assert configuration["componentId"]["assetId"].endswith("/components/fanin/versions/1")
    assert configuration["settings"]["default_compute"] == "cpu-cluster"
    endpoint = standin.state["batch_endpoints"]["fanin"]["properties"]
    assert endpoint["defaults"]["deploymentName"] == "fanin-v1"
    body = json.loads(first["example"].split(" -d ", 1)[1].strip("'"))
    assert body["properties"]["inputData"] == {"epochs": {"jobInputType": "Literal", "value": 3},
                                               "lr": {"jobInputType": "Literal", "value": 0.5}}
    second = publish(workspace, built(tmp_path), name="fanin", compute="cpu-cluster")
    assert second["component"] == "fanin:2" and second["deployment"] == "fanin-v2"
    assert standin.state["batch_endpoints"]["fanin"]["properties"]["defaults"]["deploymentName"] == "fanin-v2"


def test_schedule_cron_and_every_list_and_unschedule(workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    from azml.cron import parse_cron, parse_every
    from azml.targets.azureml_v2.publish import list_schedules, schedule, unschedule

    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    nightly = schedule(workspace, built(tmp_path), name="nightly", cron=parse_cron("0 2 1 * *"),
                       experiment="fanin")
    hourly = schedule(workspace, built(tmp_path), name="hourly", every=parse_every("6h"))
    put = standin.calls_to("PUT", "/schedules/nightly")[0].body["properties"]
    assert put["trigger"]["triggerType"] == "Cron" and put["trigger"]["expression"] == "0 2 1 * *"
    assert put["action"]["actionType"] == "CreateJob"
    assert put["action"]["jobDefinition"]["experimentName"] == "fanin"
    every = standin.calls_to("PUT", "/schedules/hourly")[0].body["properties"]["trigger"]
    # the SDK sends the frequency as given (lower case; the service's enum is case-insensitive)
    assert (every["triggerType"], every["frequency"], every["interval"]) == ("Recurrence", "hour", 6)
    assert (nightly["recurrence"], hourly["recurrence"]) == ("cron 0 2 1 * *", "every 6 hours")
    assert sorted(s["name"] for s in list_schedules(workspace)) == ["hourly", "nightly"]
    assert unschedule(workspace, "nightly")["status"] == "Disabled"
    assert [s["name"] for s in list_schedules(workspace)] == ["hourly"]
    assert {s["name"]: s["status"] for s in list_schedules(workspace, active_only=False)} == {
        "hourly": "Active", "nightly": "Disabled"}


def test_unknown_schedule(workspace: Any, standin: StandIn) -> None:
    from azml.errors import ScheduleNotFoundError
    from azml.targets.azureml_v2.publish import unschedule

    with pytest.raises(ScheduleNotFoundError, match="no schedule named or with id 'nope' in workspace "
                       "'azml-ws' .there are none."):
        unschedule(workspace, "nope")


