"""From a plan to a :class:`~.spec.PipelineSpec`: the v2 target's one translation.

It maps, it derives nothing: node names, order ports, bindings, the command's
arguments (:meth:`PlannedStep.substitute`), the pip list
(:meth:`EnvironmentSpec.conda_specification`), compute (:class:`ComputeRequest`) and
order edges (:meth:`Plan.edges`) are the plan's. No SDK is imported, so ``azml plan
--target azureml-v2`` and ``azml validate --target azureml-v2`` stay fast.

A step is a command node; a ParallelRunStep is a parallel node
(:meth:`~.parallel.ParallelNode.from_plan`) whose inputs, outputs, environment,
compute and order ports are translated exactly as a command node's, and whose
``program_arguments`` are the command's words after ``python SCRIPT``
(:func:`program_arguments`). A dataset input is a ``uri_folder`` input on the data
asset (``azureml:NAME:VERSION``); a ParallelRunStep's registered model is added by
``from_plan`` as a ``custom_model`` input.

:func:`v2_problems` lists what v2 cannot express as :class:`ConfigProblem` s with the
config file and a JSON path (``<step>.<key>``): the plan's own features v2 lacks
(a model registered from a path inside an output or with tags, a ParallelRunStep
splitting several inputs), names that clash once mapped (two steps on one node name,
an input named like a parameter the step uses, azml's reserved order ports) and
every rule of :func:`~.spec.validate_spec` and :func:`~.parallel.parallel_problems`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from azml.config.arguments import LiteralArg
from azml.errors import ConfigError, ConfigProblem
from azml.plan import ORDER_INPUT_PREFIX, ORDER_OUTPUT, Flavor, Plan, PlannedStep
from azml.plan.compute import vm_size
from azml.targets.azureml_v2.parallel import ParallelNode
from azml.targets.azureml_v2.spec import (
    ComputeSpec,
    DatasetInput,
    DatastoreInput,
    EnvironmentSpec,
    Node,
    NodeInput,
    NodeOutput,
    NodeOutputInput,
    ParameterInput,
    PipelineSpec,
    SpecProblem,
    validate_spec,
)

FLAVOR: Flavor = "azureml_v2"
DEFAULT_DATASTORE = "workspaceblobstore"
INPUT_MODES = {"mount": "ro_mount", "download": "download"}
MODEL_TYPE = "custom_model"
#: Where a problem's SpecProblem key points in the config (longest prefix first).
_KEY_PATHS = (("process_count_per_instance", "processes_per_node"), ("command", "arguments"),
              ("compute.instance_count", "node_count"), ("after", "depends_on"),
              ("max_concurrency_per_instance", "processes_per_node"),
              ("program_arguments", "arguments"), ("input_data", "inputs"),
              ("append_row_to", "output_action"))


def plan_to_spec(plan: Plan, *, experiment: str, display_name: str | None = None,
                 tags: Mapping[str, str] | None = None, description: str | None = None) -> PipelineSpec:
    """The v2 pipeline job of ``plan`` (check it with :func:`v2_problems` first)."""
    models = {(sid, s.register_model.output) for sid, s in plan.steps.items() if s.register_model}
    nodes = tuple(_node(step, plan, models) for step in plan.steps.values())
    return PipelineSpec(nodes=nodes, experiment_name=experiment,
                        display_name=display_name or plan.config_path.stem,
                        parameters=dict(plan.parameters), tags=dict(tags or {}), description=description)


def command_line(step: PlannedStep) -> str:
    """``python SCRIPT ARGS`` as the job's shell command: literals quoted, bindings as v2 writes them.

    A command job's command runs in a shell, so every literal is quoted to reach
    the script as one argv token, with ``$NAME``/``${NAME}`` expanded as AzureML v1's
    driver expands them (:func:`shell_word`), so an argument such as
    ``$AZUREML_RUN_ID`` means the same on both SDKs. Parameters are node inputs of
    the same name (``${{inputs.<parameter>}}``).
    """
    return " ".join(["python", shlex.quote(step.script), *_argument_words(step)])


def program_arguments(step: PlannedStep) -> str:
    """A ParallelRunStep's arguments as its parallel node's ``program_arguments``: the words
    :func:`command_line` gives after ``python SCRIPT``, quoted and bound the same way."""
    return " ".join(_argument_words(step))


def _argument_words(step: PlannedStep) -> list[str]:
    tokens = step.substitute(inputs=lambda n: f"${{{{inputs.{n}}}}}",
                             outputs=lambda n: f"${{{{outputs.{n}}}}}",
                             parameters=lambda n: f"${{{{inputs.{n}}}}}")
    return [str(token) if not isinstance(arg, LiteralArg) else shell_word(str(token))
            for arg, token in zip(step.arguments, tokens)]


_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def shell_word(text: str) -> str:
    """``text`` as one shell word whose variables expand as ``os.path.expandvars`` does.

    The v1 driver expands ``$NAME``/``${NAME}`` set in the environment and leaves any
    other as written; in the shell a reference becomes ``${NAME-<itself>}`` inside
    double quotes (the value when set, else the reference as written), and
    everything else is escaped.
    """
    if "$" not in text:
        return shlex.quote(text)
    parts = ['"']
    position = 0
    for match in _VARIABLE.finditer(text):
        parts.append(_in_double_quotes(text[position:match.start()]))
        name = match.group(1).removeprefix("{").removesuffix("}")
        raw = _in_double_quotes(match.group(0)).replace("}", "\\}")
        parts.append(f"${{{name}-{raw}}}" if _SHELL_NAME.fullmatch(name)
                     else _in_double_quotes(match.group(0)))
        position = match.end()
    parts += [_in_double_quotes(text[position:]), '"']
    return "".join(parts)


def _in_double_quotes(text: str) -> str:
    return "".join("\\" + ch if ch in '\\"`$' else ch for ch in text)


def _node(step: PlannedStep, plan: Plan, models: set[tuple[str, str]]) -> Node | ParallelNode:
    env = step.environment
    compute = step.compute
    if compute.cluster_name:
        spec_compute = ComputeSpec(instance_count=step.node_count, cluster=compute.cluster_name)
    else:
        spec_compute = ComputeSpec(instance_count=step.node_count, instance_type=compute.vm_size,
                                   job_tier="spot" if compute.priority == "lowpriority" else None)
    environment = EnvironmentSpec(env.base_image, env.conda_specification(FLAVOR))
    after = {port: plan.steps[pred].node_name for port, pred in step.order_inputs(FLAVOR).items()}
    if step.is_parallel:
        return ParallelNode.from_plan(
            step, name=step.node_name, inputs=_inputs(step, plan, models), outputs=_outputs(step),
            environment=environment, compute=spec_compute, program_arguments=program_arguments(step),
            after=after, order_output=step.order_output(FLAVOR))
    return Node(
        name=step.node_name, display_name=step.name, command=command_line(step),
        code=Path(step.source_directory), environment=environment,
        compute=spec_compute, inputs=_inputs(step, plan, models), outputs=_outputs(step),
        process_count_per_instance=step.processes_per_node if step.is_mpi else None,
        environment_variables=dict(step.environment_variables), is_deterministic=step.allow_reuse,
        after=after, order_output=step.order_output(FLAVOR))


def _inputs(step: PlannedStep, plan: Plan, models: set[tuple[str, str]]) -> dict[str, NodeInput]:
    """The node's inputs; a registered model is left to :meth:`ParallelNode.from_plan`."""
    inputs: dict[str, NodeInput] = {}
    for name, binding in step.inputs.items():
        mode = INPUT_MODES[binding.mode]
        if binding.kind == "registered_model":
            continue
        if binding.kind == "datastore":
            inputs[name] = DatastoreInput(str(binding.datastore), str(binding.path), mode)
        elif binding.kind == "dataset":
            inputs[name] = DatasetInput(str(binding.dataset), binding.version, mode)
        else:
            producer = str(binding.step_id)
            kind = MODEL_TYPE if (producer, str(binding.output)) in models else "uri_folder"
            inputs[name] = NodeOutputInput(plan.steps[producer].node_name, str(binding.output), mode, kind)
    for name in step.referenced_parameters():
        inputs.setdefault(name, ParameterInput(name))
    return inputs


