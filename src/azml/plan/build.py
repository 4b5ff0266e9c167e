"""From a validated config to a plan: every step's contract, computed once.

:func:`build_plan` is deterministic: the same config, requirement files,
parameter values, compute defaults and Python version always give the same
:class:`Plan`. It reads the steps' requirements files (once) and raises one
:class:`ConfigError` listing every problem it finds: a requirements line AzureML
could not carry, an MPI layout the VM size cannot hold, an unknown parameter, a
cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from azml.config.arguments import Arg, InputArg, LiteralArg, OutputArg, parse_argument
from azml.config.graph import topological_order
from azml.config.model import (
    MODEL_INPUT,
    ComputeSpec,
    DatasetInput,
    DatastoreInput,
    ParamValue,
    PipelineConfig,
    StepConfig,
    StepOutputInput,
)
from azml.errors import ConfigError, ConfigProblem
from azml.plan.compute import ComputeRequest, layout_problem, vm_size
from azml.plan.contract import InputBinding, OutputBinding
from azml.plan.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, EnvironmentSpec
from azml.plan.model import Plan, PlannedStep
from azml.plan.requirements import Requirements, read_requirements

#: The SDK treats a string argument ``parameter:NAME`` as pipeline parameter NAME
#: (azureml.pipeline.core.builder, resolve_input_arguments); so does the plan.
SDK_PARAMETER_PREFIX = "parameter:"


def build_plan(
    config: PipelineConfig,
    *,
    parameter_values: Mapping[str, ParamValue] | None = None,
    compute_defaults: ComputeSpec | None = None,
    python_version: str | None = None,
) -> Plan:
    """Plan ``config`` with typed parameter values, compute defaults and a Python version.

    Raises ConfigError with every problem found.
    """
    file = str(config.path)
    values = dict(config.parameters)
    for name, value in (parameter_values or {}).items():
        if name not in config.parameters:
            raise ConfigError.single(file, f"parameters.{name}", _unknown_parameter(name, config))
        values[name] = value
    defaults = compute_defaults or ComputeSpec()
    python = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    rank = {sid: i for i, sid in enumerate(config.steps)}
    data_up = {sid: _data_upstream(step, rank) for sid, step in config.steps.items()}
    after = _run_after(config, rank)
    graph = {sid: (*data_up[sid], *after[sid]) for sid in config.steps}
    order = topological_order(graph, file=file, file_order=list(config.steps))
    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = list(config.warnings)
    steps: dict[str, PlannedStep] = {}
    waiting = {sid: tuple(s for s in order if sid in after[s] and sid not in data_up[s])
               for sid in order}
    for sid in order:
        step = config.steps[sid]
        compute = _compute(step, defaults)
        environment = _environment(step, compute, python, problems)
        _check_layout(file, step, compute, problems, warnings)
        _check_parallel(file, step, compute, problems, warnings)
        steps[sid] = PlannedStep(
            id=sid, name=step.name, type=step.type, script=step.script,
            source_directory=step.source_directory,
            arguments=_arguments(step, config),
            inputs=_input_bindings(step),
            outputs=_output_bindings(step),
            data_upstream=data_up[sid], run_after=after[sid],
            environment=environment, compute=compute,
            environment_variables=dict(step.environment_variables),
            allow_reuse=step.allow_reuse,
            register_model=step.register_model,
            parallel=step.parallel,
            order_successors=waiting[sid],
        )
    if problems:
        raise ConfigError(problems)
    return Plan(config_path=config.path, steps=steps, parameters=values, warnings=tuple(warnings))


def _data_upstream(step: StepConfig, rank: Mapping[str, int]) -> tuple[str, ...]:
    ids = {inp.step_id for inp in step.inputs.values() if isinstance(inp, StepOutputInput)}
    if step.parallel and step.parallel.model and step.parallel.model.step_id:
        ids.add(step.parallel.model.step_id)  # a model from an earlier step's output
    return _in_file_order(ids, rank)


def _run_after(config: PipelineConfig, rank: Mapping[str, int]) -> dict[str, tuple[str, ...]]:
    """Order-only edges: ``depends_on``, or file order for an original-form config."""
    ids = list(config.steps)
    result: dict[str, tuple[str, ...]] = {}
    for index, sid in enumerate(ids):
        if config.original_form:
            result[sid] = (ids[index - 1],) if index else ()
        else:
            result[sid] = _in_file_order(set(config.steps[sid].depends_on), rank)
    return result


def _in_file_order(ids: set[str], rank: Mapping[str, int]) -> tuple[str, ...]:
    return tuple(sorted(ids, key=lambda s: rank.get(s, len(rank))))


def _arguments(step: StepConfig, config: PipelineConfig) -> tuple[Arg, ...]:
    args: list[Arg] = []
    for text in step.arguments:
        name = text[len(SDK_PARAMETER_PREFIX):] if text.startswith(SDK_PARAMETER_PREFIX) else ""
        args.append(parse_argument(f"${{{{parameters.{name}}}}}" if name in config.parameters
                                   else text))
    if step.type == "ParallelRunStep":
        # Its input is partitioned and its output is the step's own (ParallelRunStep
        # passes it as --output and refuses that argument name): nothing is appended.
        return tuple(args)
    if step.original_input is not None:
        args += [LiteralArg("--input"), InputArg(step.original_input)]
    if step.original_output is not None:
        args += [LiteralArg("--output"), OutputArg(step.original_output)]
    return tuple(args)


def _input_bindings(step: StepConfig) -> dict[str, InputBinding]:
    bindings: dict[str, InputBinding] = {}
    for name, spec in step.inputs.items():
        if isinstance(spec, DatastoreInput):
            bindings[name] = InputBinding(name, "datastore", spec.reference_name or name,
                                          spec.mode, datastore=spec.datastore, path=spec.path)
        elif isinstance(spec, DatasetInput):
            bindings[name] = InputBinding(name, "dataset", name, spec.mode,
                                          dataset=spec.dataset, version=spec.version)
        else:
            # The original form handed over the upstream PipelineData itself.
            port = spec.output if name == step.original_input else name
            bindings[name] = InputBinding(name, "step_output", port, "mount",
                                          step_id=spec.step_id, output=spec.output)
    model = step.parallel.model if step.parallel else None
    if model is not None and model.step_id is not None:
        # A side input: ParallelRunStep takes the upstream PipelineData itself, so v1
        # shows it under the PipelineData's name, as the original form's input.
        bindings[MODEL_INPUT] = InputBinding(MODEL_INPUT, "step_output", str(model.output),
                                             "mount", step_id=model.step_id, output=model.output)
    elif model is not None:
        bindings[MODEL_INPUT] = InputBinding(MODEL_INPUT, "registered_model", MODEL_INPUT,
                                             "mount", model_name=model.name,
                                             model_version=model.version)
    return bindings


def _output_bindings(step: StepConfig) -> dict[str, OutputBinding]:
    bindings: dict[str, OutputBinding] = {}
    for name in step.outputs:
        if name == step.original_output and step.output_path:
            bindings[name] = OutputBinding(name, name, step.datastore, step.output_path)
        else:
            bindings[name] = OutputBinding(name, name)
    return bindings


def _compute(step: StepConfig, defaults: ComputeSpec) -> ComputeRequest:
    spec = step.compute.merged_over(defaults)
    size = vm_size(spec.vm_size)
    return ComputeRequest(
        vm_size=spec.vm_size, priority=spec.priority or "dedicated",
        cluster_name=spec.cluster_name, min_nodes=spec.min_nodes, max_nodes=spec.max_nodes,
        node_count=step.node_count, processes_per_node=step.processes_per_node,
        gpus_per_node=size.gpus if size else None, vcpus=size.vcpus if size else None)


def _environment(step: StepConfig, compute: ComputeRequest, python: str,
                 problems: list[ConfigProblem]) -> EnvironmentSpec:
    requirements: Requirements | None = None
    if step.requirements is not None:
        try:
            requirements = read_requirements(step.requirements)
        except ConfigError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    image = step.base_image or (DEFAULT_GPU_IMAGE if compute.uses_gpu else DEFAULT_CPU_IMAGE)
    return EnvironmentSpec(f"azml-{step.id}", image, python, requirements,
                           parallel=step.type == "ParallelRunStep")


def _check_layout(file: str, step: StepConfig, compute: ComputeRequest,
                  problems: list[ConfigProblem], warnings: list[ConfigProblem]) -> None:
    if step.type != "MpiStep":
        return
    if compute.gpus_per_node is None:
        warnings.append(ConfigProblem(
            file, f"{step.id}.compute.vm_size",
            f"VM size {compute.vm_size!r} is not in azml's table, so it cannot check that "
            f"{compute.processes_per_node} process(es) per node fit its GPUs"))
        return
    problem = layout_problem(compute)
    if problem:
        problems.append(ConfigProblem(file, f"{step.id}.processes_per_node", problem))


def _check_parallel(file: str, step: StepConfig, compute: ComputeRequest,
                    problems: list[ConfigProblem], warnings: list[ConfigProblem]) -> None:
    """A ParallelRunStep needs a named cluster; a registered model does not reach v1."""
    if step.type != "ParallelRunStep":
        return
    if not compute.cluster_name:
        problems.append(ConfigProblem(
            file, f"{step.id}.compute.cluster_name",
            "a ParallelRunStep needs a named compute cluster: on AzureML v1 it builds its own run "
            "configuration and cannot use run-based compute; set compute.cluster_name in the step "
            "(or in defaults), or AML_COMPUTE_CLUSTER_NAME in the settings"))
    model = step.parallel.model if step.parallel else None
    if model is not None and model.name is not None:
        warnings.append(ConfigProblem(
            file, f"{step.id}.model",
            f"registered model '{model.name}' reaches the step locally and on AzureML v2 only: "
            "the v1 SDK has no pipeline input for a registered model (ParallelRunStep's models= "
            "is gone); for v1 use a step output (\"STEP.OUTPUT\") or load it in init() with "
            "Model.get_model_path"))


def parse_parameter_overrides(
    pairs: Iterable[str], config: PipelineConfig
) -> dict[str, ParamValue]:
    """Typed values from ``name=value`` strings, each coerced to its default's type.

    All problems are reported together as one ConfigError.
    """
    values: dict[str, ParamValue] = {}
    problems: list[ConfigProblem] = []
    file = str(config.path)
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(ConfigProblem(file, "parameters", f"--param {pair!r}: expected NAME=VALUE"))
            continue
        if name not in config.parameters:
            problems.append(ConfigProblem(file, f"parameters.{name}", _unknown_parameter(name, config)))
            continue
        try:
            values[name] = coerce_parameter(raw, config.parameters[name])
        except ValueError as exc:
            problems.append(ConfigProblem(file, f"parameters.{name}", f"--param {pair!r}: {exc}"))
    if problems:
        raise ConfigError(problems)
    return values


def coerce_parameter(raw: str, default: ParamValue) -> ParamValue:
    """``raw`` converted to the type of ``default`` (bool, int, float or str)."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false like the default {str(default).lower()}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected an integer like the default {default}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number like the default {default}") from None
    return raw


def render_parameter(value: ParamValue) -> str:
    """A parameter value as AzureML passes it on the command line (Python's ``str``)."""
    return str(value)


def _unknown_parameter(name: str, config: PipelineConfig) -> str:
    known = ", ".join(sorted(config.parameters)) or "none are declared"
    return f"unknown parameter '{name}' (declared: {known})"


__all__ = ["OutputArg", "build_plan", "coerce_parameter", "parse_parameter_overrides",
           "render_parameter"]
