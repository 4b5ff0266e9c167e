"""The plan's types: a DAG of planned steps, each carrying its whole contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from azml.config.arguments import Arg, InputArg, LiteralArg, OutputArg, ParameterArg
from azml.config.model import (
    MODEL_INPUT,
    ModelRegistration,
    ParallelSettings,
    ParamValue,
    StepType,
)
from azml.errors import ConfigProblem
from azml.plan.compute import ComputeRequest
from azml.plan.contract import (
    ORDER_OUTPUT,
    V2_INPUT_PREFIX,
    V2_OUTPUT_PREFIX,
    Edge,
    InputBinding,
    OutputBinding,
    Variable,
    dataset_list_variable,
    input_variable,
    node_name,
    order_input,
    output_variable,
    parameter_variable,
    substitute_tokens,
)
from azml.plan.environment import FLAVORS, EnvironmentSpec, Flavor

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
        order_successors: steps that wait for this one by order only (their
            ``run_after`` names it and they read none of its data).
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
    order_successors: tuple[str, ...] = ()

    @property
    def node_name(self) -> str:
        """The step's node name in an AzureML v2 pipeline job."""
        return node_name(self.id)

    @property
    def order_predecessors(self) -> tuple[str, ...]:
        """Steps this one waits for by order only (``run_after`` minus data upstream)."""
        return tuple(s for s in self.run_after if s not in self.data_upstream)

    def order_inputs(self, flavor: Flavor) -> dict[str, str]:
        """Inputs ``flavor`` adds for order-only edges: port name -> predecessor step id.

        v1 has ``run_after`` and adds none; v2 adds ``azml_after_<node>`` per predecessor.
        """
        if flavor == "azureml_v1":
            return {}
        return {order_input(p): p for p in self.order_predecessors}

    def order_output(self, flavor: Flavor) -> str | None:
        """The output ``flavor`` adds when order-only successors wait for this step."""
        return ORDER_OUTPUT if flavor != "azureml_v1" and self.order_successors else None

    def output_names(self, flavor: Flavor) -> list[str]:
        """Every output folder the step gets on ``flavor``: its own, then the order output."""
        extra = self.order_output(flavor)
        return [*self.outputs, *([extra] if extra else [])]

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

    @property
    def model_input(self) -> str | None:
        """The input a ParallelRunStep's ``model`` is bound to, or None without one."""
        return MODEL_INPUT if self.parallel is not None and self.parallel.model is not None else None

    @property
    def partitioned_inputs(self) -> tuple[str, ...]:
        """The inputs a ParallelRunStep splits into mini-batches: all but its model.

        Empty for other step types. The model is a side input: the entry script
        gets its path through the arguments (``${{inputs.model}}``).
        """
        if not self.is_parallel:
            return ()
        return tuple(name for name in self.inputs if name != self.model_input)

    @property
    def output_name(self) -> str | None:
        """A ParallelRunStep's one output (where its rows go), or None."""
        return next(iter(self.outputs), None) if self.is_parallel else None

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
        """The data variables ``flavor`` sets for this step, beside the MPI ones.

        On v1 a ParallelRunStep's partitioned inputs are datasets, not data
        references: AzureML sets no ``AZUREML_DATAREFERENCE_`` variable for them
        (the entry script gets their files through ``run(mini_batch)``).
        """
        skip = set(self.partitioned_inputs) if flavor == "azureml_v1" else set()
        found = [Variable("AZUREML_RUN_ID", "run_id")]
        found += [Variable(input_variable(b, flavor), "input", b.name) for b in self.inputs.values()
                  if b.name not in skip]
        found += [Variable(output_variable(b, flavor), "output", b.name)
                  for b in self.outputs.values()]
        for name in self.referenced_parameters():
            variable = parameter_variable(name, flavor)
            if variable is not None:
                found.append(Variable(variable, "parameter", name))
        if flavor != "azureml_v1":
            found += [Variable(V2_INPUT_PREFIX + port, "input", port) for port in self.order_inputs(flavor)]
            done = self.order_output(flavor)
            if done:
                found.append(Variable(V2_OUTPUT_PREFIX + done, "output", done))
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
                          for flavor in FLAVORS},
            "node_name": self.node_name,
            "order_ports": {"inputs": self.order_inputs("azureml_v2"),
                            "output": self.order_output("azureml_v2")},
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
