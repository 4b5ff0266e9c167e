"""A planned ParallelRunStep as a v2 parallel node, through the translation: built offline with
real azure-ai-ml objects, out to YAML and back, and what v2 refuses named by ``validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from azml.cli import main
from azml.targets.azureml_v2.parallel import ParallelNode, RegisteredModelInput, parallel_problems
from azml.targets.azureml_v2.spec import DatasetInput, NodeOutputInput, spec_view

ENTRY = "def init():\n    pass\n\n\ndef run(batch):\n    return batch\n"


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **score: Any) -> Path:
    """train -> score (a ParallelRunStep reading a datastore folder), ``score`` merged in."""
    (tmp_path / "src").mkdir(exist_ok=True)
    for name in ("train.py", "score.py"):
        (tmp_path / "src" / name).write_text(ENTRY)
    doc = {
        "parameters": {"threshold": 0.5},
        "train": {"type": "PythonScriptStep", "name": "train", "script": "train.py",
                  "source_directory": "src", "outputs": ["model"],
                  "arguments": ["--out", "${{outputs.model}}"], "compute": {"vm_size": "Standard_DS3_v2"}},
        "score": {"type": "ParallelRunStep", "name": "score images", "script": "score.py",
                  "source_directory": "src", "node_count": 2, "processes_per_node": 3,
                  "inputs": {"images": {"datastore": "f3", "path": "images/"}}, "outputs": ["rows"],
                  "model": "train.model", "output_action": "append_row", "mini_batch_size": "5",
                  "error_threshold": 4, "run_max_try": 2, "run_invocation_timeout": 30,
                  "logging_level": "DEBUG", "environment_variables": {"OMP_NUM_THREADS": "1"},
                  "arguments": ["--model", "${{inputs.model}}", "--threshold", "${{parameters.threshold}}",
                                "--tag", "a b $HOME"],
                  "compute": {"cluster_name": "cpu-cluster"}},
    }
    doc["score"].update(score)
    path = tmp_path / "pipeline_config.json"
    path.write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    return path


def score_node(path: Path) -> ParallelNode:
    from azml.api import load
    from azml.targets.azureml_v2.translate import plan_to_spec

    node = plan_to_spec(load(path).plan, experiment="batch").nodes[-1]
    assert isinstance(node, ParallelNode)
    return node


def test_every_setting_reaches_the_parallel_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.api import load
    from azml.targets.azureml_v2.translate import plan_to_spec, v2_problems

    plan = load(write(tmp_path, monkeypatch)).plan
    spec = plan_to_spec(plan, experiment="batch")
    assert v2_problems(plan, spec) == []
    view = spec_view(spec)["nodes"]["score"]
    assert (view["type"], view["entry_script"], view["input_data"], view["append_row_to"]) == (
        "parallel", "score.py", "${{inputs.images}}", "${{outputs.rows}}")
    assert (view["mini_batch_size"], view["error_threshold"], view["logging_level"]) == ("5", 4, "DEBUG")
    assert view["retry_settings"] == {"max_retries": 2, "timeout": 30}
    assert (view["max_concurrency_per_instance"], view["instance_count"], view["compute"]) == (3, 2, "cpu-cluster")
    assert view["is_deterministic"] is False  # a ParallelRunStep's allow_reuse defaults to false
    # quoted as a command's words: $HOME expands on the compute as SDK v1's driver expands it
    assert view["program_arguments"] == ('--model ${{inputs.model}} --threshold ${{inputs.threshold}} '
                                         '--tag "a b ${HOME-\\$HOME}"')
    assert view["inputs"] == {
        "images": {"uri": "azureml://datastores/f3/paths/images/", "mode": "ro_mount", "type": "uri_folder"},
        "model": {"bind": "train.model", "mode": "ro_mount", "type": "uri_folder"},
        "threshold": {"bind": "parameters.threshold"}}
    pip = view["conda_file"]["dependencies"][-1]["pip"]
    assert pip == list(plan.steps["score"].environment.pip_lines("azureml_v2"))
    assert pip[-2:] == ["azureml-core", "azureml-dataset-runtime[fuse]"]
    assert view["environment_variables"] == {"OMP_NUM_THREADS": "1"}


def test_the_built_and_the_yaml_loaded_job_equal_the_spec(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job, job_view
    from azml.targets.azureml_v2.translate import plan_to_spec
    from azml.targets.azureml_v2.yaml_io import dump_job, load_job_file

    spec = plan_to_spec(load(write(tmp_path, monkeypatch, depends_on=["train"])).plan, experiment="batch")
    job = build_pipeline_job(spec)
    assert job_view(job) == spec_view(spec)
    built = job._to_dict()["jobs"]["score"]
    assert built["inputs"]["model"] == {"path": "${{parent.jobs.train.outputs.model}}", "mode": "ro_mount"}
    assert built["inputs"]["threshold"] == {"path": "${{parent.inputs.threshold}}"}
    (tmp_path / "out").mkdir()
    target = dump_job(job, tmp_path / "out" / "pipeline.yml")
    text = target.read_text()
    assert "code: ../src" in text and str(tmp_path) not in text  # the task's code moves with the YAML
    loaded = load_job_file(target)
    assert job_view(loaded) == spec_view(spec)
    assert loaded.jobs["score"].type == "parallel"


def test_an_order_only_predecessor_is_an_order_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ParallelRunStep that waits for a step it reads nothing from gets azml's order input."""
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job, job_view
    from azml.targets.azureml_v2.translate import plan_to_spec

    path = write(tmp_path, monkeypatch, depends_on=["train"],
                 arguments=["--threshold", "${{parameters.threshold}}"])
    doc = json.loads(path.read_text())
    del doc["score"]["model"]
    path.write_text(json.dumps(doc))
    spec = plan_to_spec(load(path).plan, experiment="batch")
    view = job_view(build_pipeline_job(spec))
    assert view["nodes"]["score"]["inputs"]["azml_after_train"] == {
        "bind": "train.azml_done", "mode": "direct", "type": "uri_folder"}
    assert "azml_done" in view["nodes"]["train"]["outputs"]


