"""A ParallelRunStep as an AzureML v2 ``parallel`` node, from plain values, offline.

:class:`ParallelNode` is the plain description (the counterpart of
:class:`~.spec.Node` for command nodes), :meth:`ParallelNode.from_plan` fills it
from a planned ParallelRunStep, :func:`parallel_problems` lists what v2 refuses,
and :func:`build_parallel_node` makes the SDK node with
``azure.ai.ml.parallel.parallel_run_function`` (azure-ai-ml 1.35.2,
``entities/_builders/parallel_func.py``), ready to sit in a PipelineJob's ``jobs``
beside command nodes and to be bound like them (``_bind`` in :mod:`.build`).

The v1 settings map onto v2 as follows (the v2 names from ``parallel_run_function``,
``RunFunction`` and ``RetrySettings``; docs "CLI (v2) parallel job YAML schema"):

=========================  ===========================================================
v1 ParallelRunConfig       v2 parallel job
=========================  ===========================================================
inputs (partitioned)       ``inputs`` (uri_folder, ro_mount) + ``input_data`` naming one
side inputs / the model    ``inputs``; a registered model is ``custom_model``
                           ``azureml:NAME:VERSION`` (or ``azureml:NAME@latest``)
mini_batch_size            ``mini_batch_size`` (a string)
error_threshold            ``error_threshold``
run_max_try                ``retry_settings.max_retries`` ("the number of maximum tries",
                           the SDK's docstring)
run_invocation_timeout     ``retry_settings.timeout``
logging_level              ``logging_level`` (DEBUG, INFO or WARNING only)
process_count_per_node     ``max_concurrency_per_instance``
node_count                 ``resources.instance_count``
output_action append_row   ``task.append_row_to: ${{outputs.NAME}}``
output_action summary_only no ``append_row_to`` (the SDK's docstring: "if it is not set,
                           'summary_only' would invoked"); the output, if any, is
                           passed as ``--output ${{outputs.NAME}}`` in
                           ``program_arguments``, as v1 passes it to the driver
append_row_file_name       no setting of its own: passed as ``--append_row_file_name``
                           in ``program_arguments`` (only when not the default)
arguments                  ``task.program_arguments`` (``${{inputs.X}}`` placeholders)
allow_reuse                ``is_deterministic``
=========================  ===========================================================

``program_arguments`` reach the driver's own argument parser: Microsoft documents
driver settings passed there ("CLI (v2) parallel job YAML schema", *Predefined
arguments for parallel job*: ``--error_threshold``, ``--allowed_failed_percent``, ...),
and the driver parses its whole command line with ``parse_known_args``, where
``--output`` sets ``AZUREML_BI_OUTPUT_PATH`` and ``--append_row_file_name`` names
the rows file (the driver's ``arg_parser.py``). That the v2 service passes neither
itself is not verified against a running job.

v2 accepts one partitioned input (``input_data``); several are a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azml.targets.azureml_v2._sdk import require_sdk
from azml.targets.azureml_v2.spec import (
    INPUT_MODES,
    SERVERLESS,
    AssetInput,
    ComputeSpec,
    DatasetInput,
    DatastoreInput,
    EnvironmentSpec,
    NodeInput,
    NodeOutput,
    NodeOutputInput,
    ParameterInput,
    SpecProblem,
    command_bindings,
    parameter_type,
)

if TYPE_CHECKING:  # pragma: no cover
    from azml.plan import PlannedStep

DEFAULT_APPEND_ROW_FILE_NAME = "parallel_run_step.txt"
#: What a v2 parallel node takes (azure-ai-ml 1.35.2: ``LoggingLevel``, the enum of the parallel
#: schemas' ``logging_level``, case as written). ERROR and CRITICAL, which v1 passes to its driver
#: unchecked, fail when the SDK serializes the job.
LOGGING_LEVELS = ("DEBUG", "INFO", "WARNING")
_BATCH_SIZE = re.compile(r"^\d+([kKmMgG][bB])?$")


@dataclass(frozen=True)
class RegisteredModelInput(AssetInput):
    """A registered model: ``azureml:NAME:VERSION``, or the latest version when None."""


ParallelInput = NodeInput | RegisteredModelInput


@dataclass(frozen=True)
class ParallelNode:
    """One parallel node: a ParallelRunStep, with every setting explicit.

    Attributes:
        input_data: the input split into mini-batches (one of ``inputs``).
        append_row_to: the output the rows go to; None is ``summary_only``.
        program_arguments: the entry script's arguments, placeholders as
            ``${{inputs.NAME}}`` / ``${{outputs.NAME}}`` (quoted as for a command).
        max_retries: v1's ``run_max_try`` (tries, not retries).
        timeout: v1's ``run_invocation_timeout`` in seconds.
        after, order_output: the order ports, as :class:`~.spec.Node` has them.
        partitioned: every input the plan splits into mini-batches (v2 takes one).
    """

    name: str
    display_name: str
    code: Path
    entry_script: str
    program_arguments: str
    environment: EnvironmentSpec
    compute: ComputeSpec
    input_data: str
    inputs: Mapping[str, ParallelInput]
    outputs: Mapping[str, NodeOutput] = field(default_factory=dict)
    append_row_to: str | None = None
    append_row_file_name: str = DEFAULT_APPEND_ROW_FILE_NAME
    mini_batch_size: str = "10"
    error_threshold: int = -1
    max_retries: int = 3
    timeout: int = 60
    logging_level: str = "INFO"
    max_concurrency_per_instance: int = 1
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    is_deterministic: bool = True
    after: Mapping[str, str] = field(default_factory=dict)
    order_output: str | None = None
    partitioned: tuple[str, ...] = ()

    @classmethod
    def from_plan(cls, planned: PlannedStep, *, name: str, inputs: Mapping[str, NodeInput],
                  outputs: Mapping[str, NodeOutput], environment: EnvironmentSpec,
                  compute: ComputeSpec, program_arguments: str,
                  after: Mapping[str, str] | None = None,
                  order_output: str | None = None) -> ParallelNode:
        """The node of a planned ParallelRunStep.

        ``inputs``/``outputs``/``environment``/``compute``/``program_arguments`` are
        translated as for a command node; the model input, when it is a registered
        model, is added here (the command translation has no such input). ``after``
        maps each order input to its predecessor node, ``order_output`` is the
        node's order output (see :class:`~.spec.Node`).
        """
        settings = planned.parallel
        if settings is None:
            raise ValueError(f"step {planned.id} is not a ParallelRunStep")
        bound: dict[str, ParallelInput] = dict(inputs)
        model = planned.inputs.get(planned.model_input or "")
        if model is not None and model.kind == "registered_model":
            bound[model.name] = RegisteredModelInput(str(model.model_name), model.model_version)
        partitioned = planned.partitioned_inputs
        return cls(
            name=name, display_name=planned.name, code=planned.source_directory,
            entry_script=planned.script, program_arguments=program_arguments,
            environment=environment, compute=compute,
            input_data=partitioned[0] if partitioned else "", inputs=bound, outputs=dict(outputs),
            append_row_to=planned.output_name if settings.output_action == "append_row" else None,
            append_row_file_name=settings.append_row_file_name,
            mini_batch_size=settings.mini_batch_size, error_threshold=settings.error_threshold,
            max_retries=settings.run_max_try, timeout=settings.run_invocation_timeout,
            logging_level=settings.logging_level,
            max_concurrency_per_instance=planned.processes_per_node,
            environment_variables=dict(planned.environment_variables),
            is_deterministic=planned.allow_reuse, after=dict(after or {}),
            order_output=order_output, partitioned=partitioned)

    @property
    def task_arguments(self) -> str:
        """``program_arguments`` as sent, with the driver settings v2 has no field for.

        ``--append_row_file_name NAME`` when rows go to a file not named as the
        driver's default; ``--output ${{outputs.NAME}}`` in ``summary_only`` with an
        output (v1 passes that output to the driver as ``--output``).
        """
        extra = []
        if self.append_row_to is not None and self.append_row_file_name != DEFAULT_APPEND_ROW_FILE_NAME:
            extra.append(f"--append_row_file_name {self.append_row_file_name}")
        summary_output = self.summary_output
        if summary_output is not None:
            extra.append(f"--output ${{{{outputs.{summary_output}}}}}")
        return " ".join([self.program_arguments, *extra]).strip()

    @property
    def summary_output(self) -> str | None:
        """In ``summary_only``, the output the driver is told about (None without one)."""
        if self.append_row_to is not None:
            return None
        return next(iter(self.outputs), None)

    def order_ports(self) -> tuple[list[str], list[str]]:
        """The (inputs, outputs) that carry this node's ordering edges."""
        return list(self.after), [self.order_output] if self.order_output else []


