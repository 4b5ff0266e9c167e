"""Local runs under both contracts: the same argv, each SDK's own variables and no others.

The fan-in fixture (data inputs in mount and download mode, an MPI step, parameters,
depends_on) runs once under AzureML v1's contract and once under v2's (``azml run
--target azureml-v2``); every step records its argv and environment.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project

pytestmark = [pytest.mark.e2e, pytest.mark.mpi]
STEPS = ("prep_a", "prep_b", "audit", "train", "report")
OUT = {"prep_a": "part_a", "prep_b": "part_b", "audit": "report", "train": "model", "report": "summary"}


def _seen(run: Any, step: str, rank: int = 0) -> dict[str, Any]:
    return json.loads((Path(run.step(step).outputs[OUT[step]]) / f"contract_{rank}.json").read_text())


def _names(env: dict[str, str], *prefixes: str) -> set[str]:
    return {k for k in env if k.startswith(prefixes)}


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no MPI launcher")
def test_same_argv_and_each_sdks_variables(proj: Project) -> None:
    proj.copy("fanin_v2")
    v1 = proj.run(max_parallel=2)
    assert v1.status == "Completed", proj.outputs[-1]
    done = proj.cli("run", "pipeline_config.json", "--target", "azureml-v2", "--max-parallel", "2", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    v2 = _latest(proj)
    for step in STEPS:
        old, new = _seen(v1, step), _seen(v2, step)
        assert _normalised(old["argv"], v1, step) == _normalised(new["argv"], v2, step), step
        assert not _names(new["env"], "AZUREML_DATAREFERENCE_", "AML_PARAMETER_"), step
        assert not _names(old["env"], "AZURE_ML_"), step
        assert new["env"]["AZUREML_RUN_ID"] == v2.step(step).step_run_id
    prep_a, train = _seen(v2, "prep_a"), _seen(v2, "train")
    assert _names(prep_a["env"], "AZURE_ML_") == {"AZURE_ML_INPUT_raw", "AZURE_ML_OUTPUT_part_a"}
    # $HOME expanded in the step's own process, as v1's driver and a v2 command's shell do
    assert prep_a["argv"][prep_a["argv"].index("--label") + 1] == f"a b; {proj.env['HOME']}"
    assert _names(_seen(v2, "audit")["env"], "AZURE_ML_") == {"AZURE_ML_OUTPUT_report", "AZURE_ML_OUTPUT_azml_done"}
    assert _names(train["env"], "AZURE_ML_") == {"AZURE_ML_INPUT_a", "AZURE_ML_INPUT_b", "AZURE_ML_INPUT_azml_after_audit",
                                                 "AZURE_ML_OUTPUT_model"}
    # the order port is a real folder: the audit step's (empty) azml_done output
    assert train["env"]["AZURE_ML_INPUT_azml_after_audit"] == v2.step("audit").outputs["azml_done"]
    assert Path(v2.step("audit").outputs["azml_done"]).is_dir()
    assert train["env"]["AZURE_ML_INPUT_a"] == train["argv"][train["argv"].index("--a") + 1]
    assert _seen(v2, "train", 1)["env"]["AZURE_ML_OUTPUT_model"] == train["env"]["AZURE_ML_OUTPUT_model"]
    report = _seen(v2, "report")
    assert report["env"]["AZURE_ML_INPUT_azml_after_prep_b"] == v2.step("prep_b").outputs["azml_done"]
    # v1 names the same data by binding name, and passes parameters as variables
    assert _seen(v1, "train")["env"]["AML_PARAMETER_epochs"] == "3"


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no MPI launcher")
def test_switching_contract_reruns_and_says_why(proj: Project) -> None:
    proj.copy("fanin_v2")
    assert proj.run(max_parallel=2).status == "Completed"
    v2 = proj.run(max_parallel=2, flavor="azureml_v2")
    assert v2.status == "Completed", proj.outputs[-1]
    assert v2.step("prep_a").reason.startswith("contract changed (AzureML v1 or v2 variables)")
    again = proj.run(max_parallel=2, flavor="azureml_v2")
    assert [again.step(s).status for s in ("prep_a", "audit")] == ["Reused", "Reused"]
    assert again.step("prep_b").status == "Completed"  # allow_reuse false
    assert again.step("train").reason == "upstream changed: prep_b"


def _latest(proj: Project) -> Any:
    return _Run(json.loads(proj.cli("status", "--json").stdout)[0])


class _Run:
    """A run as ``azml status --json`` shows it, with the accessors the test uses."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.steps = {s["id"]: _Step(s) for s in record["steps"]}

    def step(self, sid: str) -> Any:
        return self.steps[sid]


class _Step:
    def __init__(self, record: dict[str, Any]) -> None:
        self.outputs = record["outputs"]
        self.step_run_id = record["step_run_id"]


def _normalised(argv: list[str], run: Any, step: str) -> list[str]:
    """argv with this run's own folders (which differ between two runs) made symbolic."""
    folders = {}
    for sid in STEPS:
        for name, path in run.step(sid).outputs.items():
            folders[path] = f"<{sid}.{name}>"
            folders[path.replace("/outputs/", "/outputs.partial/")] = f"<{sid}.{name}>"
    return [folders.get(token, _download(token)) for token in argv]


def _download(token: str) -> str:
    """A download-mode input is a private copy inside the step's own folder."""
    return "<download>" if "/inputs/" in token else token


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no MPI launcher")
def test_demo_training_scripts_run_under_the_v2_contract(proj: Project) -> None:
    from tests.e2e.test_demo_pipeline import tiny_config

    tiny_config(proj)
    done = proj.cli("run", "tiny.json", "--param", "epochs=1", "--target", "azureml-v2", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads(proj.cli("status", "--json").stdout)[0]
    assert [s["status"] for s in run["steps"]] == ["Completed"] * 5
    steps = {s["id"]: s for s in run["steps"]}
    train = json.loads((Path(steps["train"]["outputs"]["model"]) / "metrics.json").read_text())
    assert train["world_size"] == 2 and train["epochs"] == 1
    assert (Path(steps["evaluate"]["outputs"]["evaluation"]) / "metrics.json").is_file()
    # the ParallelRunStep ran as the v2 parallel node does: its rows file under the node's name for it
    assert (Path(steps["score"]["outputs"]["predictions"]) / "scores.txt").read_text().strip()
