"""The ParallelRunStep builder: real SDK objects, built on the offline workspace.

The autouse socket guard (conftest) fails any test that reaches for the network.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from azml.errors import AzmlError


@pytest.fixture
def parts(tmp_path: Path) -> dict[str, Any]:
    from azureml.core import Environment
    from azureml.data.azure_storage_datastore import AzureBlobDatastore

    from azml.targets.azureml_v1.builder import offline_workspace

    source = tmp_path / "score"
    source.mkdir()
    (source / "batch_score.py").write_text("def init():\n    pass\n\ndef run(b):\n    return b\n")
    workspace = offline_workspace()
    environment = Environment(name="azml-score")
    return {"source": str(source), "env": environment,
            "datastore": AzureBlobDatastore(workspace, "f3", "container", "account")}


def config(parts: dict[str, Any], **settings: Any) -> Any:
    from azml.config.model import ParallelSettings
    from azml.targets.azureml_v1.parallel import build_parallel_run_config

    parameters = settings.pop("parameters", None)
    counts = {k: settings.pop(k) for k in ("node_count", "process_count_per_node") if k in settings}
    return build_parallel_run_config(
        source_directory=parts["source"], entry_script="batch_score.py", environment=parts["env"],
        compute_target="gpu-cluster", settings=ParallelSettings(**settings), parameters=parameters,
        **counts)


def literal(args: list[Any], flag: str) -> Any:
    return args[args.index(flag) + 1]


def test_original_defaults_datastore_input_and_output(parts: dict[str, Any]) -> None:
    from azureml.data.dataset_consumption_config import DatasetConsumptionConfig
    from azureml.pipeline.core import PipelineData
    from azureml.pipeline.steps import ParallelRunStep

    from azml.targets.azureml_v1.parallel import build_parallel_run_step, datastore_file_input

    parts["env"].python.conda_dependencies.add_pip_package("azureml-defaults>=1.57")  # as the plan adds
    images = datastore_file_input(parts["datastore"], "images/", "images")
    scores = PipelineData("scores", datastore=parts["datastore"], is_directory=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*ParallelRunStep requires.*")
        step = build_parallel_run_step(name="batch-score", config=config(parts), inputs=[images],
                                       output=scores, arguments=["--model_name", "unet"])
    assert isinstance(step, ParallelRunStep) and isinstance(images, DatasetConsumptionConfig)
    args = step._arguments
    assert literal(args, "--error_threshold") == 10
    assert literal(args, "--output_action") == "summary_only"
    assert literal(args, "--run_invocation_timeout") == 60
    assert literal(args, "--run_max_try") == 3
    assert literal(args, "--mini_batch_size") == 10  # the SDK's default for file input
    assert literal(args, "--output") is scores
    assert literal(args, "--model_name") == "unet"
    assert args[-2:] == ["--input_fds_0", "images"]
    assert step._allow_reuse is False
    assert step._parallel_run_config.compute_target == "gpu-cluster"


def test_upstream_output_and_pipeline_parameters(parts: dict[str, Any]) -> None:
    from azureml.pipeline.core import PipelineData, PipelineParameter

    from azml.targets.azureml_v1.parallel import build_parallel_run_step, step_output_input

    batch = PipelineParameter("mini_batch_size", default_value="5")
    tries = PipelineParameter("run_max_try", default_value=2)
    prepared = PipelineData("prepared", datastore=parts["datastore"], is_directory=True)
    out = PipelineData("rows", datastore=parts["datastore"], is_directory=True)
    cfg = config(parts, output_action="append_row", append_row_file_name="scores.txt",
                 parameters={"mini_batch_size": batch, "run_max_try": tries})
    step = build_parallel_run_step(name="batch-score", config=cfg,
                                   inputs=[step_output_input(prepared, "prepared")], output=out)
    args = step._arguments
    assert literal(args, "--mini_batch_size") is batch
    assert literal(args, "--run_max_try") is tries
    assert literal(args, "--append_row_file_name") == "scores.txt"
    assert args[-2:] == ["--input_fds_0", "prepared"]


def test_error_threshold_cannot_be_a_pipeline_parameter(parts: dict[str, Any]) -> None:
    from azureml.pipeline.core import PipelineParameter

    with pytest.raises(AzmlError, match="cannot be a pipeline parameter"):
        config(parts, parameters={"error_threshold": PipelineParameter("t", default_value=10)})


def test_a_data_reference_is_not_an_input_of_a_parallel_run_step(parts: dict[str, Any]) -> None:
    from azureml.data.data_reference import DataReference

    from azml.targets.azureml_v1.parallel import build_parallel_run_step

    reference = DataReference(parts["datastore"], data_reference_name="raw", path_on_datastore="raw/")
    with pytest.raises(AzmlError, match="partitions datasets only, not a DataReference"):
        build_parallel_run_step(name="batch-score", config=config(parts), inputs=[reference], output=None)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"arguments": ["--output", "x"]}, "'output' is a reserved argument"),
    ({"arguments": ["positional"]}, "you can only use keyword argument"),
    ({"output": None, "append": True}, "Please specify output parameter"),
])
def test_sdk_refusals_become_one_clear_error(parts: dict[str, Any], kwargs: dict[str, Any],
                                            message: str) -> None:
    from azml.targets.azureml_v1.parallel import build_parallel_run_step, datastore_file_input

    append = kwargs.pop("append", False)
    cfg = config(parts, output_action="append_row") if append else config(parts)
    images = datastore_file_input(parts["datastore"], "images/", "images")
    with pytest.raises(AzmlError, match=message):
        build_parallel_run_step(name="batch-score", config=cfg, inputs=[images],
                                output=kwargs.pop("output", None), **kwargs)


def test_a_bad_mini_batch_size_is_refused(parts: dict[str, Any]) -> None:
    with pytest.raises(AzmlError, match="mini_batch_size"):
        config(parts, mini_batch_size="10 MB")


def test_the_graph_has_a_batch_inferencing_node_running_azureml_driver(workspace: Any, standin: Any,
                                                                       tmp_path: Path) -> None:
    """Building the graph saves the FileDataset (POST .../saveddatasets) and names AzureML's driver."""
    import json

    from azureml.core import Environment
    from azureml.data.azure_storage_datastore import AzureBlobDatastore
    from azureml.pipeline.core import Pipeline, PipelineData

    from azml.config.model import ParallelSettings
    from azml.targets.azureml_v1.parallel import (
        build_parallel_run_config,
        build_parallel_run_step,
        datastore_file_input,
    )

    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(b):\n    return b\n")
    datastore = AzureBlobDatastore(workspace, "f3", "container", "account")
    cfg = build_parallel_run_config(source_directory=str(tmp_path), entry_script="score.py",
                                    environment=Environment("azml-score"), compute_target="gpu-cluster",
                                    settings=ParallelSettings(mini_batch_size="5"),
                                    process_count_per_node=2)
    step = build_parallel_run_step(name="batch-score", config=cfg,
                                   inputs=[datastore_file_input(datastore, "images/", "images")],
                                   output=PipelineData("scores", datastore=datastore))
    (node,) = Pipeline(workspace, steps=[step]).graph.module_nodes
    assert node.get_param("Script").value == "driver/amlbi_main.py"
    meta = json.loads(node.get_param("BatchInferencingMetaData").value)
    assert (meta["EntryScript"], meta["MiniBatchSize"], meta["ErrorThreshold"], meta["OutputAction"],
            meta["ProcessCountPerNode"], meta["ComputeName"]) == ("score.py", 5, 10, "summary_only", 2,
                                                                  "gpu-cluster")
    (saved,) = standin.state["saved_datasets"].values()
    assert saved["datasetType"] == "file" and "datastores/f3/paths/images/" in saved["dataflowJson"]


