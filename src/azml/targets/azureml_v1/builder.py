"""From a plan to real azureml SDK objects: data, environments, compute, steps, order.

:func:`build_sdk_steps` is the single translation ``azml plan --target azure``
and submission both use. It needs a workspace object and datastore objects but
makes no service call itself: offline, they come from :func:`offline_workspace`
and :func:`offline_datastores`; at submission, from the live workspace (see
:mod:`azml.targets.azureml_v1.resources`). It derives nothing: names, bindings,
environments and edges are the plan's.

Choices (see docs/azure.md):

* every step is a ``PythonScriptStep``, except a ``ParallelRunStep``, which becomes
  the SDK's ParallelRunStep on its named cluster (:mod:`.parallel`). An ``MpiStep`` of the config becomes a
  PythonScriptStep whose run configuration carries an ``MpiConfiguration``
  (``node_count`` x ``process_count_per_node``, communicator IntelMpi), which is
  what ``ScriptRunConfig`` does for MPI jobs. The SDK's own ``MpiStep`` is
  deprecated and needs a persistent cluster object, so it cannot serve
  run-based compute.
* the environment's conda specification is built from the plan's pip lines as
  they are (:meth:`EnvironmentSpec.conda_specification`), loaded through a
  conda file: ``CondaDependencies.create``/``set_pip_option`` would keep one
  line per option and per package and add ``--find-links``/``--extra-index-url``
  lines of their own.
* compute is run-based AmlCompute unless a cluster name is configured; the step
  names the target as a ``(name, "AmlCompute")`` tuple so building the graph
  does not look the target up in the workspace.
* order-only edges of the plan become ``run_after``, as the original project's
  ``StepSequence`` did for its file order.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from azml.errors import AzmlError, ConfigError
from azml.plan import Edge, InputBinding, Plan, PlannedStep
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import CLOUD, quiet_stdout, require_sdk

#: Run-based compute: the target name that asks AzureML to create a cluster for
#: the run and delete it afterwards.
RUN_BASED_TARGET = "amlcompute"
AML_COMPUTE_TYPE = "AmlCompute"
FLAVOR: Literal["azureml_v1"] = "azureml_v1"
OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
UNSET_ACCOUNT = "<BLOB_ACCOUNT_NAME>"
UNSET_CONTAINER = "<BLOB_CONTAINER_NAME>"
RUN_BASED_NOTE = (
    "AzureML v1 marks run-based compute as deprecated (the SDK prints a DEPRECATED banner "
    "when it is set). azml still asks for it; set AML_COMPUTE_CLUSTER_NAME (or "
    "compute.cluster_name) for a persistent cluster, or submit with --target azureml-v2 for "
    "serverless compute")


@dataclass
class SdkStep:
    """One planned step as SDK objects.

    Attributes:
        inputs: the step's input bindings by input name (DataReference, the
            upstream PipelineData, or it bound under this step's input name).
        outputs: the step's PipelineData by output name.
        target: the compute target given to the step (a ``(name, type)`` tuple).
    """

    planned: PlannedStep
    step: Any
    runconfig: Any
    environment: Any
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    target: tuple[str, str]


@dataclass
class SdkPipeline:
    """Every step of a plan as SDK objects, in plan order, and the plan's edges.

    ``notes`` holds what the SDK said while building (its deprecation banners),
    reworded once each.
    """

    steps: dict[str, SdkStep]
    edges: list[Edge] = field(default_factory=list)
    #: the model registration step after each step with ``register_model``, by step id
    registrations: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    datastores: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def step_objects(self) -> list[Any]:
        return [s.step for s in self.steps.values()] + list(self.registrations.values())


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
    """Names of the blob datastores the plan reads or writes, in first-use order."""
    names: dict[str, None] = {}
    for step in plan.steps.values():
        for binding in step.inputs.values():
            if binding.kind == "datastore" and binding.datastore:
                names[binding.datastore] = None
        for output in step.outputs.values():
            if output.datastore:
                names[output.datastore] = None
    return list(names)


DatasetKey = tuple[str, int | None]


def dataset_refs(plan: Plan) -> list[DatasetKey]:
    """The registered datasets the plan reads, as ``(name, version)``, in first-use order."""
    found: dict[DatasetKey, None] = {}
    for step in plan.steps.values():
        for binding in step.inputs.values():
            if binding.kind == "dataset":
                found[(str(binding.dataset), binding.version)] = None
    return list(found)


def offline_datasets(workspace: Any, plan: Plan) -> dict[DatasetKey, Any]:
    """Stand-ins for ``Dataset.get_by_name`` that need no service: FileDatasets that carry
    the registered name and version but no definition (the files are looked up in the
    workspace only at submission). Enough for the SDK to build and resolve the steps."""
    require_sdk()
    from azureml.data.abstract_dataset import _DatasetRegistration
    from azureml.data.file_dataset import FileDataset

    from azml.targets.azureml_v1.parallel import silence_sdk_telemetry

    silence_sdk_telemetry()

    return {(name, version): FileDataset._create(definition=None, registration=_DatasetRegistration(
        workspace, saved_id=None, name=name, version=version)) for name, version in dataset_refs(plan)}


def offline_datastores(workspace: Any, plan: Plan, settings: Settings) -> dict[str, Any]:
    """AzureBlobDatastore objects built locally from the BLOB_* settings (never a key)."""
    require_sdk()
    from azureml.data.azure_storage_datastore import AzureBlobDatastore

    account = settings.get("BLOB_ACCOUNT_NAME") or UNSET_ACCOUNT
    container = settings.get("BLOB_CONTAINER_NAME") or UNSET_CONTAINER
    return {name: AzureBlobDatastore(workspace, name, container, account)
            for name in datastore_names(plan)}


def build_sdk_steps(plan: Plan, settings: Settings, datastores: Mapping[str, Any],
                    datasets: Mapping[DatasetKey, Any] | None = None) -> SdkPipeline:
    """Every planned step as a PythonScriptStep with its data, environment, compute and order.

    ``datasets`` holds the registered datasets the plan reads (:func:`dataset_refs`):
    from ``Dataset.get_by_name`` at submission, :func:`offline_datasets` offline.
    """
    require_sdk()
    from azureml.pipeline.core import PipelineParameter

    parameters = {name: PipelineParameter(name=name, default_value=value)
                  for name, value in plan.parameters.items()}
    missing = [n for n in datastore_names(plan) if n not in datastores]
    missing += [f"dataset {n}:{v or 'latest'}" for n, v in dataset_refs(plan)
                if (n, v) not in (datasets or {})]
    if missing:
        raise AzmlError(f"datastore(s) {', '.join(missing)} were not prepared")
    outputs = _pipeline_data(plan, datastores)
    promoted = _partitioned_outputs(plan)
    references: dict[tuple[str, str, str, str], Any] = {}
    result = SdkPipeline(steps={}, edges=plan.edges(), parameters=parameters,
                         datastores=dict(datastores))
    banner = io.StringIO()
    with redirect_stdout(banner):
        for sid, planned in plan.steps.items():
            if planned.is_parallel:
                result.steps[sid] = _build_parallel_step(str(plan.config_path), planned, datastores,
                                                         outputs, references, parameters,
                                                         datasets or {})
                continue
            inputs = {name: _input_binding(binding, datastores, outputs, references, datasets or {})
                      for name, binding in planned.inputs.items()}
            result.steps[sid] = _build_step(planned, inputs, outputs[sid], parameters,
                                            promoted.get(sid, set()))
        for edge in result.edges:
            if edge.kind == "order":
                result.steps[edge.downstream].step.run_after(result.steps[edge.upstream].step)
        for sid, sdk in result.steps.items():
            if sdk.planned.register_model is not None:
                result.registrations[sid] = _registration(sdk)
    if "DEPRECATED" in banner.getvalue():
        result.notes.append(RUN_BASED_NOTE)
    return result


def _pipeline_data(plan: Plan, datastores: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """PipelineData per (step, output), named and placed as the plan says."""
    from azureml.pipeline.core import PipelineData

    result: dict[str, dict[str, Any]] = {}
    for sid, step in plan.steps.items():
        result[sid] = {}
        for name, out in step.outputs.items():
            store = datastores[out.datastore] if out.datastore else None
            result[sid][name] = PipelineData(out.data_name, datastore=store, output_name=out.data_name,
                                             output_mode="mount", output_path_on_compute=out.path,
                                             is_directory=True)
    return result


def _partitioned_outputs(plan: Plan) -> dict[str, set[str]]:
    """Per producing step, its outputs a ParallelRunStep reads as a dataset.

    The SDK refuses to build the graph unless such an output is "promoted to a
    dataset" by its producer: the producer lists ``PipelineData.as_dataset()`` in its
    ``outputs`` (``_PipelineGraphBuilder.resolve_references``).
    """
    found: dict[str, set[str]] = {}
    for step in plan.steps.values():
        for name in step.partitioned_inputs:
            binding = step.inputs[name]
            if binding.kind == "step_output":
                found.setdefault(str(binding.step_id), set()).add(str(binding.output))
    return found


def _input_binding(binding: InputBinding, datastores: Mapping[str, Any],
                   outputs: Mapping[str, Mapping[str, Any]],
                   references: dict[tuple[str, str, str, str], Any],
                   datasets: Mapping[DatasetKey, Any]) -> Any:
    from azureml.data.data_reference import DataReference

    if binding.kind == "dataset":
        named = datasets[(str(binding.dataset), binding.version)].as_named_input(binding.binding_name)
        return named.as_download() if binding.mode == "download" else named.as_mount()
    if binding.kind == "step_output":
        data = outputs[str(binding.step_id)][str(binding.output)]
        if binding.binding_name == data.name:
            return data  # the original form: the PipelineData itself, seen under its own name
        return data.as_input(input_name=binding.binding_name)
    key = (str(binding.datastore), str(binding.path), binding.mode, binding.binding_name)
    if key not in references:
        references[key] = DataReference(datastore=datastores[key[0]],
                                        data_reference_name=binding.binding_name,
                                        path_on_datastore=key[1], mode=binding.mode)
    return references[key]


def _build_step(planned: PlannedStep, inputs: dict[str, Any], outputs: dict[str, Any],
                parameters: Mapping[str, Any], promote: set[str] | None = None) -> SdkStep:
    """A PythonScriptStep; outputs named in ``promote`` are sent as ``as_dataset()``."""
    from azureml.pipeline.steps import PythonScriptStep

    environment = build_environment(planned)
    runconfig, target = build_runconfig(planned, environment)
    sent = {n: (d.as_dataset() if n in (promote or ()) else d) for n, d in outputs.items()}
    arguments = planned.substitute(inputs=lambda n: inputs[n], outputs=lambda n: sent[n],
                                   parameters=lambda n: parameters[n])
    with quiet_stdout():
        step = PythonScriptStep(
            name=planned.name,
            script_name=planned.script,
            source_directory=str(planned.source_directory),
            arguments=arguments,
            inputs=list(inputs.values()),
            outputs=list(sent.values()),
            compute_target=target,
            runconfig=runconfig,
            allow_reuse=planned.allow_reuse,
        )
    return SdkStep(planned, step, runconfig, environment, inputs, outputs, target)


def _build_parallel_step(file: str, planned: PlannedStep, datastores: Mapping[str, Any],
                         outputs: Mapping[str, Mapping[str, Any]],
                         references: dict[tuple[str, str, str, str], Any],
                         parameters: Mapping[str, Any],
                         datasets: Mapping[DatasetKey, Any]) -> SdkStep:
    """A ParallelRunStep: partitioned inputs as FileDatasets, the model a side input."""
    from azml.targets.azureml_v1 import parallel

    inputs: dict[str, Any] = {}
    for name in planned.partitioned_inputs:
        binding = planned.inputs[name]
        if binding.kind == "datastore":
            inputs[name] = parallel.datastore_file_input(
                datastores[str(binding.datastore)], str(binding.path), binding.binding_name)
        elif binding.kind == "dataset":  # the registered dataset itself is what PRS partitions
            inputs[name] = datasets[(str(binding.dataset), binding.version)].as_named_input(
                binding.binding_name)
        else:
            data = outputs[str(binding.step_id)][str(binding.output)]
            inputs[name] = parallel.step_output_input(data, binding.binding_name)
    side: dict[str, Any] = {}
    if planned.model_input is not None:
        binding = planned.inputs[planned.model_input]
        if binding.kind == "registered_model":
            raise ConfigError.single(file, f"{planned.id}.model", (
                f"registered model '{binding.model_name}' cannot reach a ParallelRunStep on AzureML "
                "v1 (the SDK has no pipeline input for a registered model; models= is gone): use a "
                "step output (\"STEP.OUTPUT\"), load it in init() with Model.get_model_path, or "
                "submit to AzureML v2"))
        side[binding.name] = _input_binding(binding, datastores, outputs, references, datasets)
    environment = build_environment(planned)
    cluster = planned.compute.cluster_name
    if not cluster:  # the plan refuses this; kept for plans built by hand
        raise ConfigError.single(file, f"{planned.id}.compute.cluster_name",
                                 "a ParallelRunStep needs a named compute cluster on AzureML v1")
    settings = planned.parallel
    assert settings is not None
    config = parallel.build_parallel_run_config(
        source_directory=str(planned.source_directory), entry_script=planned.script,
        environment=environment, compute_target=cluster, settings=settings,
        node_count=planned.node_count, process_count_per_node=planned.processes_per_node,
        environment_variables=planned.environment_variables)
    own = outputs[planned.id]
    arguments = planned.substitute(inputs=lambda n: side[n], outputs=lambda n: own[n],
                                   parameters=lambda n: parameters[n])
    step = parallel.build_parallel_run_step(
        name=planned.name, config=config, inputs=list(inputs.values()),
        output=own[planned.output_name] if planned.output_name else None, arguments=arguments,
        side_inputs=list(side.values()), allow_reuse=planned.allow_reuse)
    # The step's own inputs, as it will send them (it mounts file datasets), by name.
    sent = dict(zip([*inputs, *side], step._inputs))
    return SdkStep(planned, step, step._runconfig, environment, sent, dict(own),
                   (cluster, AML_COMPUTE_TYPE))


def _registration(sdk: SdkStep) -> Any:
    """The step that registers ``register_model`` of ``sdk`` once it has run (see models.py)."""
    from azml.targets.azureml_v1.models import registration_step

    spec = sdk.planned.register_model
    assert spec is not None
    data = sdk.outputs[spec.output]
    return registration_step(data.as_input(input_name=f"{spec.output}_model"), spec.name,
                             inside=spec.inside, source_step=sdk.planned.name, tags=spec.tags,
                             compute_target=sdk.target, runconfig=sdk.runconfig)


def build_environment(planned: PlannedStep) -> Any:
    """An Environment on the plan's image whose conda file lists the plan's pip lines verbatim."""
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    spec = planned.environment
    environment = Environment(name=spec.name)
    environment.docker.base_image = spec.base_image
    environment.python.user_managed_dependencies = False
    with tempfile.TemporaryDirectory(prefix="azml-conda-") as folder:
        path = Path(folder) / "conda.yml"
        path.write_text(json.dumps(spec.conda_specification(FLAVOR)), encoding="utf-8")
        environment.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=str(path))
    environment.environment_variables = dict(planned.environment_variables)
    return environment


def build_runconfig(planned: PlannedStep, environment: Any) -> tuple[Any, tuple[str, str]]:
    """The step's RunConfiguration and compute target tuple (run-based or a named cluster)."""
    from azureml.core.runconfig import DockerConfiguration, MpiConfiguration, RunConfiguration

    runconfig = RunConfiguration()
    runconfig.environment = environment
    runconfig.docker = DockerConfiguration(use_docker=True)
    runconfig.environment_variables = dict(planned.environment_variables)
    spec = planned.compute
    if spec.cluster_name:
        runconfig.target = spec.cluster_name
        target = (spec.cluster_name, AML_COMPUTE_TYPE)
    else:
        runconfig.target = RUN_BASED_TARGET  # the SDK prints its DEPRECATED banner here
        runconfig.amlcompute.vm_size = spec.vm_size
        runconfig.amlcompute.vm_priority = spec.priority
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
