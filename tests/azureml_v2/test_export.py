"""``azml export``: the YAML of the demo (with its ParallelRunStep), the original project's, a
fan-in, dataset inputs and an original-form ParallelRunStep loads back, with no network,
into a job equal to the plan (steps, commands or parallel settings, inputs, outputs,
distribution, compute, ordering)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azml.api import load
from azml.cli import main
from azml.targets.azureml_v2.build import job_view
from azml.targets.azureml_v2.yaml_io import load_job_file
from tests.azureml_v2.plan_view import assert_job_matches_plan, parallel_fixture
from tests.conftest import REPO

#: (config, the folder it is run from, as its relative paths expect)
CONFIGS = {
    "demo": (REPO / "configs" / "pipeline_config.json", REPO),
    "original": (REPO / "tests/fixtures/original_project/pipeline_config.json",
                 REPO / "tests/fixtures/original_project"),
    "fanin": (REPO / "tests/fixtures/local/fanin_v2/pipeline_config.json", REPO / "tests/fixtures/local/fanin_v2"),
    "datasets": (REPO / "tests/fixtures/azure/taxi/pipeline_config.json", REPO / "tests/fixtures/azure/taxi"),
    "datasets_original": (REPO / "tests/fixtures/azure/taxi/pipeline_config.original.json",
                          REPO / "tests/fixtures/azure/taxi"),
}
LOAD = ("import json,sys; from azml.targets.azureml_v2.build import job_view;"
        "from azml.targets.azureml_v2.yaml_io import load_job_file;"
        "print(json.dumps(job_view(load_job_file(sys.argv[1]))))")


def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], check=False, capture_output=True).returncode == 0


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_exported_yaml_loads_offline_into_the_plan(name: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config, cwd = CONFIGS[name]
    monkeypatch.chdir(cwd)
    export_and_load(config, tmp_path, capsys)


def test_an_original_form_parallel_run_step_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = parallel_fixture(tmp_path)
    monkeypatch.chdir(config.parent)
    nodes = export_and_load(config, tmp_path, capsys)["nodes"]
    assert (nodes["step2"]["type"], nodes["step2"]["input_data"]) == ("parallel", "${{inputs.input_data}}")
    assert nodes["step2"]["inputs"]["input_data"]["bind"] == "step1.numbers"


def test_the_demo_exports_its_scoring_step_as_a_parallel_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config, cwd = CONFIGS["demo"]
    monkeypatch.chdir(cwd)
    score = export_and_load(config, tmp_path, capsys)["nodes"]["score"]
    assert (score["type"], score["entry_script"], score["append_row_to"]) == (
        "parallel", "score.py", "${{outputs.predictions}}")
    assert score["inputs"]["model"] == {"bind": "train.model", "mode": "ro_mount", "type": "custom_model"}
    codes = [line.split("code:", 1)[1].strip() for line in
             (tmp_path / "out" / "pipeline.yml").read_text().splitlines() if line.strip().startswith("code:")]
    # every code path, the parallel task's (on the node and in its component) too, is relative
    assert len(codes) == 6 and not any(code.startswith("/") for code in codes), codes


def test_dataset_inputs_export_as_data_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config, cwd = CONFIGS["datasets"]
    monkeypatch.chdir(cwd)
    nodes = export_and_load(config, tmp_path, capsys)["nodes"]
    assert nodes["cleanse_green"]["inputs"]["raw_data"] == {"uri": "azureml:green_taxi:2", "mode": "ro_mount",
                                                            "type": "uri_folder"}
    assert nodes["cleanse_yellow"]["inputs"]["raw_data"]["mode"] == "download"


def export_and_load(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    """Export ``config`` (from the working directory) and check the YAML, loaded in-process and
    again in a process without network, against the plan; the loaded job's view."""
    target = tmp_path / "out" / "pipeline.yml"
    target.parent.mkdir()
    assert main(["export", str(config), "-o", str(target), "--experiment", "exp-1"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    plan = load(config).plan
    view = job_view(load_job_file(target))
    assert_job_matches_plan(view, plan, "exp-1")  # in-process, socket guard on
    if not _unshare_works():
        pytest.skip("unshare -n is not permitted here; the in-process load above ran under the socket guard")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", LOAD, str(target)], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert_job_matches_plan(json.loads(done.stdout.splitlines()[-1]), plan, "exp-1")
    return view


def test_export_of_the_fanin_carries_ordering_model_and_spot(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config, cwd = CONFIGS["fanin"]
    monkeypatch.chdir(cwd)
    assert main(["export", str(config), "-o", str(tmp_path / "p.yml")]) == 0
    nodes = job_view(load_job_file(tmp_path / "p.yml"))["nodes"]
    assert nodes["train"]["inputs"]["azml_after_audit"] == {"bind": "audit.azml_done", "mode": "direct",
                                                            "type": "uri_folder"}
    assert nodes["report"]["inputs"]["azml_after_prep_b"]["bind"] == "prep_b.azml_done"
    assert nodes["train"]["outputs"]["model"]["asset_name"] == "unet"
    assert nodes["report"]["inputs"]["model"]["type"] == "custom_model"
    assert (nodes["train"]["job_tier"], nodes["train"]["instance_count"]) == ("spot", 2)
    assert nodes["report"]["compute"] == "cpu-cluster"
    # a literal reaches argv as one token, its $VAR expanded as on SDK v1
    assert '"a b; ${HOME-\\$HOME}"' in nodes["prep_a"]["command"]


def test_export_refuses_what_v2_cannot_express(write_config, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"a": {"type": "PythonScriptStep", "name": "a", "script": "a.py",
                               "source_directory": "src", "outputs": ["keys"],
                               "arguments": ["--out", "${{outputs.keys}}"]}})
    assert main(["export", str(path), "-o", str(tmp_path / "p.yml")]) == 2
    assert "a.outputs.keys: is a reserved word in v2 pipelines" in capsys.readouterr().err
    assert not (tmp_path / "p.yml").exists()


def test_export_into_a_missing_folder_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config, cwd = CONFIGS["original"]
    monkeypatch.chdir(cwd)
    assert main(["export", str(config), "-o", str(tmp_path / "nope" / "p.yml")]) == 2
    assert "does not exist" in capsys.readouterr().err