def parallel_problems(node: ParallelNode, partitioned: tuple[str, ...] | None = None) -> list[SpecProblem]:
    """What AzureML v2 refuses in ``node``; ``partitioned`` are the plan's partitioned inputs
    (default: the node's own :attr:`ParallelNode.partitioned`)."""
    at, problems = node.name, []
    partitioned = node.partitioned if partitioned is None else partitioned
    if len(partitioned) > 1:
        problems.append(SpecProblem(at, "inputs", f"a v2 parallel job splits one input into "
                                    f"mini-batches, this step has {len(partitioned)} "
                                    f"({', '.join(partitioned)}); merge them into one folder"))
    source = node.inputs.get(node.input_data)
    if not isinstance(source, (DatastoreInput, NodeOutputInput, DatasetInput)) or (
            isinstance(source, NodeOutputInput) and source.type != "uri_folder"):
        problems.append(SpecProblem(at, "input_data", f"{node.input_data!r} must name a folder input "
                                    "of the node (a datastore path, a dataset or another node's "
                                    "folder output)"))
    if node.append_row_to is not None and node.append_row_to not in node.outputs:
        problems.append(SpecProblem(at, "append_row_to", f"{node.append_row_to!r} is not an output"))
    for name, value in node.inputs.items():
        if not isinstance(value, ParameterInput) and value.mode not in INPUT_MODES:
            problems.append(SpecProblem(at, f"inputs.{name}.mode", f"must be one of {INPUT_MODES}"))
    for kind, name in sorted(command_bindings(node.task_arguments)):
        if name not in (node.inputs if kind == "inputs" else node.outputs):
            problems.append(SpecProblem(at, "program_arguments", f"refers to ${{{{{kind}.{name}}}}}, "
                                        "which the node does not declare"))
    if not _BATCH_SIZE.match(node.mini_batch_size):
        problems.append(SpecProblem(at, "mini_batch_size", "a number of files, or a size such as 10MB"))
    if node.logging_level not in LOGGING_LEVELS:
        problems.append(SpecProblem(at, "logging_level", f"a v2 parallel job takes {', '.join(LOGGING_LEVELS)} "
                                    f"(azure-ai-ml refuses {node.logging_level!r})"))
    if node.compute.cluster is None and not node.compute.instance_type:
        problems.append(SpecProblem(at, "compute.vm_size", "serverless compute needs a VM size "
                                    "(instance_type); set compute.vm_size or name a cluster"))
    return problems