def test_tabular_input_from_a_datastore_folder(parts: dict[str, Any]) -> None:
    from azml.targets.azureml_v1.parallel import build_parallel_run_step, datastore_tabular_input

    parts["env"].python.conda_dependencies.add_pip_package("azureml-dataset-runtime[fuse,pandas]")
    rows = datastore_tabular_input(parts["datastore"], "iris/", "iris")
    assert rows.mode == "direct"
    from azureml.pipeline.core import PipelineData

    step = build_parallel_run_step(name="score-rows", config=config(parts, mini_batch_size="10MB",
                                                                    output_action="append_row"),
                                   inputs=[rows], output=PipelineData("o", datastore=parts["datastore"]))
    args = step._arguments
    assert literal(args, "--mini_batch_size") == 10 * 1024 * 1024
    assert args[-2:] == ["--input_ds_0", "iris"]


# -- from the plan (builder.build_sdk_steps) ---------------------------------------------

PARALLEL = FIXTURES / "local" / "parallel"


def plan_of(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from azml.api import load

    monkeypatch.chdir(folder)
    monkeypatch.delenv("AML_COMPUTE_CLUSTER_NAME", raising=False)
    return load(folder / "pipeline_config.json")


def sdk_of(loaded: Any) -> Any:
    from azml.targets.azureml_v1.builder import (
        build_sdk_steps,
        offline_datastores,
        offline_workspace,
    )

    with warnings.catch_warnings():
        # the SDK warns of missing driver packages; the plan's environment has them
        warnings.filterwarnings("error", message=".*ParallelRunStep requires.*")
        return build_sdk_steps(loaded.plan, loaded.settings,
                               offline_datastores(offline_workspace(), loaded.plan, loaded.settings))


def test_the_original_form_parallel_step_is_an_sdk_parallel_run_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from azureml.pipeline.core.pipeline_output_dataset import PipelineOutputFileDataset
    from azureml.pipeline.steps import ParallelRunStep

    from azml.targets.azureml_v1.describe import describe_pipeline

    sdk = sdk_of(plan_of(PARALLEL, monkeypatch))
    score = sdk.steps["step2"]
    assert isinstance(score.step, ParallelRunStep) and score.step._allow_reuse is False
    (items,) = score.step._inputs
    assert isinstance(items, PipelineOutputFileDataset) and items._input_mode == "mount"
    assert items._pipeline_data is sdk.steps["step1"].outputs["items"]
    assert score.target == ("cpu-cluster", "AmlCompute")
    data = describe_pipeline(sdk)["steps"][1]
    assert data["sdk_class"] == "ParallelRunStep"
    assert data["inputs"] == {"input_data": {"dataset": "PipelineOutputFileDataset", "name": "items",
                                             "pipeline_data": "items", "mode": "mount"}}
    parallel = data["parallel"]
    assert (parallel["mini_batch_size"], parallel["error_threshold"], parallel["output_action"],
            parallel["run_invocation_timeout"], parallel["process_count_per_node"],
            parallel["compute_target"]) == (4, 10, "append_row", 60, 2, "cpu-cluster")
    assert data["arguments"][-4:] == ["--factor", "3", "--input_fds_0", "items"]


def extended(tmp_path: Path, **score: Any) -> Path:
    import json

    (tmp_path / "src").mkdir()
    for name in ("train.py", "score.py"):
        (tmp_path / "src" / name).write_text("def init():\n    pass\n\ndef run(b):\n    return b\n")
    doc = {
        "train": {"type": "PythonScriptStep", "name": "train", "script": "train.py",
                  "source_directory": "src", "outputs": ["model"]},
        "score": {"type": "ParallelRunStep", "name": "score", "script": "score.py",
                  "source_directory": "src", "processes_per_node": 2,
                  "inputs": {"images": {"datastore": "f3", "path": "images/"}},
                  "outputs": ["scores"], "output_action": "append_row",
                  "compute": {"cluster_name": "cpu-cluster"}, **score},
        "parameters": {"threshold": 0.5},
    }
    (tmp_path / "pipeline_config.json").write_text(json.dumps(doc))
    return tmp_path


def test_datastore_input_is_a_mounted_file_dataset_and_the_model_a_side_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Any) -> None:
    from azureml.data.dataset_consumption_config import DatasetConsumptionConfig
    from azureml.pipeline.core import Pipeline, PipelineData

    from azml.targets.azureml_v1.describe import describe_pipeline, structured_arguments

    folder = extended(tmp_path, model="train.model", allow_reuse=True, arguments=[
        "--model", "${{inputs.model}}", "--threshold", "${{parameters.threshold}}"])
    sdk = sdk_of(plan_of(folder, monkeypatch))
    score = sdk.steps["score"]
    images, model = score.step._inputs
    assert isinstance(images, DatasetConsumptionConfig) and images.mode == "mount"
    assert type(model) is PipelineData and model is sdk.steps["train"].outputs["model"]
    assert score.step._allow_reuse is True
    args, _ = structured_arguments(score)
    assert args[args.index("--model") + 1] == "$AZUREML_DATAREFERENCE_model"
    assert args[args.index("--threshold") + 1] == "$AML_PARAMETER_threshold"
    assert args[-2:] == ["--input_fds_0", "images"]
    described = describe_pipeline(sdk)["steps"][1]
    assert described["inputs"]["images"]["uri"].endswith("/datastores/f3/paths/images/")
    assert described["parallel"]["side_inputs"] == ["model"]
    nodes = {n.name: n for n in Pipeline(workspace, sdk.step_objects()).graph.module_nodes}
    assert nodes["score"].get_param("Script").value == "driver/amlbi_main.py"
    assert {p.name for p in nodes["score"].inputs} >= {"images", "model"}


