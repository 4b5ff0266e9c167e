"""ParallelRunStep configs: validation, and what the plan makes of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from azml.api import load
from azml.errors import ConfigError
from tests.conftest import step

CLUSTER = {"cluster_name": "cpu-cluster", "vm_size": "Standard_D2_v2"}


def prs(script: str = "b.py", **fields: Any) -> dict[str, Any]:
    """A ParallelRunStep on a named cluster reading ``first.out``."""
    base = step(script, type="ParallelRunStep", inputs={"images": "first.out"}, compute=CLUSTER)
    base.update(fields)
    return base


def config(write_config, **score: Any) -> Path:  # type: ignore[no-untyped-def]
    return write_config({
        "first": step("a.py", outputs=["out", "model"]),
        "score": prs(**score),
    })


def problems(path: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(path)
    return {p.path: p.message for p in caught.value.problems}


def test_the_model_of_a_step_output_is_the_input_model_passed_in_arguments(write_config) -> None:
    plan = load(config(write_config, model="first.model", outputs=["rows"],
                       output_action="append_row", arguments=["--model", "${{inputs.model}}"])).plan
    score = plan.steps["score"]
    assert score.partitioned_inputs == ("images",) and score.model_input == "model"
    model = score.inputs["model"]
    # the upstream PipelineData itself is the side input: v1 sees it under its own name
    assert (model.kind, model.step_id, model.output, model.binding_name) == (
        "step_output", "first", "model", "model")
    assert score.data_upstream == ("first",) and score.output_name == "rows"
    assert score.allow_reuse is False  # the original project's ParallelRunStep
    assert [v.name for v in score.variables("azureml_v1")] == [
        "AZUREML_RUN_ID", "AZUREML_DATAREFERENCE_model", "AZUREML_DATAREFERENCE_rows"]
    assert "AZURE_ML_INPUT_images" in [v.name for v in score.variables("azureml_v2")]


def test_a_registered_model_is_an_input_too_and_v1_is_warned(write_config) -> None:
    loaded = load(config(write_config, model={"name": "unet", "version": 3},
                         arguments=["--model", "${{inputs.model}}"]))
    model = loaded.plan.steps["score"].inputs["model"]
    assert (model.kind, model.model_name, model.model_version) == ("registered_model", "unet", 3)
    (warning,) = [w for w in loaded.plan.warnings if w.path == "score.model"]
    assert "AzureML v2 only" in warning.message and "STEP.OUTPUT" in warning.message


def test_inputs_model_without_a_model_is_unknown(write_config) -> None:
    found = problems(config(write_config, arguments=["--model", "${{inputs.model}}"]))
    assert "no input 'model'" in found["score.arguments[1]"]


def test_a_model_no_argument_passes_is_a_warning(write_config) -> None:
    loaded = load(config(write_config, model="first.model"))
    assert any(w.path == "score.model" and "${{inputs.model}}" in w.message
               for w in loaded.plan.warnings)


@pytest.mark.parametrize(("fields", "path", "expected"), [
    ({"arguments": ["--images", "${{inputs.images}}"]}, "score.arguments[1]",
     "split into mini-batches"),
    ({"output_action": "append_row"}, "score.output_action", "needs an output"),
    ({"outputs": ["a", "b"]}, "score.outputs", "one output"),
    ({"model": "first.model", "inputs": {"model": "first.out"}}, "score.inputs.model",
     "give this input another name"),
    ({"model": "first.nope"}, "score.model", "has no output 'nope'"),
    ({"mini_batch_size": "10 MB"}, "score.mini_batch_size", "10MB"),
    ({"compute": {"vm_size": "Standard_D2_v2"}}, "score.compute.cluster_name",
     "needs a named compute cluster"),
])
def test_parallel_problems_name_the_key(write_config, fields: dict[str, Any], path: str,
                                        expected: str) -> None:
    assert expected in problems(config(write_config, **fields))[path]


def test_the_cluster_may_come_from_the_settings(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(write_config, compute={"vm_size": "Standard_D2_v2"})
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_NAME", "batch")
    assert load(path).plan.steps["score"].compute.cluster_name == "batch"


def test_allow_reuse_can_be_turned_on(write_config) -> None:
    assert load(config(write_config, allow_reuse=True)).plan.steps["score"].allow_reuse is True


def test_original_form_appends_nothing_and_partitions_the_previous_output(write_config,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("AML_COMPUTE_CLUSTER_NAME", "cpu-cluster")
    plan = load(write_config({
        "step1": step("a.py", input_datareference_path="raw/", input_datareference_name="raw",
                      input_dataset_name="store", output="items"),
        "step2": {**step("b.py", type="ParallelRunStep", mini_batch_size="2", output="scores",
                         output_action="append_row", arguments=["--factor", "3"])},
    })).plan
    score = plan.steps["step2"]
    assert score.command_line() == ["python", "b.py", "--factor", "3"]
    assert score.partitioned_inputs == ("input_data",)
    assert score.inputs["input_data"].binding_name == "items"
    assert score.parallel is not None and score.parallel.mini_batch_size == "2"
    assert (score.parallel.error_threshold, score.parallel.run_invocation_timeout) == (10, 60)


def test_a_parallel_environment_adds_the_batch_driver_packages_on_v2_only(write_config) -> None:
    plan = load(config(write_config)).plan
    env, other = plan.steps["score"].environment, plan.steps["first"].environment
    assert env.pip_lines("azureml_v1") == other.pip_lines("azureml_v1")  # azureml-defaults has them
    assert env.added("azureml_v2") == ("azureml-core", "azureml-dataset-runtime[fuse]")
    assert other.added("azureml_v2") == ()