def test_a_registered_model_is_a_custom_model_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job
    from azml.targets.azureml_v2.translate import plan_to_spec
    from azml.targets.azureml_v2.yaml_io import dump_job, load_job_file

    path = write(tmp_path, monkeypatch, model={"name": "unet", "version": 7})
    spec = plan_to_spec(load(path).plan, experiment="batch")
    assert spec.nodes[-1].inputs["model"] == RegisteredModelInput("unet", 7)
    target = dump_job(build_pipeline_job(spec), tmp_path / "pipeline.yml")
    loaded = load_job_file(target)._to_dict()["jobs"]["score"]
    assert loaded["inputs"]["model"] == {"type": "custom_model", "path": "azureml:unet:7", "mode": "ro_mount"}
    assert RegisteredModelInput("unet").uri == "azureml:unet@latest"


def test_the_rows_file_name_and_a_summary_output_go_to_the_driver(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What v2 has no field for reaches the driver's argument parser through the program arguments."""
    named = score_node(write(tmp_path, monkeypatch, append_row_file_name="scores.csv"))
    assert named.task_arguments == named.program_arguments + " --append_row_file_name scores.csv"
    default = score_node(write(tmp_path, monkeypatch))
    assert default.task_arguments == default.program_arguments
    summary = score_node(write(tmp_path, monkeypatch, output_action="summary_only"))
    assert summary.append_row_to is None
    assert summary.task_arguments == summary.program_arguments + " --output ${{outputs.rows}}"
    bare = score_node(write(tmp_path, monkeypatch, output_action="summary_only", outputs=[]))
    assert (bare.append_row_to, bare.task_arguments, dict(bare.outputs)) == (None, bare.program_arguments, {})


def test_a_dataset_is_split_into_mini_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = score_node(write(tmp_path, monkeypatch, inputs={"images": {"dataset": "f3_images", "version": 3}}))
    assert node.inputs["images"] == DatasetInput("f3_images", 3, "ro_mount")
    assert parallel_problems(node) == []
    assert node.inputs["model"] == NodeOutputInput("train", "model", "ro_mount", "uri_folder")


def test_validate_names_what_a_parallel_job_cannot_take(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, monkeypatch, inputs={"images": {"datastore": "f3", "path": "images/"},
                                                "masks": {"datastore": "f3", "path": "masks/"}})
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 2
    err = capsys.readouterr().err
    assert (f"{path}: score.inputs: a v2 parallel job splits one input into mini-batches, this step "
            "has 2 (images, masks); merge them into one folder") in err
    assert main(["validate", str(path)]) == 0  # v1 and local runs partition each input


@pytest.mark.parametrize("level", ["ERROR", "CRITICAL"])
def test_a_logging_level_only_v1_takes_is_a_v2_problem(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, monkeypatch, logging_level=level)
    assert main(["validate", str(path), "--target", "azureml-v2"]) == 2
    assert (f"{path}: score.logging_level: a v2 parallel job takes DEBUG, INFO, WARNING "
            f"(azure-ai-ml refuses '{level}')") in capsys.readouterr().err
    assert main(["validate", str(path)]) == 0  # v1's ParallelRunConfig passes it on unchecked


def test_a_local_run_under_the_v2_contract_refuses_what_v2_refuses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Not more lenient than the cloud: ``run --target azureml-v2`` stops where v2 would,
    before any step starts (no run is recorded)."""
    monkeypatch.setenv("AZML_HOME", str(tmp_path / "home"))
    path = write(tmp_path, monkeypatch, logging_level="ERROR")
    assert main(["run", str(path), "--target", "azureml-v2"]) == 2
    assert "score.logging_level: a v2 parallel job takes DEBUG, INFO, WARNING" in capsys.readouterr().err
    assert not (tmp_path / "home" / "runs").exists()


def test_the_sdk_refuses_the_logging_levels_azml_refuses(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Why ERROR is a problem: azure-ai-ml's parallel schema fails the job's serialization. If
    this starts to fail, the SDK takes more levels and ``LOGGING_LEVELS`` can grow."""
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job
    from azml.targets.azureml_v2.translate import plan_to_spec

    def built(level: str) -> Any:
        plan = load(write(tmp_path, monkeypatch, logging_level=level)).plan
        return build_pipeline_job(plan_to_spec(plan, experiment="batch"))

    assert built("WARNING")._to_rest_object().properties.jobs["score"]["logging_level"] == "WARNING"
    with pytest.raises(Exception, match=r"Value 'ERROR' passed is not in set \['DEBUG', 'INFO', 'WARNING'\]"):
        built("ERROR")._to_rest_object()


def test_the_demo_plans_for_v2_without_the_sdk() -> None:
    """``plan --target azureml-v2`` of the demo in a fresh interpreter: no azure module, no network."""
    from tests.azureml_v2.conftest import plan_in_fresh_interpreter
    from tests.conftest import REPO

    out = plan_in_fresh_interpreter(REPO, "configs/pipeline_config.json", "--target", "azureml-v2")
    assert "score: node 'score' \"batch-score held-out F3 inlines\"" in out
    assert ("  parallel: score.py over ${{inputs.sections}}, mini_batch_size 8, rows to "
            "${{outputs.predictions}}") in out
    assert "  program_arguments: --model ${{inputs.model}} --append_row_file_name scores.txt" in out
    assert "  compute: cluster cpu-cluster x 1, 2 processes per instance" in out
