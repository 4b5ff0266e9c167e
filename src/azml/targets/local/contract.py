"""The contract AzureML v1 gives a step: its argument list and environment variables.

Environment of a step process, in order of precedence (later wins):

1. The environment azml was started with, minus (a) variables AzureML or an MPI
   launcher would set (``AZUREML_*``, ``AML_PARAMETER_*``, ``AZ_BATCH*``,
   ``OMPI_COMM_WORLD_*``, torch's ``RANK``/``WORLD_SIZE``/... ), so stale values
   from the shell never leak in, and (b) every variable whose name ends in KEY,
   SECRET, PASSWORD or TOKEN: an AzureML step never sees the submitter's shell,
   so a script that only works because it can read ``BLOB_ACCOUNT_KEY`` locally
   would fail in the cloud. Names listed in ``AZML_STEP_SECRETS`` (comma
   separated) are passed through anyway, on purpose. Values from ``.env`` are
   never in this environment: azml reads ``.env`` without exporting it.
2. ``PYTHONUNBUFFERED=1``.
3. The step's ``environment_variables``.
4. AzureML's variables: ``AZUREML_RUN_ID`` (the step run id),
   ``AZUREML_DATAREFERENCE_<name>`` for each data reference, step input and step
   output, ``AML_PARAMETER_<name>`` for each pipeline parameter the step's
   arguments use, and for an MpiStep the master-node variable.

Names (the same the azure backend gives, see :mod:`azml.targets.azureml_v1.builder`): a
datastore input is seen under its data reference name; a step-output input
under the consuming step's input name (the PipelineData is bound with
``as_input(input_name=...)``); a step's own output under its PipelineData name,
which is the output name, or ``<step id>_<output>`` when several steps declare
an output of that name. AzureML sets ``AML_PARAMETER_<name>`` for each pipeline
parameter a step's arguments use (the argument resolves to ``$AML_PARAMETER_<name>``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azml.config.arguments import InputArg, LiteralArg, OutputArg, ParameterArg
from azml.config.model import DatastoreInput, ParamValue
from azml.plan import Plan, PlannedStep, render_parameter
from azml.settings import is_secret

PASS_SECRETS_VARIABLE = "AZML_STEP_SECRETS"
MASTER_ADDRESS = "127.0.0.1"
_CONTRACT_PREFIXES = ("AZUREML_", "AML_PARAMETER_", "AZ_BATCH", "OMPI_COMM_WORLD_", "TORCHELASTIC_")
_CONTRACT_NAMES = frozenset({
    "OMPI_UNIVERSE_SIZE", "PMIX_RANK", "PMIX_NAMESPACE", "RANK", "WORLD_SIZE", "LOCAL_RANK",
    "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
})


@dataclass(frozen=True)
class StepPaths:
    """Where a step run's inputs and outputs are on this machine."""

    inputs: Mapping[str, Path] = field(default_factory=dict)
    outputs: Mapping[str, Path] = field(default_factory=dict)


def base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The inherited part of every step's environment (rule 1 above)."""
    allowed = {n.strip() for n in environ.get(PASS_SECRETS_VARIABLE, "").split(",") if n.strip()}
    env: dict[str, str] = {}
    for name, value in environ.items():
        if name in _CONTRACT_NAMES or name.startswith(_CONTRACT_PREFIXES):
            continue
        if is_secret(name) and name not in allowed:
            continue
        env[name] = value
    return env


def withheld_secrets(environ: Mapping[str, str]) -> list[str]:
    """Names of secret variables of ``environ`` that steps will not see."""
    allowed = {n.strip() for n in environ.get(PASS_SECRETS_VARIABLE, "").split(",") if n.strip()}
    return sorted(n for n in environ if is_secret(n) and n not in allowed)


def referenced_parameters(step: PlannedStep) -> list[str]:
    """Parameters used in the step's arguments, in order of first use."""
    names: list[str] = []
    for arg in step.arguments:
        if isinstance(arg, ParameterArg) and arg.name not in names:
            names.append(arg.name)
    return names


def reference_name(step: PlannedStep, input_name: str) -> str:
    """The data reference name under which the step sees input ``input_name``."""
    spec = step.inputs[input_name]
    if isinstance(spec, DatastoreInput):
        return spec.reference_name or input_name
    return input_name


def pipeline_data_names(plan: Plan) -> dict[tuple[str, str], str]:
    """The PipelineData name of every ``(step id, output)``: unique across the pipeline."""
    counts: dict[str, int] = {}
    for step in plan.steps.values():
        for name in step.outputs:
            counts[name] = counts.get(name, 0) + 1
    return {(sid, name): (name if counts[name] == 1 else f"{sid}_{name}")
            for sid, step in plan.steps.items() for name in step.outputs}


def resolve_arguments(
    step: PlannedStep, parameters: Mapping[str, ParamValue], paths: StepPaths
) -> list[str]:
    """The step's argument list with paths and parameter values filled in."""
    out: list[str] = []
    for arg in step.arguments:
        if isinstance(arg, LiteralArg):
            out.append(arg.value)
        elif isinstance(arg, InputArg):
            out.append(str(paths.inputs[arg.name]))
        elif isinstance(arg, OutputArg):
            out.append(str(paths.outputs[arg.name]))
        else:
            out.append(render_parameter(parameters[arg.name]))
    return out


def contract_variables(
    step: PlannedStep,
    parameters: Mapping[str, ParamValue],
    paths: StepPaths,
    step_run_id: str,
    output_names: Mapping[str, str] | None = None,
    master_port: int | None = None,
) -> dict[str, str]:
    """The variables AzureML itself would set for this step run (rule 4 above).

    ``output_names`` maps each output to its PipelineData name (default: itself).
    """
    env = {"AZUREML_RUN_ID": step_run_id}
    for name in step.inputs:
        env[f"AZUREML_DATAREFERENCE_{reference_name(step, name)}"] = str(paths.inputs[name])
    for name in step.outputs:
        data_name = (output_names or {}).get(name, name)
        env[f"AZUREML_DATAREFERENCE_{data_name}"] = str(paths.outputs[name])
    for name in referenced_parameters(step):
        env[f"AML_PARAMETER_{name}"] = render_parameter(parameters[name])
    if step.is_mpi:
        env.update(master_node_variables(step.node_count, master_port))
    return env


def master_node_variables(node_count: int, port: int | None) -> dict[str, str]:
    """AzureML's MPI master-node variable: one name for one node, another for several."""
    if node_count <= 1:
        return {"AZ_BATCHAI_MPI_MASTER_NODE": MASTER_ADDRESS}
    return {"AZ_BATCH_MASTER_NODE": f"{MASTER_ADDRESS}:{port or 6105}"}


def step_environment(
    base: Mapping[str, str],
    step: PlannedStep,
    contract: Mapping[str, str],
) -> dict[str, str]:
    """The whole environment of a step process (rules 1 to 4 above)."""
    env = dict(base)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(step.environment_variables)
    env.update(contract)
    return env


def current_environment() -> dict[str, str]:
    return base_environment(os.environ)