def test_a_registered_model_is_refused_for_v1_naming_the_key(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.errors import ConfigError

    folder = extended(tmp_path, model={"name": "unet", "version": 2},
                      arguments=["--model", "${{inputs.model}}"])
    with pytest.raises(ConfigError) as caught:
        sdk_of(plan_of(folder, monkeypatch))
    (problem,) = caught.value.problems
    assert problem.path == "score.model" and "Model.get_model_path" in problem.message


def test_plan_target_azure_shows_the_parallel_settings(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from azml.cli import main

    monkeypatch.chdir(PARALLEL)
    monkeypatch.delenv("AML_COMPUTE_CLUSTER_NAME", raising=False)
    assert main(["plan", "pipeline_config.json", "--target", "azure"]) == 0
    text = capsys.readouterr().out
    assert 'step2 "score items": ParallelRunStep score.py' in text
    assert ("parallel: score.py run by driver/amlbi_main.py (placed by AzureML) on cpu-cluster; "
            "mini_batch_size 4 from input_data; append_row to parallel_run_step.txt; "
            "error_threshold 10, run_max_try 3, run_invocation_timeout 60 s") in text
    assert "allow_reuse: false" in text


def test_inference_pipeline_submits_the_batch_inferencing_module(
        standin: Any, standin_settings: Any, stub_blob_upload: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import json

    from standin import compute_dto

    from azml import InferencePipeline

    standin.state["computes"]["cpu-cluster"] = compute_dto("cpu-cluster")
    monkeypatch.chdir(PARALLEL)
    monkeypatch.delenv("AML_COMPUTE_CLUSTER_NAME", raising=False)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": "a2V5LWZvci10aGUtdGVzdA=="}.items():
        monkeypatch.setenv(key, value)
    out = io.StringIO()
    pipeline = InferencePipeline(PARALLEL / "pipeline_config.json",
                                 ws_config=str(standin_settings.base_dir / ".azureml" / "config.json"))
    assert pipeline.scoring_steps == ["step2"]
    pipeline.construct_pipeline(out=out)
    run = pipeline.run_pipeline(out=out)
    (created,) = standin.calls_to("POST", "/PipelineRuns/Unsubmitted/CreationInfoWithGraph")
    assert created.query["experimentName"] == ["DEV-inference-pipeline"]
    modules = {c.body["Name"]: c.body for c in standin.calls_to("POST", "/Modules")}
    assert set(modules) == {"split numbers", "score items"}
    graph = json.dumps(created.body["Graph"])
    assert "BatchInferencingMetaData" in graph and "driver/amlbi_main.py" in graph
    assert run.run_id in standin.state["pipeline_runs"] and set(run.steps) == {
        "split numbers", "score items"}


def test_inference_pipeline_needs_a_parallel_run_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from azml import InferencePipeline
    from azml.errors import ConfigError

    monkeypatch.chdir(FIXTURES / "original")
    with pytest.raises(ConfigError, match="scores with a ParallelRunStep"):
        InferencePipeline(FIXTURES / "original" / "pipeline_config.json")
