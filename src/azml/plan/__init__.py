"""From a validated config to a backend-neutral plan.

:func:`build_plan` is pure: the same config, parameter values and compute
defaults always give the same :class:`Plan`. A plan is a DAG of
:class:`PlannedStep` whose arguments are typed tokens, never strings with
placeholders in them. Both backends read only plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from azml.config.arguments import (
    Arg,
    InputArg,
    LiteralArg,
    OutputArg,
    ParameterArg,
    parse_argument,
)
from azml.config.graph import topological_order
from azml.config.model import (
    ComputeSpec,
    DatastoreInput,
    InputSpec,
    ParamValue,
    PipelineConfig,
    StepConfig,
    StepOutputInput,
    StepType,
)
from azml.errors import ConfigError, ConfigProblem

@dataclass(frozen=True)
class PlannedStep:
    """A step as both backends see it.

    Attributes:
        upstream: ids of the steps this one directly waits for, in file order.
        compute: the step's compute with the settings' defaults filled in.
    """

    id: str
    name: str
    type: StepType
    script: str
    source_directory: Path
    arguments: tuple[Arg, ...]
    inputs: Mapping[str, InputSpec]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    requirements: Path | None
    base_image: str | None
    node_count: int
    processes_per_node: int
    environment_variables: Mapping[str, str]
    allow_reuse: bool
    compute: ComputeSpec

    @property
    def process_count(self) -> int:
        return self.node_count * self.processes_per_node

    @property
    def is_mpi(self) -> bool:
        return self.type == "MpiStep"

    def command_line(self) -> list[str]:
        """``python SCRIPT ARGS`` with placeholders visible."""
        return ["python", self.script, *(a.render() for a in self.arguments)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "script": self.script,
            "source_directory": str(self.source_directory),
            "command": self.command_line(),
            "arguments": [_arg_to_dict(a) for a in self.arguments],
            "inputs": {k: _input_to_dict(v) for k, v in self.inputs.items()},
            "outputs": list(self.outputs),
            "upstream": list(self.upstream),
            "requirements": str(self.requirements) if self.requirements else None,
            "base_image": self.base_image,
            "node_count": self.node_count,
            "processes_per_node": self.processes_per_node,
            "environment_variables": dict(self.environment_variables),
            "allow_reuse": self.allow_reuse,
            "compute": _compute_to_dict(self.compute),
        }


@dataclass(frozen=True)
class Plan:
    """A topologically ordered DAG of planned steps.

    ``steps`` iterates in execution order (file order among steps ready together).
    """

    config_path: Path
    steps: Mapping[str, PlannedStep]
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)

    @property
    def order(self) -> list[str]:
        return list(self.steps)

    def predecessors(self) -> dict[str, tuple[str, ...]]:
        return {sid: step.upstream for sid, step in self.steps.items()}

    def successors(self) -> dict[str, tuple[str, ...]]:
        result: dict[str, list[str]] = {sid: [] for sid in self.steps}
        for sid, step in self.steps.items():
            for up in step.upstream:
                result[up].append(sid)
        return {k: tuple(v) for k, v in result.items()}

    def descendants(self, step_id: str) -> set[str]:
        """Every step that directly or indirectly waits for ``step_id``."""
        succ = self.successors()
        seen: set[str] = set()
        stack = list(succ[step_id])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(succ[node])
        return seen

    def edges(self) -> list[tuple[str, str]]:
        return [(up, sid) for sid, step in self.steps.items() for up in step.upstream]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": str(self.config_path),
            "parameters": dict(self.parameters),
            "steps": [step.to_dict() for step in self.steps.values()],
        }


def build_plan(
    config: PipelineConfig,
    *,
    parameter_values: Mapping[str, ParamValue] | None = None,
    compute_defaults: ComputeSpec | None = None,
) -> Plan:
    """Plan ``config`` with parameter values (already typed) and compute defaults.

    Raises ConfigError for an unknown parameter or a dependency cycle.
    """
    file = str(config.path)
    values = dict(config.parameters)
    for name, value in (parameter_values or {}).items():
        if name not in config.parameters:
            raise ConfigError.single(file, f"parameters.{name}", _unknown_parameter(name, config))
        values[name] = value
    defaults = compute_defaults or ComputeSpec()
    upstream = {sid: _upstream_of(step, config) for sid, step in config.steps.items()}
    order = topological_order(upstream, file=file, file_order=list(config.steps))
    steps = {sid: _plan_step(config.steps[sid], upstream[sid], defaults) for sid in order}
    return Plan(config_path=config.path, steps=steps, parameters=values)


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
    """A parameter value as AzureML passes it on the command line."""
    if isinstance(value, bool):
        return str(value)
    return str(value)


def _unknown_parameter(name: str, config: PipelineConfig) -> str:
    known = ", ".join(sorted(config.parameters)) or "none are declared"
    return f"unknown parameter '{name}' (declared: {known})"


def _upstream_of(step: StepConfig, config: PipelineConfig) -> tuple[str, ...]:
    ids = {inp.step_id for inp in step.inputs.values() if isinstance(inp, StepOutputInput)}
    ids.update(step.depends_on)
    rank = {sid: i for i, sid in enumerate(config.steps)}
    return tuple(sorted(ids, key=lambda s: rank.get(s, len(rank))))


def _plan_step(step: StepConfig, upstream: tuple[str, ...], defaults: ComputeSpec) -> PlannedStep:
    args: list[Arg] = [parse_argument(a) for a in step.arguments]
    if step.original_input is not None:
        args += [LiteralArg("--input_data"), InputArg(step.original_input)]
    if step.original_output is not None:
        args += [LiteralArg("--output"), OutputArg(step.original_output)]
    return PlannedStep(
        id=step.id,
        name=step.name,
        type=step.type,
        script=step.script,
        source_directory=step.source_directory,
        arguments=tuple(args),
        inputs=dict(step.inputs),
        outputs=step.outputs,
        upstream=upstream,
        requirements=step.requirements,
        base_image=step.base_image,
        node_count=step.node_count,
        processes_per_node=step.processes_per_node,
        environment_variables=dict(step.environment_variables),
        allow_reuse=step.allow_reuse,
        compute=step.compute.merged_over(defaults),
    )


def _arg_to_dict(arg: Arg) -> dict[str, str]:
    if isinstance(arg, LiteralArg):
        return {"kind": "literal", "value": arg.value}
    kind = {InputArg: "input", OutputArg: "output", ParameterArg: "parameter"}[type(arg)]
    return {"kind": kind, "name": arg.name}


def _input_to_dict(spec: InputSpec) -> dict[str, str]:
    if isinstance(spec, DatastoreInput):
        return {
            "kind": "datastore",
            "datastore": spec.datastore,
            "path": spec.path,
            "mode": spec.mode,
            "reference_name": spec.reference_name,
        }
    return {"kind": "step_output", "step": spec.step_id, "output": spec.output}


def _compute_to_dict(spec: ComputeSpec) -> dict[str, Any]:
    return {
        "vm_size": spec.vm_size,
        "min_nodes": spec.min_nodes,
        "max_nodes": spec.max_nodes,
        "priority": spec.priority,
        "cluster_name": spec.cluster_name,
    }
