"""The AzureML contract of a local step run: its argument list and its variables.

The argument list is the same under SDK v1 and v2; the variables are those of the
flavor the run uses (v1's by default, a v2 command job's with ``azureml_v2``:
``AZURE_ML_INPUT_<name>`` / ``AZURE_ML_OUTPUT_<name>`` for each input and output,
the order ports included, and no parameter variables).

The process environment is built from an allow-list (:mod:`process_env`): the
few shell variables any process needs, the names passed on purpose, the step's
own ``environment_variables``, and the variables AzureML itself sets, which this
module computes:

- ``AZUREML_RUN_ID`` (the step run id) and the data variables: their names come
  from the plan (:meth:`azml.plan.PlannedStep.variables`), the same every target
  uses; this module fills in local paths and parameter values;
- for an MpiStep, the master-node variables AzureML adds to every rank
  (:func:`azml.targets.local.cluster.mpi_job_variables`).

Names passed on purpose: ``--pass-env NAME`` (repeatable), ``AZML_PASS_ENV`` and, for
secrets a step must see, ``AZML_STEP_SECRETS`` (comma-separated lists in settings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azml.config.model import ParamValue
from azml.plan import Flavor, PlannedStep, render_parameter
from azml.settings import Settings
from azml.targets.local.cluster import MASTER_ADDRESS, MULTI_NODE_PORT, mpi_job_variables

PASS_SECRETS_VARIABLE = "AZML_STEP_SECRETS"
PASS_ENV_VARIABLE = "AZML_PASS_ENV"


@dataclass(frozen=True)
class StepPaths:
    """Where a step run's inputs and outputs are on this machine."""

    inputs: Mapping[str, Path] = field(default_factory=dict)
    outputs: Mapping[str, Path] = field(default_factory=dict)


def pass_env_names(settings: Settings, extra: Iterable[str] = ()) -> list[str]:
    """Shell variables the user passes to steps on purpose: ``--pass-env`` and settings."""
    names: list[str] = [n.strip() for n in extra]
    for variable in (PASS_ENV_VARIABLE, PASS_SECRETS_VARIABLE):
        names += [n.strip() for n in (settings.get(variable) or "").split(",")]
    return [n for n in dict.fromkeys(names) if n]


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
    """The variables AzureML itself would set for this step run.

    Their names come from the plan; this only fills in local values. An MpiStep
    also gets AzureML's master-node variables (``master_port`` for several
    simulated nodes on this machine; AzureML's own port otherwise).
    """
    env: dict[str, str] = {}
    for variable in step.variables(flavor):
        if variable.source == "run_id":
            env[variable.name] = step_run_id
        elif variable.source == "input":
            env[variable.name] = str(paths.inputs[variable.ref])
        elif variable.source == "output":
            env[variable.name] = str(paths.outputs[variable.ref])
        elif variable.source == "literal":
            env[variable.name] = variable.ref
        else:
            env[variable.name] = render_parameter(parameters[variable.ref])
    if step.is_mpi:
        env.update(mpi_job_variables(step.node_count, MASTER_ADDRESS, master_port or MULTI_NODE_PORT))
    return env
