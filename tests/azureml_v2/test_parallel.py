"""A planned ParallelRunStep as a v2 parallel node: built offline, out to YAML and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from azml.targets.azureml_v2.parallel import (
    ParallelNode,
    RegisteredModelInput,
    build_parallel_node,
    parallel_job_view,
    parallel_problems,
    parallel_view,
)
from azml.targets.azureml_v2.spec import (
    ComputeSpec,
    DatastoreInput,
    EnvironmentSpec,
    Node,
    NodeOutput,
    NodeOutputInput,
    ParameterInput,
    PipelineSpec,
    conda_file,
    order_ports,
)
from azml.targets.azureml_v2.yaml_io import job_yaml, load_job_file


def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **score: Any) -> Any:
    """The plan of train -> score (a ParallelRunStep reading a datastore folder)."""
    from azml.api import load

    (tmp_path / "src").mkdir()
    for name in ("train.py", "score.py"):
        (tmp_path / "src" / name).write_text("def init():\n    pass\n\ndef run(b):\n    return b\n")
    doc = {
        "parameters": {"threshold": 0.5},
        "train": {"type": "PythonScriptStep", "name": "train", "script": "train.py",
                  "source_directory": "src", "outputs": ["model"]},
        "score": {"type": "ParallelRunStep", "name": "score images", "script": "score.py",
                  "source_directory": "src", "node_count": 2, "processes_per_node": 3,
                  "inputs": {"images": {"datastore": "f3", "path": "images/"}}, "outputs": ["rows"],
                  "output_action": "append_row", "mini_batch_size": "5", "error_threshold": 4,
                  "run_max_try": 2, "run_invocation_timeout": 30, "logging_level": "DEBUG",
                  "environment_variables": {"OMP_NUM_THREADS": "1"},
                  "arguments": ["--model", "${{inputs.model}}", "--threshold",
                                "${{parameters.threshold}}"],
                  "compute": {"cluster_name": "cpu-cluster"}, **score},
    }
    (tmp_path / "pipeline_config.json").write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    return load("pipeline_config.json").plan


def node_of(plan: Any, **overrides: Any) -> ParallelNode:
    """What the plan -> v2 translation passes: inputs, outputs, environment, compute, arguments."""
    step = plan.steps["score"]
    env = step.environment
    inputs: dict[str, Any] = {"images": DatastoreInput("f3", "images/", "ro_mount"),
                              "threshold": ParameterInput("threshold")}
    if step.inputs["model"].kind == "step_output":
        inputs["model"] = NodeOutputInput("train", "model", "ro_mount")
    return ParallelNode.from_plan(
        step, name="score", inputs=inputs, outputs={"rows": NodeOutput()},
        environment=EnvironmentSpec(env.base_image, conda_file(list(env.pip_lines("azureml_v2")),
                                                               env.python_version)),
        compute=ComputeSpec(instance_count=step.node_count, cluster=step.compute.cluster_name),
        program_arguments="--model ${{inputs.model}} --threshold ${{inputs.threshold}}", **overrides)


def pipeline_job(node: ParallelNode, tmp_path: Path) -> Any:
    """A PipelineJob holding a train command node and ``node``, put together as the plan -> v2
    translation would: :mod:`.build`'s command node and binding, this module's parallel node."""
    from azure.ai.ml.entities import PipelineJob

    from azml.targets.azureml_v2 import build

    train = Node(name="train", display_name="train", command="python train.py --model ${{outputs.model}}",
                 code=tmp_path / "src", environment=node.environment, compute=node.compute,
                 outputs={"model": NodeOutput()})
    spec = PipelineSpec(nodes=(train, node), experiment_name="batch",  # type: ignore[arg-type]
                        parameters={"threshold": 0.5})
    ports = order_ports(spec)
    nodes = {"train": build._command_node(train, ports["train"], spec),
             "score": build_parallel_node(node, ports["score"], spec.parameters)}
    job = PipelineJob(jobs=nodes, inputs=dict(spec.parameters), experiment_name=spec.experiment_name)
    for each in spec.nodes:
        build._bind(nodes, each, job)  # duck-typed: a ParallelNode has inputs and after too
    return job


def test_the_settings_map_onto_a_parallel_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = node_of(planned(tmp_path, monkeypatch, model="train.model"))
    assert parallel_problems(node, ("images",)) == []
    view = parallel_view(node)
    assert (view["input_data"], view["append_row_to"], view["mini_batch_size"]) == (
        "${{inputs.images}}", "${{outputs.rows}}", "5")
    assert view["retry_settings"] == {"max_retries": 2, "timeout": 30}
    assert (view["error_threshold"], view["logging_level"], view["max_concurrency_per_instance"],
            view["instance_count"], view["compute"]) == (4, "DEBUG", 3, 2, "cpu-cluster")
    assert view["is_deterministic"] is False  # a ParallelRunStep's allow_reuse defaults to false
    assert node.environment.conda_file is not None
    pip = node.environment.conda_file["dependencies"][-1]["pip"]
    assert pip[-2:] == ["azureml-core", "azureml-dataset-runtime[fuse]"]


def test_yaml_round_trip_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = node_of(planned(tmp_path, monkeypatch, model="train.model"))
    job = pipeline_job(node, tmp_path)
    built = job._to_dict()["jobs"]["score"]
    assert parallel_job_view(built) == parallel_view(node)
    assert built["inputs"]["model"] == {"path": "${{parent.jobs.train.outputs.model}}",
                                        "mode": "ro_mount"}
    assert built["inputs"]["threshold"] == {"path": "${{parent.inputs.threshold}}"}
    path = tmp_path / "pipeline.yml"
    path.write_text(job_yaml(job, tmp_path))
    loaded = load_job_file(path)._to_dict()["jobs"]["score"]
    assert parallel_job_view(loaded, tmp_path) == parallel_view(node)
    assert loaded["type"] == "parallel" and loaded["inputs"]["images"]["path"] == \
        "azureml://datastores/f3/paths/images/"


def test_a_registered_model_is_a_custom_model_input(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    node = node_of(planned(tmp_path, monkeypatch, model={"name": "unet", "version": 7}))
    assert node.inputs["model"] == RegisteredModelInput("unet", 7)
    path = tmp_path / "pipeline.yml"
    path.write_text(job_yaml(pipeline_job(node, tmp_path), tmp_path))
    loaded = load_job_file(path)._to_dict()["jobs"]["score"]
    assert loaded["inputs"]["model"] == {"type": "custom_model", "path": "azureml:unet:7",
                                         "mode": "ro_mount"}
    assert RegisteredModelInput("unet").uri == "azureml:unet@latest"


def test_a_custom_rows_file_name_goes_into_the_program_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = node_of(planned(tmp_path, monkeypatch, model="train.model",
                           append_row_file_name="scores.csv"))
    assert node.task_arguments.endswith("--threshold ${{inputs.threshold}} "
                                        "--append_row_file_name scores.csv")


def test_what_v2_refuses_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    node = node_of(planned(tmp_path, monkeypatch, model="train.model"))
    broken = dataclasses.replace(node, input_data="threshold", program_arguments="--x ${{inputs.nope}}",
                                 compute=ComputeSpec())
    found = {(p.key, p.message.split(",")[0]) for p in parallel_problems(broken, ("a", "b"))}
    keys = {key for key, _ in found}
    assert keys == {"inputs", "input_data", "program_arguments", "compute.vm_size"}
