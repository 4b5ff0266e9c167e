"""From a plan to real azureml SDK objects: data, environments, compute, steps.

:func:`build_sdk_steps` is the single translation both ``azml plan --target
azure`` and submission use. It needs a workspace object and datastore objects
but makes no service call itself: offline, they come from
:func:`offline_workspace` and :func:`offline_datastores`; at submission, from
the live workspace (see :mod:`azml.targets.azureml_v1.resources`).

Choices (see docs/azure.md):

* every step is a ``PythonScriptStep``. An ``MpiStep`` of the config becomes a
  PythonScriptStep whose run configuration carries an ``MpiConfiguration``
  (``node_count`` x ``process_count_per_node``, communicator IntelMpi), which is
  what ``ScriptRunConfig`` does for MPI jobs. The SDK's own ``MpiStep`` is
  deprecated (it logs so), builds its run configuration through the deprecated
  ``Estimator``, and needs a persistent cluster object, so it cannot serve
  run-based compute.
* compute is run-based AmlCompute (``runconfig.target = "amlcompute"`` with
  ``runconfig.amlcompute.vm_size``) unless a cluster name is configured; the
  step names the target as a ``(name, "AmlCompute")`` tuple so that building
  the graph does not look the target up in the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from azml.targets.azureml_v1._sdk import CLOUD, quiet_stdout, require_sdk
from azml.plan.requirements import PipRequirements, read_requirements
from azml.config.arguments import InputArg, LiteralArg, OutputArg, ParameterArg
from azml.config.model import ComputeSpec, DatastoreInput, StepOutputInput
from azml.errors import AzmlError, ConfigError
from azml.plan import Plan, PlannedStep
from azml.settings import Settings

#: Run-based compute: the target name that asks AzureML to create a cluster for
#: the run and delete it afterwards.
RUN_BASED_TARGET = "amlcompute"
AML_COMPUTE_TYPE = "AmlCompute"
OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
UNSET_ACCOUNT = "<BLOB_ACCOUNT_NAME>"
UNSET_CONTAINER = "<BLOB_CONTAINER_NAME>"


@dataclass
class SdkStep:
    """One planned step as SDK objects.

    Attributes:
        inputs: the step's input bindings by input name (DataReference or the
            upstream PipelineData bound under this step's input name).
        outputs: the step's PipelineData by output name.
        target: the compute target given to the step (a ``(name, type)`` tuple).
    """

    planned: PlannedStep
    step: Any
    runconfig: Any
    environment: Any
    requirements: PipRequirements | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    target: tuple[str, str]


@dataclass
class SdkPipeline:
    """Every step of a plan as SDK objects, in plan order."""

    steps: dict[str, SdkStep]
    parameters: dict[str, Any] = field(default_factory=dict)
    datastores: dict[str, Any] = field(default_factory=dict)

    def step_objects(self) -> list[Any]:
        return [s.step for s in self.steps.values()]


def offline_workspace() -> Any:
    """A Workspace object that never calls the service (placeholder ids, no credentials)."""
    require_sdk("Describing the AzureML pipeline")
    from azureml.core import Workspace
    from azureml.core.authentication import TokenAuthentication

    def refuse(audience: Any) -> str:
        raise AzmlError("the offline placeholder workspace cannot call AzureML")

    auth = TokenAuthentication(refuse, cloud=CLOUD)
    return Workspace(OFFLINE_SUBSCRIPTION, "offline", "offline", auth=auth,
                     _disable_service_check=True, _workspace_id=OFFLINE_SUBSCRIPTION)


def datastore_names(plan: Plan) -> list[str]:
    """Names of the datastores the plan reads from, in first-use order."""
    names: dict[str, None] = {}
    for step in plan.steps.values():
        for spec in step.inputs.values():
            if isinstance(spec, DatastoreInput):
                names[spec.datastore] = None
    return list(names)


def offline_datastores(workspace: Any, plan: Plan, settings: Settings) -> dict[str, Any]:
    """AzureBlobDatastore objects built locally from the BLOB_* settings (never a key)."""
    require_sdk()
    from azureml.data.azure_storage_datastore import AzureBlobDatastore

    account = settings.get("BLOB_ACCOUNT_NAME") or UNSET_ACCOUNT
    container = settings.get("BLOB_CONTAINER_NAME") or UNSET_CONTAINER
    return {name: AzureBlobDatastore(workspace, name, container, account)
            for name in datastore_names(plan)}


def build_sdk_steps(plan: Plan, settings: Settings, datastores: Mapping[str, Any]) -> SdkPipeline:
    """Every planned step as a PythonScriptStep with its data, environment and compute."""
    require_sdk()
    from azureml.pipeline.core import PipelineParameter

    parameters = {name: PipelineParameter(name=name, default_value=value)
                  for name, value in plan.parameters.items()}
    outputs = _pipeline_data(plan)
    references: dict[tuple[str, str, str, str], Any] = {}
    result = SdkPipeline(steps={}, parameters=parameters, datastores=dict(datastores))
    for sid, planned in plan.steps.items():
        inputs = {name: _input_binding(name, spec, datastores, outputs, references, sid)
                  for name, spec in planned.inputs.items()}
        result.steps[sid] = _build_step(planned, settings, inputs, outputs[sid], parameters)
    return result


def _pipeline_data(plan: Plan) -> dict[str, dict[str, Any]]:
    """PipelineData per (step, output); on the workspace's default datastore.

    An output keeps its own name unless two steps use the same one; then both
    are prefixed with their step id so that names stay unique in the pipeline.
    """
    from azureml.pipeline.core import PipelineData

    counts: dict[str, int] = {}
    for step in plan.steps.values():
        for name in step.outputs:
            counts[name] = counts.get(name, 0) + 1
    return {
        sid: {name: PipelineData(name if counts[name] == 1 else f"{sid}_{name}", is_directory=True)
              for name in step.outputs}
        for sid, step in plan.steps.items()
    }


def _input_binding(name: str, spec: Any, datastores: Mapping[str, Any],
                   outputs: Mapping[str, Mapping[str, Any]],
                   references: dict[tuple[str, str, str, str], Any], sid: str) -> Any:
    from azureml.data.data_reference import DataReference

    if isinstance(spec, StepOutputInput):
        return outputs[spec.step_id][spec.output].as_input(input_name=name)
    assert isinstance(spec, DatastoreInput)
    key = (spec.datastore, spec.path, spec.mode, spec.reference_name or name)
    if key not in references:
        if spec.datastore not in datastores:
            raise AzmlError(f"step '{sid}': datastore '{spec.datastore}' was not prepared")
        references[key] = DataReference(datastore=datastores[spec.datastore],
                                        data_reference_name=key[3],
                                        path_on_datastore=spec.path, mode=spec.mode)
    return references[key]


def _build_step(planned: PlannedStep, settings: Settings, inputs: dict[str, Any],
                outputs: dict[str, Any], parameters: Mapping[str, Any]) -> SdkStep:
    from azureml.pipeline.steps import PythonScriptStep

    requirements = read_requirements(planned.requirements) if planned.requirements else None
    environment = build_environment(planned, requirements)
    runconfig, target = build_runconfig(planned, environment)
    arguments = [_argument(planned, arg, inputs, outputs, parameters) for arg in planned.arguments]
    with quiet_stdout():
        step = PythonScriptStep(
            name=planned.name,
            script_name=planned.script,
            source_directory=str(planned.source_directory),
            arguments=arguments,
            inputs=list(inputs.values()),
            outputs=list(outputs.values()),
            compute_target=target,
            runconfig=runconfig,
            allow_reuse=planned.allow_reuse,
        )
    return SdkStep(planned, step, runconfig, environment, requirements, inputs, outputs, target)


def _argument(planned: PlannedStep, arg: Any, inputs: Mapping[str, Any],
              outputs: Mapping[str, Any], parameters: Mapping[str, Any]) -> Any:
    table: tuple[tuple[type, Mapping[str, Any], str], ...] = (
        (InputArg, inputs, "input"), (OutputArg, outputs, "output"), (ParameterArg, parameters, "parameter"))
    if isinstance(arg, LiteralArg):
        return arg.value
    for kind, objects, label in table:
        if isinstance(arg, kind):
            if arg.name not in objects:
                raise ConfigError.single(planned.id, "arguments",
                                         f"{label} '{arg.name}' is not declared by the step")
            return objects[arg.name]
    raise AzmlError(f"step '{planned.id}': unknown argument token {arg!r}")


def build_environment(planned: PlannedStep, requirements: PipRequirements | None) -> Any:
    """An Environment on the step's base image (DEFAULT_GPU_IMAGE when unset) with its pip packages."""
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies
    from azureml.core.runconfig import DEFAULT_GPU_IMAGE

    environment = Environment(name=f"azml-{planned.id}")
    environment.docker.base_image = planned.base_image or DEFAULT_GPU_IMAGE
    environment.python.user_managed_dependencies = False
    packages = list(requirements.packages) if requirements else []
    dependencies = CondaDependencies.create(pip_packages=packages or None, pin_sdk_version=False)
    for option in requirements.pip_options if requirements else ():
        dependencies.set_pip_option(option)
    environment.python.conda_dependencies = dependencies
    environment.environment_variables = dict(planned.environment_variables)
    return environment


