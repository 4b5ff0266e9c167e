"""The ParallelRunStep builder: real SDK objects, built on the offline workspace.

The autouse socket guard (conftest) fails any test that reaches for the network.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

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

    parts["env"].python.conda_dependencies.add_pip_package("azureml-defaults")  # as the plan adds
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
