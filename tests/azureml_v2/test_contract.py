"""One contract: the local v2 run and the AzureML v2 job give every step the same argv, and
the variables a local v2 step gets are exactly the job's ports, for every config in the repo.

The command is read back from the real azure-ai-ml job (its shell command, split as a
shell splits it) with each ``${{inputs.x}}``/``${{outputs.y}}`` bound to the local path
of the same input or output, and each parameter input to its value; that argv must be
the local argv. The environment the job receives must be the plan's (image, the pip
lines of ``pip_lines("azureml_v2")``, the step's variables).

A ParallelRunStep is a parallel node: its ``program_arguments``, bound the same way,
must be what the local batch driver is started with after ``--`` (then the driver
settings v2 has no field for, which the local driver gets as its own options), its
mini-batches must come from the input the local driver partitions, under the v2 name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from azml.plan import render_parameter
from tests.azureml_v2.plan_view import parallel_fixture, shell_argv, shell_words
from tests.conftest import REPO

#: the configs of the repository v2 refuses, with the refusal ``validate --target azureml-v2`` gives
V2_REFUSED = {"tests/fixtures/local/parallel/pipeline_config.json":
              "step1.outputs.items: is a reserved word in v2 pipelines"}
#: every other config of the repository (the v1 contract test's list)
CONFIGS = sorted(p for p in [*REPO.glob("configs/pipeline_config*.json"),
                             *(REPO / "tests" / "fixtures").rglob("pipeline_config*.json")]
                 if not p.name.endswith(".schema.json") and str(p.relative_to(REPO)) not in V2_REFUSED)
_BINDING = re.compile(r"^\$\{\{(inputs|outputs)\.([A-Za-z0-9_]+)\}\}$")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_local_and_v2_receive_the_same_contract(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_base_dir(config))
    check_contract(config)


@pytest.mark.parametrize("settings", [{}, {"output_action": "summary_only"},
                                      {"append_row_file_name": "Rows.CSV", "mini_batch_size": "1MB"}],
                         ids=["append_row", "summary_only", "rows_file"])
def test_an_original_form_parallel_run_step_gets_the_local_contract(
        settings: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The original-form ParallelRunStep fixture (its first output renamed as v2 asks), as it
    is and with the settings v2 has no field for."""
    config = parallel_fixture(tmp_path, **settings)
    monkeypatch.chdir(config.parent)
    check_contract(config)


@pytest.mark.parametrize("name", sorted(V2_REFUSED))
def test_a_config_v2_refuses_says_why(name: str, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from azml.cli import main

    monkeypatch.chdir((REPO / name).parent)
    assert main(["validate", str(REPO / name), "--target", "azureml-v2"]) == 2
    assert f"{REPO / name}: {V2_REFUSED[name]}" in capsys.readouterr().err


def check_contract(config: Path) -> None:
    """Every step of ``config`` (read from the working directory) gets the same contract locally."""
    from azml.api import load
    from azml.targets.azureml_v2.build import build_pipeline_job, job_view
    from azml.targets.azureml_v2.translate import plan_to_spec, v2_problems
    from azml.targets.local.contract import StepPaths, contract_variables, resolve_arguments

    plan = load(config).plan
    spec = plan_to_spec(plan, experiment="contract")
    assert v2_problems(plan, spec) == []
    view = job_view(build_pipeline_job(spec))
    for sid, step in plan.steps.items():
        node = view["nodes"][step.node_name]
        outputs = step.output_names("azureml_v2")
        paths = StepPaths({**{n: Path(f"/local/in/{sid}/{n}") for n in step.inputs},
                           **{p: Path(f"/local/in/{sid}/{p}") for p in step.order_inputs("azureml_v2")}},
                          {n: Path(f"/local/out/{sid}/{n}") for n in outputs})
        local_argv = ["python", step.script, *resolve_arguments(step, plan.parameters, paths)]
        if step.is_parallel:
            _check_parallel(step, node, paths, plan.parameters, local_argv[2:])
        else:
            bound = [_bind(token, node, paths, plan.parameters) for token in shell_argv(node["command"])]
            assert bound == local_argv, f"{config}:{sid}"
        variables = contract_variables(step, plan.parameters, paths, f"run.{sid}", flavor="azureml_v2")
        data_inputs = [n for n, v in node["inputs"].items() if not v.get("bind", "").startswith("parameters.")]
        assert set(variables) - {"AZ_BATCHAI_MPI_MASTER_NODE", "AZ_BATCH_MASTER_NODE"} == {
            "AZUREML_RUN_ID", *(f"AZURE_ML_INPUT_{n}" for n in data_inputs),
            *(f"AZURE_ML_OUTPUT_{n}" for n in node["outputs"])}, f"{config}:{sid}"
        for name in data_inputs:
            assert variables[f"AZURE_ML_INPUT_{name}"] == str(paths.inputs[name])
        assert node["image"] == step.environment.base_image
        assert node["conda_file"]["dependencies"][-1]["pip"] == list(step.environment.pip_lines("azureml_v2"))
        assert node["environment_variables"] == dict(step.environment_variables)
        assert node["instance_count"] == step.node_count
        if step.is_mpi:
            assert node["distribution"]["process_count_per_instance"] == step.processes_per_node


def _check_parallel(step, node, paths, parameters, step_args) -> None:  # type: ignore[no-untyped-def]
    """The parallel node's program arguments, input and settings against the local driver's command."""
    from azml.runtime.parallel.options import parse
    from azml.targets.local.launch import parallel_command

    command = parallel_command(step, step_args, paths.inputs, paths.outputs, python="python",
                               root=Path("/local/work"), logs=Path("/local/logs"), flavor="azureml_v2")
    options = parse(command.argv[3:])
    assert list(options.user_args) == step_args
    program = [_bind(token, node, paths, parameters) for token in shell_words(node["program_arguments"])]
    assert program[:len(step_args)] == step_args, step.id
    driver = dict(zip(program[len(step_args)::2], program[len(step_args) + 1::2]))
    if options.output_action == "append_row":
        assert node["append_row_to"] == f"${{{{outputs.{step.output_name}}}}}"
        assert str(paths.outputs[step.output_name]) == str(options.output)
        assert driver.get("--append_row_file_name", "parallel_run_step.txt").lower() == options.append_row_file_name
    else:
        assert node["append_row_to"] is None
        assert driver.get("--output") == (str(options.output) if options.output else None)
    assert len(program) - len(step_args) == 2 * len(driver)
    (name, path), = options.inputs  # v2 takes one partitioned input: the local driver's, named as v2 names it
    assert node["input_data"] == f"${{{{inputs.{name}}}}}" and path == paths.inputs[name]
    assert (node["mini_batch_size"], node["error_threshold"], node["logging_level"]) == (
        str(options.mini_batch_size), options.error_threshold, options.logging_level)
    assert node["retry_settings"] == {"max_retries": options.run_max_try,
                                      "timeout": options.run_invocation_timeout}
    assert (node["max_concurrency_per_instance"], node["instance_count"]) == (
        options.process_count_per_node, options.node_count)


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