def build_runconfig(planned: PlannedStep, environment: Any) -> tuple[Any, tuple[str, str]]:
    """The step's RunConfiguration and compute target tuple (run-based or a named cluster)."""
    from azureml.core.runconfig import DockerConfiguration, MpiConfiguration, RunConfiguration

    runconfig = RunConfiguration()
    runconfig.environment = environment
    runconfig.docker = DockerConfiguration(use_docker=True)
    runconfig.environment_variables = dict(planned.environment_variables)
    spec: ComputeSpec = planned.compute
    if spec.cluster_name:
        runconfig.target = spec.cluster_name
        target = (spec.cluster_name, AML_COMPUTE_TYPE)
    else:
        with quiet_stdout():  # the setter prints a deprecation banner for run-based compute
            runconfig.target = RUN_BASED_TARGET
        runconfig.amlcompute.vm_size = spec.vm_size
        runconfig.amlcompute.vm_priority = spec.priority or "dedicated"
        # The only way the SDK offers to size a run-based cluster for a multi-node job.
        runconfig.amlcompute._cluster_max_node_count = planned.node_count
        target = (RUN_BASED_TARGET, AML_COMPUTE_TYPE)
    runconfig.node_count = planned.node_count
    if planned.is_mpi:
        runconfig.framework = "Python"
        runconfig.communicator = "IntelMpi"
        runconfig.mpi = MpiConfiguration(process_count_per_node=planned.processes_per_node,
                                         node_count=planned.node_count)
    return runconfig, target