def _outputs(step: PlannedStep) -> dict[str, NodeOutput]:
    outputs: dict[str, NodeOutput] = {}
    registered = step.register_model
    for name, binding in step.outputs.items():
        store = (binding.datastore or DEFAULT_DATASTORE) if binding.path else None
        if registered is not None and registered.output == name:
            outputs[name] = NodeOutput(store, binding.path, type=MODEL_TYPE, asset_name=registered.name)
        else:
            outputs[name] = NodeOutput(store, binding.path)
    return outputs


def v2_problems(plan: Plan, spec: PipelineSpec | None = None) -> list[ConfigProblem]:
    """Everything in ``plan`` AzureML v2 would refuse or azml cannot translate faithfully."""
    file = str(plan.config_path)
    problems = _plan_problems(plan, file)
    if len({s.node_name for s in plan.steps.values()}) < len(plan.steps):
        return problems  # nodes that share a name cannot be checked one by one
    spec = spec or plan_to_spec(plan, experiment="azml-validate")
    step_of = {step.node_name: sid for sid, step in plan.steps.items()}
    for problem in validate_spec(spec):
        converted = _config_problem(problem, step_of, plan, file)
        if converted not in problems:
            problems.append(converted)
    return problems


def v2_warnings(plan: Plan) -> list[ConfigProblem]:
    """What cannot be checked offline: a serverless VM size outside azml's table."""
    warnings = []
    for sid, step in plan.steps.items():
        size = step.compute.vm_size
        if not step.compute.cluster_name and size and vm_size(size) is None:
            warnings.append(ConfigProblem(
                str(plan.config_path), f"{sid}.compute.vm_size",
                f"VM size {size!r} is not in azml's table; whether serverless compute offers it "
                "in the workspace's region is checked when you submit"))
    return warnings


