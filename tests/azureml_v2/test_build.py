"""Building v2 pipeline jobs offline: validation, the SDK job, YAML out and back in."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azml.errors import UsageError
from azml.targets.azureml_v2.build import build_pipeline_job, job_view
from azml.targets.azureml_v2.spec import (
    ComputeSpec,
    NodeOutput,
    ParameterInput,
    spec_view,
    validate_spec,
)
from azml.targets.azureml_v2.yaml_io import dump_job, job_yaml, load_job_file
from tests.azureml_v2.specs import PIP, fanin_spec, project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    return fanin_spec(project(tmp_path / "proj"))


def test_the_fanin_spec_is_valid_and_states_its_order_ports(spec) -> None:  # type: ignore[no-untyped-def]
    assert validate_spec(spec) == []
    nodes = {n.name: n for n in spec.nodes}
    assert nodes["report"].order_ports() == (["azml_after_prepare_b"], [])
    assert nodes["prepare_b"].order_ports() == ([], ["azml_done"])


def test_built_job_equals_its_spec(spec) -> None:  # type: ignore[no-untyped-def]
    job = build_pipeline_job(spec)
    assert job_view(job) == spec_view(spec)
    view = job_view(job)["nodes"]
    assert view["train"]["distribution"] == {"type": "mpi", "process_count_per_instance": 2}
    assert (view["train"]["instance_type"], view["train"]["instance_count"]) == ("Standard_NC8as_T4_v3", 2)
    assert view["report"]["compute"] == "cpu-cluster" and view["report"]["instance_type"] is None
    assert view["report"]["inputs"]["azml_after_prepare_b"] == {"bind": "prepare_b.azml_done", "mode": "direct",
                                                                "type": "uri_folder"}
    assert view["train"]["outputs"]["model"] == {"uri": None, "mode": "rw_mount", "type": "custom_model",
                                                 "asset_name": "unet"}
    assert view["train"]["inputs"]["epochs"] == {"bind": "parameters.epochs"}
    assert view["prepare_a"]["outputs"]["patches"]["uri"] == \
        "azureml://datastores/workspaceblobstore/paths/azml/prepared/a/"


def test_conda_file_keeps_pip_lines_verbatim(spec) -> None:  # type: ignore[no-untyped-def]
    conda = job_view(build_pipeline_job(spec))["nodes"]["train"]["conda_file"]
    assert conda["dependencies"][-1] == {"pip": PIP}


def test_yaml_round_trip_offline(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "out").mkdir()
    target = dump_job(build_pipeline_job(spec), tmp_path / "out" / "pipeline.yml")
    text = target.read_text()
    assert text.startswith("$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json")
    assert "code: ../proj/prep" in text  # relative to the YAML's folder
    assert job_view(load_job_file(target)) == spec_view(spec)


def test_yaml_loads_in_a_process_without_network(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], check=False).returncode != 0:
        pytest.skip("unshare -n is not permitted here (the socket guard covers the in-process load)")
    target = dump_job(build_pipeline_job(spec), tmp_path / "pipeline.yml")
    code = ("import json,sys; from azml.targets.azureml_v2.build import job_view;"
            "from azml.targets.azureml_v2.yaml_io import load_job_file;"
            "print(json.dumps(job_view(load_job_file(sys.argv[1]))))")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", code, str(target)],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == json.loads(json.dumps(spec_view(spec)))


def test_yaml_text_is_stable(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = build_pipeline_job(spec)
    assert job_yaml(job, tmp_path) == job_yaml(build_pipeline_job(spec), tmp_path)


def test_dump_refuses_a_folder_and_a_missing_parent(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = build_pipeline_job(spec)
    with pytest.raises(UsageError, match="is a folder"):
        dump_job(job, tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        dump_job(job, tmp_path / "missing" / "p.yml")
    assert not list(tmp_path.glob("**/*.tmp"))


def test_load_reports_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("type: pipeline\njobs:\n  Bad-Name:\n    type: command\n")
    with pytest.raises(UsageError, match="not a valid AzureML pipeline job"):
        load_job_file(bad)


def test_validation_names_node_key_and_remedy(spec) -> None:  # type: ignore[no-untyped-def]
    nodes = list(spec.nodes)
    nodes[0] = dataclasses.replace(nodes[0], name="Prepare-A")
    nodes[1] = dataclasses.replace(nodes[1], outputs={"patches": NodeOutput(), "Patches": NodeOutput()})
    nodes[2] = dataclasses.replace(nodes[2], compute=ComputeSpec(instance_count=2),
                                   inputs={**nodes[2].inputs, "n": ParameterInput("missing")})
    bad = dataclasses.replace(spec, nodes=tuple(nodes), parameters={"epochs": 3, "lr": 0.5, "ids": [1, 2]})
    rendered = [p.render() for p in validate_spec(bad)]
    assert "Prepare-A: name: a v2 node name must be lower-case letters, digits and underscores, " \
           "starting with a letter" in rendered
    assert any(r.startswith("prepare_b: outputs.Patches: equals 'patches' ignoring case") for r in rendered)
    assert any(r.startswith("train: compute.vm_size: serverless compute needs a VM size") for r in rendered)
    assert "train: inputs.n: pipeline input 'missing' is not defined" in rendered
    assert any(r.startswith("parameters.ids: a list cannot be a v2 pipeline input") for r in rendered)


def test_validation_catches_command_bindings_and_reserved_names(spec) -> None:  # type: ignore[no-untyped-def]
    nodes = list(spec.nodes)
    nodes[3] = dataclasses.replace(nodes[3], command="python train.py --x ${{inputs.nope}}",
                                   outputs={"items": NodeOutput()}, after={"azml_after_report": "report"})
    rendered = [p.render() for p in validate_spec(dataclasses.replace(spec, nodes=tuple(nodes)))]
    assert "report: command: refers to ${{inputs.nope}}, which the node does not declare" in rendered
    assert any(r.startswith("report: outputs.items: is a reserved word") for r in rendered)
    assert "report: after: 'report' is not an earlier node" in rendered
