"""Pipeline specs for the v2 tests: a fan-in with data, parameters and an order-only edge."""

from __future__ import annotations

from pathlib import Path

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
)

PIP = ["--extra-index-url https://download.pytorch.org/whl/cpu",
       "--extra-index-url https://pypi.example.org/simple",
       "numpy>=1.24; python_version >= '3.10'", "torch==2.13.0"]


def project(root: Path) -> Path:
    """Two source folders with a script each, under ``root``."""
    for folder, script in (("prep", "prepare.py"), ("train", "train.py")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / script).write_text("import sys\nprint(sys.argv)\n")
    return root


def fanin_spec(root: Path, experiment: str = "DEV-train-pipeline") -> PipelineSpec:
    env = EnvironmentSpec("pytorch/pytorch", conda_file(PIP, "3.11"))
    serverless = ComputeSpec(instance_count=1, instance_type="Standard_D4s_v3")
    prepare_a = Node(
        name="prepare_a", display_name="prepare a", code=root / "prep", environment=env, compute=serverless,
        command="python prepare.py --input_data ${{inputs.raw}} --output ${{outputs.patches}}",
        inputs={"raw": DatastoreInput("rawstore", "raw/a/", "ro_mount")},
        outputs={"patches": NodeOutput("workspaceblobstore", "azml/prepared/a/")})
    prepare_b = Node(
        name="prepare_b", display_name="prepare b", code=root / "prep", environment=env, compute=serverless,
        command="python prepare.py --input_data ${{inputs.raw}} --output ${{outputs.patches}}",
        inputs={"raw": DatastoreInput("rawstore", "raw/b/", "download")},
        outputs={"patches": NodeOutput()}, is_deterministic=False, order_output="azml_done")
    train = Node(
        name="train", display_name="train", code=root / "train", environment=env,
        compute=ComputeSpec(instance_count=2, instance_type="Standard_NC8as_T4_v3", job_tier="spot"),
        command=("python train.py --a ${{inputs.a}} --b ${{inputs.b}} --epochs ${{inputs.epochs}} "
                 "--lr ${{inputs.lr}} --model ${{outputs.model}}"),
        inputs={"a": NodeOutputInput("prepare_a", "patches"), "b": NodeOutputInput("prepare_b", "patches"),
                "epochs": ParameterInput("epochs"), "lr": ParameterInput("lr")},
        outputs={"model": NodeOutput(type="custom_model", asset_name="unet")}, process_count_per_instance=2,
        environment_variables={"NCCL_DEBUG": "WARN"})
    report = Node(
        name="report", display_name="report", code=root / "train", environment=env,
        compute=ComputeSpec(instance_count=1, cluster="cpu-cluster"),
        command="python train.py --model ${{inputs.model}}",
        inputs={"model": NodeOutputInput("train", "model", type="custom_model")},
        after={"azml_after_prepare_b": "prepare_b"})
    return PipelineSpec(nodes=(prepare_a, prepare_b, train, report), experiment_name=experiment,
                        display_name="fan-in", parameters={"epochs": 3, "lr": 0.5},
                        tags={"project": "azml"})