def check_plan(plan: Plan, spec: PipelineSpec) -> None:
    """ConfigError listing every v2 problem of ``plan``, if any."""
    problems = v2_problems(plan, spec)
    if problems:
        raise ConfigError(problems)


def _plan_problems(plan: Plan, file: str) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    nodes: dict[str, str] = {}
    for sid, step in plan.steps.items():
        other = nodes.setdefault(step.node_name, sid)
        if other != sid:
            problems.append(ConfigProblem(file, sid, (
                f"expected a step id that differs from '{other}' once lower-cased with characters "
                f"other than a-z, 0-9 and _ made '_': both are v2 node '{step.node_name}'; rename one")))
        problems += _step_problems(file, sid, step)
    return problems


def _step_problems(file: str, sid: str, step: PlannedStep) -> list[ConfigProblem]:
    found = []
    registration = step.register_model
    if registration is not None and registration.inside:
        found.append(ConfigProblem(file, f"{sid}.register_model.path", (
            f"v2 registers a whole output as a model, not a path inside it; write the model into "
            f"an output of its own and register that (path '{registration.output}' of the new output)")))
    if registration is not None and registration.tags:
        found.append(ConfigProblem(file, f"{sid}.register_model.tags", (
            "v2 registers a job output as a model without tags; remove 'tags' and tag the model "
            "afterwards (az ml model update --set tags.NAME=VALUE)")))
    for name in step.referenced_parameters():
        if name in step.inputs:
            found.append(ConfigProblem(file, f"{sid}.inputs.{name}", (
                f"v2 passes parameter '{name}' to the step as an input of that name; rename the input")))
    for name in [*step.inputs, *step.outputs]:
        if name == ORDER_OUTPUT or name.startswith(ORDER_INPUT_PREFIX):
            kind = "inputs" if name in step.inputs else "outputs"
            found.append(ConfigProblem(file, f"{sid}.{kind}.{name}", (
                f"'{ORDER_OUTPUT}' and '{ORDER_INPUT_PREFIX}*' are the ports azml uses for depends_on "
                "on v2; rename it")))
    return found


def _config_problem(problem: SpecProblem, step_of: Mapping[str, str], plan: Plan,
                    file: str) -> ConfigProblem:
    key = problem.key
    for prefix, config_key in _KEY_PATHS:
        if key == prefix or key.startswith(prefix + "."):
            key = config_key + key[len(prefix):]
            break
    if not problem.node:
        if key.startswith("inputs."):  # a pipeline input is a parameter
            key = "parameters." + key[len("inputs."):]
        return ConfigProblem(file, key, problem.message)
    sid = step_of.get(problem.node, problem.node)
    if key.startswith("inputs.") and key[len("inputs."):].split(".")[0] in plan.parameters \
            and key[len("inputs."):].split(".")[0] not in plan.steps[sid].inputs:
        key = "parameters." + key[len("inputs."):]
        return ConfigProblem(file, key, f"step '{sid}': {problem.message}")
    return ConfigProblem(file, f"{sid}.{key}" if key != "name" else sid, problem.message)


__all__ = ["check_plan", "command_line", "plan_to_spec", "program_arguments", "v2_problems",
           "v2_warnings"]