def build_parallel_node(node: ParallelNode, parameters: Mapping[str, Any] | None = None) -> Any:
    """The SDK ``Parallel`` node, order ports included (:meth:`ParallelNode.order_ports`);
    ``parameters`` are the pipeline inputs' defaults (for the types of parameter inputs).
    Bindings to pipeline inputs and other nodes are made by :func:`.build.build_pipeline_job`."""
    require_sdk()
    from azure.ai.ml import Input, Output
    from azure.ai.ml.entities import Environment
    from azure.ai.ml.entities._job.parallel.retry_settings import RetrySettings
    from azure.ai.ml.parallel import RunFunction, parallel_run_function

    inputs = {name: _input(source, parameters or {}) for name, source in node.inputs.items()}
    in_ports, out_ports = node.order_ports()
    for name in in_ports:
        inputs[name] = Input(type="uri_folder", mode="direct")
    outputs = {name: Output(type=out.type, path=out.uri, mode=out.mode, name=out.asset_name)
               if out.asset_name else Output(type=out.type, path=out.uri, mode=out.mode)
               for name, out in node.outputs.items()}
    for name in out_ports:
        outputs[name] = Output(type="uri_folder", mode="rw_mount")
    env = node.environment
    task = RunFunction(
        code=str(Path(node.code).resolve()), entry_script=node.entry_script,
        program_arguments=node.task_arguments,
        append_row_to=f"${{{{outputs.{node.append_row_to}}}}}" if node.append_row_to else None,
        environment=Environment(image=env.image,
                                conda_file=dict(env.conda_file) if env.conda_file else None))
    c = node.compute
    built = parallel_run_function(
        name=node.name, display_name=node.display_name, inputs=inputs, outputs=outputs,
        input_data=f"${{{{inputs.{node.input_data}}}}}", mini_batch_size=node.mini_batch_size,
        error_threshold=node.error_threshold, logging_level=node.logging_level,
        # the SDK checks for RetrySettings (or a dict), whatever its annotation says
        retry_settings=RetrySettings(max_retries=node.max_retries,  # type: ignore[arg-type]
                                     timeout=node.timeout),
        max_concurrency_per_instance=node.max_concurrency_per_instance,
        instance_count=c.instance_count, instance_type=c.instance_type if c.cluster is None else None,
        environment_variables=dict(node.environment_variables) or None, task=task,
        is_deterministic=node.is_deterministic)
    if c.cluster is not None:
        built.compute = c.cluster
    return built


