"""One contract: the local v2 run and the AzureML v2 job give every step the same argv, and
the variables a local v2 step gets are exactly the job's ports, for every config in the repo.

The command is read back from the real azure-ai-ml job (its shell command, split as a
shell splits it) with each ``${{inputs.x}}``/``${{outputs.y}}`` bound to the local path
of the same input or output, and each parameter input to its value; that argv must be
the local argv. The environment the job receives must be the plan's (image, the pip
lines of ``pip_lines("azureml_v2")``, the step's variables).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from azml.plan import render_parameter
from tests.azureml_v2.plan_view import shell_argv
from tests.conftest import REPO

#: every config of the repository (the v1 contract test's list)
CONFIGS = sorted(p for p in [*REPO.glob("configs/pipeline_config*.json"),
                             *(REPO / "tests" / "fixtures").rglob("pipeline_config*.json")]
                 if not p.name.endswith(".schema.json"))
_BINDING = re.compile(r"^\$\{\{(inputs|outputs)\.([A-Za-z0-9_]+)\}\}$")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_local_and_v2_receive_the_same_contract(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job, job_view
    from azml.targets.azureml_v2.translate import plan_to_spec
    from azml.targets.local.contract import StepPaths, contract_variables, resolve_arguments

    monkeypatch.chdir(_base_dir(config))
    plan = load(config).plan
    view = job_view(build_pipeline_job(plan_to_spec(plan, experiment="contract")))
    for sid, step in plan.steps.items():
        node = view["nodes"][step.node_name]
        outputs = step.output_names("azureml_v2")
        paths = StepPaths({**{n: Path(f"/local/in/{sid}/{n}") for n in step.inputs},
                           **{p: Path(f"/local/in/{sid}/{p}") for p in step.order_inputs("azureml_v2")}},
                          {n: Path(f"/local/out/{sid}/{n}") for n in outputs})
        local_argv = ["python", step.script, *resolve_arguments(step, plan.parameters, paths)]
        bound = [_bind(token, node, paths, plan.parameters) for token in shell_argv(node["command"])]
        assert bound == local_argv, f"{config.name}:{sid}"
        variables = contract_variables(step, plan.parameters, paths, f"run.{sid}", flavor="azureml_v2")
        data_inputs = [n for n, v in node["inputs"].items() if not v.get("bind", "").startswith("parameters.")]
        assert set(variables) - {"AZ_BATCHAI_MPI_MASTER_NODE", "AZ_BATCH_MASTER_NODE"} == {
            "AZUREML_RUN_ID", *(f"AZURE_ML_INPUT_{n}" for n in data_inputs),
            *(f"AZURE_ML_OUTPUT_{n}" for n in node["outputs"])}, f"{config.name}:{sid}"
        for name in data_inputs:
            assert variables[f"AZURE_ML_INPUT_{name}"] == str(paths.inputs[name])
        assert node["image"] == step.environment.base_image
        assert node["conda_file"]["dependencies"][-1]["pip"] == list(step.environment.pip_lines("azureml_v2"))
        assert node["environment_variables"] == dict(step.environment_variables)
        assert node["instance_count"] == step.node_count
        if step.is_mpi:
            assert node["distribution"]["process_count_per_instance"] == step.processes_per_node


def _base_dir(config: Path) -> Path:
    return REPO if config.parent == REPO / "configs" else config.parent


def _bind(token: str, node: dict, paths, parameters) -> str:  # type: ignore[no-untyped-def]
    """``token`` with a whole-token binding replaced by what the local target gives for it."""
    match = _BINDING.match(token)
    if match is None:
        assert "${{" not in token, f"binding inside a token: {token}"
        return token
    kind, name = match.groups()
    if kind == "outputs":
        return str(paths.outputs[name])
    source = node["inputs"][name]
    if source.get("bind", "").startswith("parameters."):
        return render_parameter(parameters[source["bind"].split(".", 1)[1]])
    return str(paths.inputs[name])


def test_the_fanin_fixture_is_among_the_configs() -> None:
    names = {str(p.relative_to(REPO)) for p in CONFIGS}
    assert {"configs/pipeline_config.json", "tests/fixtures/original_project/pipeline_config.json",
            "tests/fixtures/local/fanin_v2/pipeline_config.json"} <= names


@pytest.mark.parametrize("text", ["a b; $HOME", "$NOPE x", "${NOPE}", 'q"`\\', "${A-B}", "plain",
                                  "$1", "50%$", "$HOME$HOME}", "${HOME}/x y", "'single'"])
def test_a_v2_command_word_expands_as_the_v1_driver_does(text: str) -> None:
    """Through a real shell, a literal becomes what os.path.expandvars makes of it (v1's rule)."""
    import os
    import subprocess

    from azml.targets.azureml_v2.translate import shell_word

    env = {"HOME": "/home/azureml", "PATH": os.environ["PATH"]}
    out = subprocess.run(["bash", "-c", f"printf %s {shell_word(text)}"], env=env,
                         capture_output=True, text=True, check=True).stdout
    from azml.runtime.scriptboot import expand_argument

    assert out == expand_argument(text, env)
