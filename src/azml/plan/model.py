"""The plan's types: a DAG of planned steps, each carrying its whole contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from azml.config.arguments import Arg, InputArg, LiteralArg, OutputArg, ParameterArg
from dataclasses import asdict

from azml.config.model import ModelRegistration, ParallelSettings, ParamValue, StepType
from azml.errors import ConfigProblem
from azml.plan.compute import ComputeRequest
from azml.plan.contract import (
    Edge,
    InputBinding,
    OutputBinding,
    Variable,
    dataset_list_variable,
    input_variable,
    output_variable,
    parameter_variable,
    substitute_tokens,
)
from azml.plan.environment import Flavor, EnvironmentSpec

T = TypeVar("T")


@dataclass(frozen=True)
class PlannedStep:
    """A step as every target sees it.

    Attributes:
        arguments: argv tokens after the script (literal, input, output, parameter).
        inputs, outputs: bindings by the step's own names, in declaration order.
        data_upstream: steps whose outputs this step reads (file order).
        run_after: steps this step waits for without reading their data: its
            ``depends_on``, or the previous step of an original-form config.
        environment_variables: the config's own variables for the step.
    """

    id: str
    name: str
    type: StepType
    script: str
    source_directory: Path
    arguments: tuple[Arg, ...]
    inputs: Mapping[str, InputBinding]
    outputs: Mapping[str, OutputBinding]
    data_upstream: tuple[str, ...]
    run_after: tuple[str, ...]
    environment: EnvironmentSpec
    compute: ComputeRequest
    environment_variables: Mapping[str, str]
    allow_reuse: bool
    register_model: ModelRegistration | None = None
    parallel: ParallelSettings | None = None

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for (data first, then order-only)."""
        return self.data_upstream + tuple(s for s in self.run_after if s not in self.data_upstream)

    @property
    def node_count(self) -> int:
        return self.compute.node_count

    @property
    def processes_per_node(self) -> int:
        return self.compute.processes_per_node

    @property
    def process_count(self) -> int:
        return self.compute.process_count

    @property
    def is_mpi(self) -> bool:
        return self.type == "MpiStep"

    @property
    def is_parallel(self) -> bool:
        return self.type == "ParallelRunStep"

    def referenced_parameters(self) -> list[str]:
        """Parameters the arguments use, in order of first use."""
        names: list[str] = []
        for arg in self.arguments:
            if isinstance(arg, ParameterArg) and arg.name not in names:
                names.append(arg.name)
        return names

    def substitute(
        self,
        *,
        inputs: Callable[[str], T],
        outputs: Callable[[str], T],
        parameters: Callable[[str], T],
    ) -> list[str | T]:
        """The argument list with each placeholder replaced by what a target gives for it."""
        return substitute_tokens(self.arguments, inputs=inputs, outputs=outputs,
                                 parameters=parameters)

    def variables(self, flavor: Flavor) -> list[Variable]:
        """The data variables ``flavor`` sets for this step, beside the MPI ones."""
        found = [Variable("AZUREML_RUN_ID", "run_id")]
        found += [Variable(input_variable(b, flavor), "input", b.name) for b in self.inputs.values()]
        found += [Variable(output_variable(b, flavor), "output", b.name)
                  for b in self.outputs.values()]
        found += [Variable(parameter_variable(n, flavor), "parameter", n)
                  for n in self.referenced_parameters()]
        datasets = dataset_list_variable(self.inputs.values(), flavor)
        return found + [datasets] if datasets else found

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
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
            "upstream": list(self.upstream),
            "run_after": list(self.run_after),
            "environment": self.environment.to_dict(),
            "compute": self.compute.to_dict(),
            "environment_variables": dict(self.environment_variables),
            "variables": {flavor: [v.name for v in self.variables(flavor)]
                          for flavor in ("azureml_v1", "azureml_v2")},
            "allow_reuse": self.allow_reuse,
            "register_model": asdict(self.register_model) if self.register_model else None,
            "parallel": asdict(self.parallel) if self.parallel else None,
        }


@dataclass(frozen=True)
class Plan:
    """A topologically ordered DAG of planned steps.

    ``steps`` iterates in execution order (file order among steps ready together).
    """

    config_path: Path
    steps: Mapping[str, PlannedStep]
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    warnings: tuple[ConfigProblem, ...] = ()

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

    def edges(self) -> list[Edge]:
        """Every edge with its kind: ``data`` (reads an output) or ``order`` (waits only)."""
        found = []
        for sid, step in self.steps.items():
            found += [Edge(up, sid, "data") for up in step.data_upstream]
            found += [Edge(up, sid, "order") for up in step.run_after
                      if up not in step.data_upstream]
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": str(self.config_path),
            "parameters": dict(self.parameters),
            "edges": [e.to_dict() for e in self.edges()],
            "steps": [step.to_dict() for step in self.steps.values()],
        }


def _arg_to_dict(arg: Arg) -> dict[str, str]:
    if isinstance(arg, LiteralArg):
        return {"kind": "literal", "value": arg.value}
    kind = {InputArg: "input", OutputArg: "output", ParameterArg: "parameter"}[type(arg)]
    return {"kind": kind, "name": arg.name}
