"""A fan-out / fan-in graph with pipeline parameters, and the environment contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e


def _seen(run, step: str, output: str) -> dict:
    return json.loads((Path(run.step(step).outputs[output]) / "contract.json").read_text())


def test_fan_out_fan_in_runs_branches_at_the_same_time(proj: Project) -> None:
    proj.copy("graph")
    run = proj.run(max_parallel=2)
    assert run.status == "Completed", proj.outputs[-1]
    merged = Path(run.step("merge").outputs["merged"]) / "merged.txt"
    # numbers 1, 2, 3: left [1] right [2, 3]; lr 0.1; left epochs 2, right default 1
    tag, value = merged.read_text().split(":")
    assert tag == "base" and float(value) == pytest.approx(0.7)
    left, right = _seen(run, "train_left", "model"), _seen(run, "train_right", "model_right")
    assert left["start"] < right["end"] and right["start"] < left["end"], "branches did not overlap"


def test_one_slot_runs_branches_one_after_the_other(proj: Project) -> None:
    proj.copy("graph")
    run = proj.run(max_parallel=1)
    left, right = _seen(run, "train_left", "model"), _seen(run, "train_right", "model_right")
    assert left["end"] <= right["start"] or right["end"] <= left["start"]


def test_parameters_reach_arguments_and_environment(proj: Project) -> None:
    proj.copy("graph")
    run = proj.run(params=("lr=0.5", "use_gpu=true"))
    right = _seen(run, "train_right", "model_right")
    assert right["argv"][right["argv"].index("--lr") + 1] == "0.5"
    assert right["argv"][right["argv"].index("--use_gpu") + 1] == "True"
    assert right["env"]["AML_PARAMETER_lr"] == "0.5"
    assert right["env"]["AML_PARAMETER_use_gpu"] == "True"
    assert "AML_PARAMETER_epochs" not in right["env"]  # only the parameters the step uses
    assert "AML_PARAMETER_tag" in _seen(run, "merge", "merged")["env"]


def test_parameter_change_reruns_only_the_steps_that_use_it(proj: Project) -> None:
    proj.copy("graph")
    proj.run()
    again = proj.run(params=("lr=0.2",))
    assert again.step("split").status == "Reused"
    assert again.step("train_left").reason == "parameter lr changed"
    assert again.step("train_right").reason == "parameter lr changed"
    assert again.step("merge").reason == "upstream changed: train_left, train_right"
    tag = proj.run(params=("lr=0.2", "tag=other"))
    assert [s.status for s in tag.steps] == ["Reused", "Reused", "Reused", "Completed"]
    assert tag.step("merge").reason == "parameter tag changed"


def test_environment_contract(proj: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    proj.copy("graph")
    (proj.root / ".env").write_text("BLOB_ACCOUNT_NAME=acct\nMY_DB_PASSWORD=from-dotenv\n")
    monkeypatch.setenv("BLOB_ACCOUNT_KEY", "shell-exported-key")
    monkeypatch.setenv("MY_API_TOKEN", "passed-on-purpose")
    monkeypatch.setenv("AZML_STEP_SECRETS", "MY_API_TOKEN")
    monkeypatch.setenv("AZUREML_RUN_ID", "stale-from-shell")
    run = proj.run()
    split = _seen(run, "split", "left")
    env = split["env"]
    assert env["AZUREML_RUN_ID"] == run.step("split").step_run_id
    assert env["AZUREML_DATAREFERENCE_raw"] == str(proj.datastores / "blobstore" / "raw")
    assert env["AZUREML_DATAREFERENCE_left"].endswith("split/outputs.partial/left")
    assert env["STEP_GREETING"] == "hello from split"
    assert "PYTHONUNBUFFERED" not in env  # AzureML does not set it; python -u keeps logs live
    assert "BLOB_ACCOUNT_KEY" not in env
    assert env["MY_API_TOKEN"] == "passed-on-purpose"
    assert "MY_DB_PASSWORD" not in json.dumps(split)
    left = _seen(run, "train_left", "model")["env"]
    assert left["AZUREML_DATAREFERENCE_part"].endswith("split/outputs/left")
    assert left["AZUREML_DATAREFERENCE_model"].endswith("train_left/outputs.partial/model")
    merge = _seen(run, "merge", "merged")["env"]
    assert merge["AZUREML_DATAREFERENCE_a"].endswith("train_left/outputs/model")
    assert merge["AZUREML_DATAREFERENCE_b"].endswith("train_right/outputs/model_right")
    assert merge["AZUREML_DATAREFERENCE_merged"].endswith("merge/outputs.partial/merged")
    assert "STEP_GREETING" not in merge


def test_download_mode_gives_a_private_copy(proj: Project) -> None:
    proj.script("src/touch.py", "import os, sys\n"
                "open(os.path.join(sys.argv[1], 'a.txt'), 'w').write('changed')\n"
                "print(os.path.realpath(sys.argv[1]))\n")
    proj.write_config({"touch": {
        "type": "PythonScriptStep", "name": "touch", "script": "touch.py", "source_directory": "src",
        "inputs": {"raw": {"datastore": "blobstore", "path": "raw", "mode": "download"}},
        "arguments": ["${{inputs.raw}}"]}})
    run = proj.run()
    assert run.status == "Completed"
    assert (proj.datastores / "blobstore" / "raw" / "a.txt").read_text() == "1\n2\n"
    copy = Path(Path(run.step("touch").log).read_text().strip())
    assert copy.is_relative_to(proj.home) and (copy / "a.txt").read_text() == "changed"
