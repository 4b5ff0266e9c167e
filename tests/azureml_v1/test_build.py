"""The SDK objects and graph built from plans, offline (graph edges via the stand-in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO

ORIGINAL = FIXTURES / "original"
FANIN = FIXTURES / "azure" / "fanin"


def load_plan(folder: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None,
              config: Path | None = None) -> Any:
    """Load a config from ``folder`` as the current directory (relative paths resolve there)."""
    from azml.api import load

    monkeypatch.chdir(folder)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return load(config or folder / "pipeline_config.json")


def build(folder: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None,
          config: Path | None = None) -> Any:
    from azml.targets.azureml_v1.builder import (
        build_sdk_steps,
        offline_datastores,
        offline_workspace,
    )

    loaded = load_plan(folder, monkeypatch, env, config)
    ws = offline_workspace()
    return build_sdk_steps(loaded.plan, loaded.settings, offline_datastores(ws, loaded.plan, loaded.settings))


def assignments(sdk_step: Any) -> list[dict[str, str]]:
    from azml.targets.azureml_v1.describe import structured_arguments

    return structured_arguments(sdk_step)[1]


def test_original_example_becomes_one_mpi_python_script_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from azureml.core.runconfig import MpiConfiguration
    from azureml.data.data_reference import DataReference
    from azureml.pipeline.steps import PythonScriptStep

    pipeline = build(ORIGINAL, monkeypatch)
    (sdk,) = pipeline.steps.values()
    assert isinstance(sdk.step, PythonScriptStep) and sdk.step.name == "train step"
    assert sdk.step._script_name == "train.py"
    assert Path(sdk.step._source_directory) == ORIGINAL / "train"
    assert assignments(sdk) == [
        {"kind": "literal", "value": "--splits"}, {"kind": "literal", "value": "splits"},
        {"kind": "literal", "value": "--train_data_paths"},
        {"kind": "literal", "value": "normalized_data/file.npy"},
        {"kind": "literal", "value": "--label_paths"}, {"kind": "literal", "value": "label.npy"},
        {"kind": "literal", "value": "--input"},
        {"kind": "input", "name": "normalized_data_conditioned"},
    ]
    (ref,) = sdk.step._inputs
    assert isinstance(ref, DataReference)
    assert (ref.data_reference_name, ref.path_on_datastore, ref.mode, ref.datastore.name) == (
        "normalized_data_conditioned", "normalized_data/", "mount", "normalizeddataconditioned")
    rc = sdk.runconfig
    assert rc.target == "amlcompute" and sdk.target == ("amlcompute", "AmlCompute")
    assert rc.amlcompute.vm_size == "Standard_NC4as_T4_v3"
    assert isinstance(rc.mpi, MpiConfiguration) and (rc.mpi.node_count, rc.mpi.process_count_per_node) == (1, 1)
    assert rc.communicator == "IntelMpi" and rc.node_count == 1
    # base_image is honoured (the original ignored it); comment, blank line and option handled
    assert rc.environment.docker.base_image == "pytorch/pytorch"
    pip = rc.environment.python.conda_dependencies.serialize_to_string()
    assert "numpy>=1.24" in pip and "--extra-index-url https://example.invalid/simple" in pip
    assert "#" not in [line.strip()[:1] for line in pip.splitlines() if line.strip().startswith("- ")]
    assert "pinned for the cluster" not in pip


#: the train step's pip list exactly as AzureML receives it: both index lines, the -r
#: include inlined in place, the marker kept, comments gone, azureml-defaults added
TRAIN_PIP = [
    "--extra-index-url https://download.example.invalid/whl/cu121",
    "torch==2.3.1",
    "--extra-index-url https://mirror.example.invalid/simple",
    "--pre",
    "numpy>=1.24",
    "pyyaml",
    'importlib-metadata>=6; python_version < "3.10"',
    "azureml-defaults>=1.57",
]


def test_fanin_steps_data_compute_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.plan.environment import DEFAULT_GPU_IMAGE

    pipeline = build(FANIN, monkeypatch, {"AML_COMPUTE_CLUSTER_SKU": "Standard_NC8as_T4_v3"})
    prep_a, prep_b, train = (pipeline.steps[s] for s in ("prep_a", "prep_b", "train"))
    assert assignments(prep_a) == [{"kind": "literal", "value": "--in"}, {"kind": "input", "name": "raw"},
                                   {"kind": "literal", "value": "--out"}, {"kind": "output", "name": "part_a"}]
    assert prep_a.inputs["raw"].mode == "download" and prep_b.inputs["raw_b"].mode == "mount"
    assert prep_a.runconfig.amlcompute.vm_size == "Standard_NC8as_T4_v3"  # from .env / environment
    assert prep_a.environment.docker.base_image == DEFAULT_GPU_IMAGE
    assert prep_b.step._allow_reuse is False and prep_a.step._allow_reuse is True
    assert assignments(train) == [
        {"kind": "literal", "value": "--a"}, {"kind": "input", "name": "a"},
        {"kind": "literal", "value": "--b"}, {"kind": "input", "name": "b"},
        {"kind": "literal", "value": "--epochs"}, {"kind": "parameter", "name": "epochs"},
        {"kind": "literal", "value": "--model"}, {"kind": "output", "name": "model"},
    ]
    # the unreferenced input is declared too, so the graph knows about it
    assert sorted(getattr(i, "name", None) or i.data_reference_name for i in train.step._inputs) == [
        "a", "b", "labels"]
    assert pipeline.parameters["epochs"].default_value == 3
    rc = train.runconfig
    assert (rc.mpi.node_count, rc.mpi.process_count_per_node, rc.node_count) == (2, 2, 2)
    assert rc.amlcompute.vm_size == "Standard_NC48ads_A100_v4" and rc.amlcompute.vm_priority == "lowpriority"
    assert rc.amlcompute._cluster_max_node_count == 2
    assert rc.environment_variables == {"NCCL_DEBUG": "INFO"}
    conda = train.environment.python.conda_dependencies
    assert _pip_section(conda) == TRAIN_PIP
    assert train.environment.python.user_managed_dependencies is False
    # nothing the SDK's CondaDependencies.create would have injected
    assert "find-links" not in conda.serialize_to_string()


def _pip_section(conda: Any) -> list[str]:
    (pip,) = [d["pip"] for d in conda._conda_dependencies["dependencies"] if isinstance(d, dict)]
    return [str(line) for line in pip]


def test_named_cluster_replaces_run_based_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = build(FANIN, monkeypatch, {"AML_COMPUTE_CLUSTER_NAME": "gpu-cluster",
                                          "AML_COMPUTE_CLUSTER_MAX_NODES": "4"})
    train = pipeline.steps["train"]
    assert train.target == ("gpu-cluster", "AmlCompute") and train.runconfig.target == "gpu-cluster"


def test_describe_plan_text_json_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1 import describe_plan

    secret = "c2VjcmV0LWtleS12YWx1ZQ=="
    loaded = load_plan(FANIN, monkeypatch, {"BLOB_ACCOUNT_KEY": secret, "BLOB_ACCOUNT_NAME": "acct",
                                            "BLOB_CONTAINER_NAME": "data"})
    text = describe_plan(loaded.plan, loaded.settings)
    data = json.loads(describe_plan(loaded.plan, loaded.settings, as_json=True))
    assert secret not in text and secret not in json.dumps(data)
    assert "--epochs $AML_PARAMETER_epochs" in text
    assert "mpi: 2 node(s) x 2 process(es) per node (IntelMpi)" in text
    train = data["steps"][2]
    assert train["sdk_class"] == "PythonScriptStep"
    assert train["inputs"]["labels"] == {"data_reference": "labels", "datastore": "rawstore", "account": "acct",
                                         "container": "data", "path": "labels", "mode": "mount"}
    assert train["inputs"]["a"]["pipeline_data"] == "part_a"
    assert train["environment"]["pip"] == TRAIN_PIP
    assert train["environment"]["added_by_azml"] == ["azureml-defaults>=1.57"]
    assert "--extra-index-url https://mirror.example.invalid/simple" in text
    assert [e["kind"] for e in data["edges"]] == ["data", "data"]


def test_original_three_steps_run_in_file_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                workspace: Any) -> None:
    """The original project's StepSequence ran its steps in file order; so does azml's graph."""
    from azureml.pipeline.core import Pipeline

    from azml.targets.azureml_v1 import describe_plan

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.py").write_text("print('x')\n")
    ref = {"type": "PythonScriptStep", "script": "train.py", "source_directory": "train/",
           "input_dataset_name": "store", "arguments": []}
    doc = {"step1": {**ref, "name": "one", "input_datareference_path": "a/",
                     "input_datareference_name": "a", "output": "first"},
           "step2": {**ref, "name": "two", "input_datareference_path": "b/",
                     "input_datareference_name": "b"},
           "step3": {**ref, "name": "three", "input_datareference_path": "c/",
                     "input_datareference_name": "c"}}
    (tmp_path / "pipeline_config.json").write_text(json.dumps(doc))
    loaded = load_plan(tmp_path, monkeypatch)
    data = json.loads(describe_plan(loaded.plan, loaded.settings, as_json=True))
    assert [(e["from"], e["to"], e["kind"], e["sdk"]) for e in data["edges"]] == [
        ("step1", "step2", "order", "run_after"), ("step2", "step3", "order", "run_after")]
    sdk = build(tmp_path, monkeypatch)
    edges = graph_edges(Pipeline(workspace, sdk.step_objects()))
    assert {("one", "two"), ("two", "three")} <= edges


def test_bad_requirement_option_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from azml.errors import ConfigError
    from azml.plan.requirements import read_requirements

    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n-e ./local_pkg\n")
    with pytest.raises(ConfigError) as info:
        read_requirements(req)
    assert "line 2" in str(info.value) and "editable" in str(info.value)


def graph_edges(pipeline: Any) -> set[tuple[str, str]]:
    return {(e.source_port.node.name, e.dest_port.node.name) for e in pipeline.graph.edges}


def test_fanin_graph_edges(monkeypatch: pytest.MonkeyPatch, workspace: Any) -> None:
    from azureml.pipeline.core import Pipeline

    pipeline = Pipeline(workspace, build(FANIN, monkeypatch).step_objects())
    edges = graph_edges(pipeline)
    assert {("prepare a", "train"), ("prepare b", "train")} <= edges
    assert ("raw", "prepare a") in edges and ("labels", "train") in edges
    assert sorted(n.name for n in pipeline.graph.module_nodes) == ["prepare a", "prepare b", "train"]


def test_demo_config_chain_and_fanin(monkeypatch: pytest.MonkeyPatch, workspace: Any) -> None:
    from azureml.pipeline.core import Pipeline

    demo = REPO / "configs" / "pipeline_config.json"
    sdk = build(REPO, monkeypatch, config=demo)
    pipeline = Pipeline(workspace, sdk.step_objects())
    edges = {(a, b) for a, b in graph_edges(pipeline)}
    names = {sid: s.step.name for sid, s in sdk.steps.items()}
    from azml.api import load

    plan = load(demo).plan
    for edge in plan.edges():
        assert (names[edge.upstream], names[edge.downstream]) in edges
    mpi = [s for s in sdk.steps.values() if s.planned.is_mpi]
    assert mpi and all(s.runconfig.mpi.process_count_per_node * s.runconfig.mpi.node_count
                       == s.planned.process_count for s in mpi)


def test_depends_on_becomes_run_after(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``depends_on`` orders steps on AzureML too, as ``run_after`` (not only locally)."""
    import shutil

    from azureml.pipeline.core import Pipeline

    from azml.cli import main

    shutil.copytree(FANIN, tmp_path / "fanin")
    config = tmp_path / "fanin" / "pipeline_config.json"
    doc = json.loads(config.read_text())
    doc["prep_b"]["depends_on"] = ["prep_a"]
    config.write_text(json.dumps(doc))
    monkeypatch.chdir(config.parent)
    assert main(["plan", "pipeline_config.json", "--target", "azure", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"from": "prep_a", "to": "prep_b", "kind": "order", "sdk": "run_after"} in data["edges"]
    sdk = build(config.parent, monkeypatch)
    assert sdk.steps["prep_b"].step.run_after_steps == [sdk.steps["prep_a"].step]
    assert ("prepare a", "prepare b") in graph_edges(Pipeline(workspace, sdk.step_objects()))


def test_plan_target_azure_shows_the_demo_model_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1 import describe_plan

    loaded = load_plan(REPO, monkeypatch, config=REPO / "configs" / "pipeline_config.json")
    data = json.loads(describe_plan(loaded.plan, loaded.settings, as_json=True))
    (registration,) = data["registrations"]
    assert registration["after"] == "train" and registration["model"] == "dutchf3-unet"
    assert registration["arguments"][:1] == ["--model_path"] and "--name" in registration["arguments"]
    text = describe_plan(loaded.plan, loaded.settings)
    assert ("'register dutchf3-unet': PythonScriptStep register_model.py after train, registers "
            "output model as model 'dutchf3-unet'") in text
    score = next(s for s in data["steps"] if s["id"] == "score")
    assert score["compute"]["max_nodes"] == 1  # not None: what azml creates the cluster with
