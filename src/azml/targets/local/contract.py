"""The contract AzureML gives a step: its argument list and environment variables.

The argument list is the same under SDK v1 and v2; the variables are those of the
flavor the run uses (v1's by default, a v2 command job's with ``azureml_v2``).

Environment of a step process, in order of precedence (later wins):

1. The environment azml was started with, minus (a) variables AzureML or an MPI
   launcher would set (``AZUREML_*``, ``AML_PARAMETER_*``, v2's ``AZURE_ML_INPUT_*`` and
   ``AZURE_ML_OUTPUT_*``, ``AZ_BATCH*``,
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
   arguments use, and for an MpiStep the master-node variable. Under v2:
   ``AZURE_ML_INPUT_<name>`` / ``AZURE_ML_OUTPUT_<name>`` for each input and
   output, the order ports included, and no parameter variables.

Names come from the plan (:mod:`azml.plan.contract`), the same every target uses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azml.config.model import ParamValue
from azml.plan import Flavor, PlannedStep, render_parameter
from azml.settings import is_secret

PASS_SECRETS_VARIABLE = "AZML_STEP_SECRETS"
MASTER_ADDRESS = "127.0.0.1"
_CONTRACT_PREFIXES = ("AZUREML_", "AML_PARAMETER_", "AZURE_ML_INPUT_", "AZURE_ML_OUTPUT_", "AZ_BATCH",
                      "OMPI_COMM_WORLD_", "TORCHELASTIC_")
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


def resolve_arguments(
    step: PlannedStep, parameters: Mapping[str, ParamValue], paths: StepPaths
) -> list[str]:
    """The step's argument list with paths and parameter values filled in."""
    return [str(a) for a in step.substitute(
        inputs=lambda name: str(paths.inputs[name]),
        outputs=lambda name: str(paths.outputs[name]),
        parameters=lambda name: render_parameter(parameters[name]))]


def contract_variables(
    step: PlannedStep,
    parameters: Mapping[str, ParamValue],
    paths: StepPaths,
    step_run_id: str,
    master_port: int | None = None,
    flavor: Flavor = "azureml_v1",
) -> dict[str, str]:
    """The variables AzureML itself would set for this step run (rule 4 above).

    Their names come from the plan (:meth:`PlannedStep.variables`); this only
    fills in local values.
    """
    env: dict[str, str] = {}
    for variable in step.variables(flavor):
        if variable.source == "run_id":
            env[variable.name] = step_run_id
        elif variable.source == "input":
            env[variable.name] = str(paths.inputs[variable.ref])
        elif variable.source == "output":
            env[variable.name] = str(paths.outputs[variable.ref])
        else:
            env[variable.name] = render_parameter(parameters[variable.ref])
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
