"""One contract: the local launcher and the AzureML v1 builder get the same argv, names and
environment for every config in the repository.

The v1 builder's arguments are read back from the real SDK objects as the SDK
resolves them (``$AZUREML_DATAREFERENCE_x``, ``$AML_PARAMETER_x``); each such
variable must be one the local target sets, holding exactly the path or value
the local argv carries at that position. For a ParallelRunStep the local command
is the batch driver's: its arguments after ``--`` are the step's, and the
``sys.argv`` it gives the entry script is the v1 step's whole driver command line. The environment AzureML receives must
be the plan's, and the pip list what a local environment for v1 installs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

CONFIGS = sorted(p for p in [*REPO.glob("configs/pipeline_config*.json"),
                             *(REPO / "tests" / "fixtures").rglob("pipeline_config*.json")]
                 if not p.name.endswith(".schema.json"))


def _base_dir(config: Path) -> Path:
    return REPO if config.parent == REPO / "configs" else config.parent


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_local_and_v1_receive_the_same_contract(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.api import load
    from azml.targets.azureml_v1.builder import (
        build_sdk_steps,
        offline_datasets,
        offline_datastores,
        offline_workspace,
    )
    from azml.targets.azureml_v1.describe import _pip_list, structured_arguments
    from azml.targets.local.contract import StepPaths, contract_variables, resolve_arguments
    from azml.targets.local.launch import parallel_command

    monkeypatch.chdir(_base_dir(config))
    loaded = load(config)
    plan = loaded.plan
    workspace = offline_workspace()
    sdk = build_sdk_steps(plan, loaded.settings, offline_datastores(workspace, plan, loaded.settings),
                          offline_datasets(workspace, plan))
    assert list(sdk.steps) == list(plan.steps)
    for sid, step in plan.steps.items():
        paths = StepPaths({n: Path(f"/local/in/{sid}/{n}") for n in step.inputs},
                          {n: Path(f"/local/out/{sid}/{n}") for n in step.outputs})
        local_argv = resolve_arguments(step, plan.parameters, paths)
        variables = contract_variables(step, plan.parameters, paths, f"run.{sid}")
        v1_args, _ = structured_arguments(sdk.steps[sid])
        seen = [_local_value(arg, variables) for arg in v1_args]
        if step.is_parallel:
            command = parallel_command(step, local_argv, paths.inputs, paths.outputs,
                                       python="python", root=Path("/local/work"),
                                       logs=Path("/local/logs"))
            assert _driver_view(command.argv, local_argv) == _sdk_version(seen, "local")
        else:
            assert seen == local_argv, f"{config.name}:{sid}"
        env = sdk.steps[sid].environment
        assert env.docker.base_image == step.environment.base_image
        assert _pip_list(env.python.conda_dependencies) == list(step.environment.pip_lines("azureml_v1"))
        assert dict(env.environment_variables) == dict(step.environment_variables)
        runconfig = sdk.steps[sid].runconfig
        assert runconfig.node_count == step.node_count
        if step.is_mpi:
            assert runconfig.mpi.process_count_per_node == step.processes_per_node


def _driver_view(argv: list[str], step_args: list[str]) -> list[str]:
    """What the local driver started with ``argv`` gives the entry script as ``sys.argv[1:]``;
    its own arguments after ``--`` must be the step's."""
    from azml.runtime.parallel.options import azureml_argv, parse

    assert argv[:3] == ["python", "-u", str(Path(argv[2]))] and argv[2].endswith("driver.py")
    options = parse(argv[3:])
    assert list(options.user_args) == step_args
    return azureml_argv(options, argv[2])[1:]


def _sdk_version(args: list[str], value: str) -> list[str]:
    at = args.index("--client_sdk_version") + 1
    return [*args[:at], value, *args[at + 1:]]


def _local_value(arg: str, variables: dict[str, Any]) -> str:
    """A v1 argument with its ``$VARIABLE`` replaced by the value the local target sets.

    A dataset input is ``DatasetConsumptionConfig:NAME`` in the arguments the SDK
    sends; on the compute it is the path held in ``$NAME`` (``as_named_input``).
    """
    if arg.startswith("$") and (arg[1:].startswith(("AZUREML_DATAREFERENCE_", "AML_PARAMETER_"))):
        assert arg[1:] in variables, f"{arg} is not a variable the local target sets"
        return str(variables[arg[1:]])
    if arg.startswith("DatasetConsumptionConfig:"):
        name = arg.split(":", 1)[1]
        assert name in variables, f"{arg}: ${name} is not a variable the local target sets"
        assert f"{name}:" in variables["AZUREML_DATASET_ENVIRONMENT_VARS"]
        return str(variables[name])
    return arg


def test_every_config_was_checked() -> None:
    """The list above is not empty and covers the demo, the seed and the original's own config."""
    names = {str(p.relative_to(REPO)) for p in CONFIGS}
    assert {"configs/pipeline_config.json", "configs/pipeline_config.seed.json",
            "tests/fixtures/original_project/pipeline_config.json",
            "tests/fixtures/azure/taxi/pipeline_config.json"} <= names