def _input(source: ParallelInput, parameters: Mapping[str, Any]) -> Any:
    from azure.ai.ml import Input

    if isinstance(source, RegisteredModelInput):
        return Input(type="custom_model", path=source.uri, mode=source.mode)
    if isinstance(source, ParameterInput):
        return Input(type=parameter_type(parameters.get(source.parameter)) or "string")
    if isinstance(source, (DatastoreInput, DatasetInput)):
        return Input(type="uri_folder", path=source.uri, mode=source.mode)
    return Input(type=source.type, mode=source.mode)


def batch_size_value(size: str) -> str:
    """``mini_batch_size`` as the SDK sends it: a size with a unit in bytes (``1MB`` ->
    ``1048576``, ``Parallel.__init__`` in azure-ai-ml 1.35.2; v1 and the local driver
    convert it the same way), a number of files as it is."""
    text = size.strip()
    units = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
    if text[-2:].lower() in units and text[:-2].isdigit():
        return str(int(text[:-2]) * units[text[-2:].lower()])
    return text


def parallel_view(node: ParallelNode) -> dict[str, Any]:
    """The settings of ``node`` as :func:`parallel_job_view` reads them from a job
    (:func:`~.spec.spec_view` adds the inputs and outputs)."""
    c = node.compute
    return {
        "type": "parallel", "display_name": node.display_name,
        "code": str(Path(node.code).resolve()), "entry_script": node.entry_script,
        "program_arguments": node.task_arguments,
        "append_row_to": f"${{{{outputs.{node.append_row_to}}}}}" if node.append_row_to else None,
        "input_data": f"${{{{inputs.{node.input_data}}}}}",
        "mini_batch_size": batch_size_value(node.mini_batch_size),
        "error_threshold": node.error_threshold, "logging_level": node.logging_level,
        "retry_settings": {"max_retries": node.max_retries, "timeout": node.timeout},
        "max_concurrency_per_instance": node.max_concurrency_per_instance,
        "instance_count": c.instance_count, "compute": c.cluster or SERVERLESS,
        "instance_type": c.instance_type if c.cluster is None else None,
        "image": node.environment.image, "conda_file": node.environment.conda_file,
        "environment_variables": dict(node.environment_variables),
        "is_deterministic": node.is_deterministic,
    }


def parallel_job_view(data: Mapping[str, Any], base: str | Path = ".",
                      default_compute: str | None = None) -> dict[str, Any]:
    """The same view of one node of ``PipelineJob._to_dict()["jobs"]`` (built or loaded);
    ``default_compute`` is the pipeline's, for a node that names none."""
    component = data.get("component") or {}
    task = data.get("task") or component.get("task") or {}
    # the component's code is what is uploaded: azure-ai-ml fills the node's task.code back
    # from it on submit (_component_operations._try_resolve_node_level_task_for_parallel_node)
    code = Path(str((component.get("task") or {}).get("code") or task.get("code")))
    retry = data.get("retry_settings") or component.get("retry_settings") or {}
    resources = data.get("resources") or {}
    env = task.get("environment") or {}
    return {
        "type": data.get("type"), "display_name": component.get("display_name") or data.get("display_name"),
        "code": str((Path(base) / code).resolve() if not code.is_absolute() else code),
        "entry_script": task.get("entry_script"), "program_arguments": task.get("program_arguments"),
        "append_row_to": task.get("append_row_to"), "input_data": data.get("input_data"),
        "mini_batch_size": str(data.get("mini_batch_size", component.get("mini_batch_size"))),
        "error_threshold": data.get("error_threshold"),
        "logging_level": data.get("logging_level"),
        "retry_settings": {"max_retries": retry.get("max_retries"), "timeout": retry.get("timeout")},
        "max_concurrency_per_instance": data.get("max_concurrency_per_instance"),
        "instance_count": resources.get("instance_count", 1),
        "compute": str(data.get("compute") or default_compute or "").removeprefix("azureml:"),
        "instance_type": resources.get("instance_type"),
        "image": env.get("image"), "conda_file": env.get("conda_file"),
        "environment_variables": dict(data.get("environment_variables") or {}),
        "is_deterministic": component.get("is_deterministic", True),
    }
