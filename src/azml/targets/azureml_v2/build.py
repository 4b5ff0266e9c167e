"""Build an ``azure.ai.ml`` PipelineJob from a :class:`~.spec.PipelineSpec`, offline.

Each step becomes a command node (``azure.ai.ml.command``) with its own anonymous
command component, or, for a ParallelRunStep, a parallel node
(:func:`~.parallel.build_parallel_node`) bound the same way. A command node has: the command, ``code`` = the step's folder (uploaded as a snapshot
on submit), an anonymous environment (image + conda file), ``MpiDistribution`` when
the node has processes per instance, ``resources`` (instance count, and the VM size
for serverless), typed inputs and uri_folder outputs. The pipeline sets
``default_compute = "serverless"`` (Microsoft's documented way to run pipeline nodes on
serverless compute); a node with a named cluster overrides it. Nothing here sends a
request; :func:`job_view` reads any PipelineJob (built or loaded from YAML) back into
the view :func:`~.spec.spec_view` gives of the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azml.targets.azureml_v2._sdk import require_sdk
from azml.targets.azureml_v2.parallel import ParallelNode, build_parallel_node, parallel_job_view
from azml.targets.azureml_v2.spec import (
    SERVERLESS,
    DatasetInput,
    DatastoreInput,
    Node,
    NodeOutputInput,
    ParameterInput,
    PipelineSpec,
    parameter_type,
)


def build_pipeline_job(spec: PipelineSpec) -> Any:
    """The PipelineJob for ``spec`` (validate it first with :func:`~.spec.validate_spec`)."""
    require_sdk()
    from azure.ai.ml.entities import PipelineJob

    nodes = {node.name: _command_node(node, spec) if isinstance(node, Node)
             else build_parallel_node(node, spec.parameters) for node in spec.nodes}
    job = PipelineJob(jobs=nodes, inputs=dict(spec.parameters), experiment_name=spec.experiment_name,
                      display_name=spec.display_name, tags=dict(spec.tags), description=spec.description)
    done = {node.name: node.order_output for node in spec.nodes}
    for node in spec.nodes:
        _bind(nodes, node, job, done)
    from azure.ai.ml.entities import PipelineJobSettings

    job.settings = job.settings or PipelineJobSettings()
    job.settings.default_compute = SERVERLESS
    job.settings.continue_on_step_failure = False
    return job


def _command_node(node: Node, spec: PipelineSpec) -> Any:
    from azure.ai.ml import Input, MpiDistribution, Output, command
    from azure.ai.ml.entities import Environment, JobResourceConfiguration, QueueSettings

    inputs: dict[str, Any] = {}
    for name, source in node.inputs.items():
        if isinstance(source, ParameterInput):
            inputs[name] = Input(type=parameter_type(spec.parameters[source.parameter]) or "string")
        elif isinstance(source, (DatastoreInput, DatasetInput)):
            inputs[name] = Input(type="uri_folder", path=source.uri, mode=source.mode)
        else:
            inputs[name] = Input(type=source.type, mode=source.mode)
    for name in node.after:
        inputs[name] = Input(type="uri_folder", mode="direct")
    outputs = {name: _output(out) for name, out in node.outputs.items()}
    if node.order_output:
        outputs[node.order_output] = Output(type="uri_folder", mode="rw_mount")
    env = node.environment
    built = command(
        name=node.name, display_name=node.display_name, command=node.command,
        code=str(Path(node.code).resolve()),
        environment=Environment(image=env.image, conda_file=dict(env.conda_file) if env.conda_file else None),
        inputs=inputs, outputs=outputs, environment_variables=dict(node.environment_variables) or None,
        distribution=(MpiDistribution(process_count_per_instance=node.process_count_per_instance)
                      if node.process_count_per_instance is not None else None),
        is_deterministic=node.is_deterministic,
    )
    c = node.compute
    built.resources = JobResourceConfiguration(
        instance_count=c.instance_count, instance_type=c.instance_type if c.cluster is None else None)
    if c.cluster is not None:
        built.compute = c.cluster
    if c.job_tier is not None:
        built.queue_settings = QueueSettings(job_tier=c.job_tier)
    return built


def _output(out: Any) -> Any:
    from azure.ai.ml import Output

    if out.asset_name is not None:  # registered as a model asset when the node completes
        return Output(type=out.type, path=out.uri, mode=out.mode, name=out.asset_name)
    return Output(type=out.type, path=out.uri, mode=out.mode)


def _bind(nodes: dict[str, Any], node: Node | ParallelNode, job: Any, done: dict[str, str | None]) -> None:
    """Point the node's inputs at pipeline inputs and at earlier nodes' outputs."""
    built = nodes[node.name]
    for name, source in node.inputs.items():
        if isinstance(source, ParameterInput):
            setattr(built.inputs, name, getattr(job.inputs, source.parameter))
        elif isinstance(source, NodeOutputInput):
            setattr(built.inputs, name, getattr(nodes[source.node].outputs, source.output))
            getattr(built.inputs, name).mode = source.mode
    for port, pred in node.after.items():
        setattr(built.inputs, port, getattr(nodes[pred].outputs, str(done[pred])))
        getattr(built.inputs, port).mode = "direct"


def job_view(job: Any) -> dict[str, Any]:
    """The canonical view (see :func:`~.spec.spec_view`) of a PipelineJob."""
    data = job._to_dict()
    settings = data.get("settings") or {}
    return {
        "experiment_name": data.get("experiment_name"), "display_name": data.get("display_name"),
        "tags": dict(data.get("tags") or {}),
        "continue_on_step_failure": settings.get("continue_on_step_failure"),
        "inputs": {k: {"type": _literal_type(v), "value": v} for k, v in (data.get("inputs") or {}).items()},
        "nodes": {name: _node_view(node, settings.get("default_compute"), job.base_path)
                  for name, node in (data.get("jobs") or {}).items()},
    }


def _literal_type(value: Any) -> str | None:
    return parameter_type(value)


def _node_view(node: dict[str, Any], default_compute: Any, base: Any) -> dict[str, Any]:
    component = node.get("component") or {}
    if node.get("type") == "parallel":
        return {**parallel_job_view(node, base, default_compute), **_ports_view(node, component)}
    env = node.get("environment") or component.get("environment") or {}
    resources = node.get("resources") or {}
    distribution = node.get("distribution") or component.get("distribution")
    compute = str(node.get("compute") or default_compute or "").removeprefix("azureml:")
    queue = node.get("queue_settings") or {}
    code = Path(str(component.get("code")))
    return {
        "display_name": component.get("display_name") or node.get("display_name"),
        "command": component.get("command"),
        "code": str((Path(base) / code).resolve() if not code.is_absolute() else code.resolve()),
        "image": env.get("image"), "conda_file": env.get("conda_file"),
        **_ports_view(node, component),
        "distribution": ({"type": distribution.get("type"),
                          "process_count_per_instance": distribution.get("process_count_per_instance")}
                         if distribution else None),
        "compute": compute, "instance_type": resources.get("instance_type"),
        "instance_count": resources.get("instance_count", 1), "job_tier": queue.get("job_tier"),
        "environment_variables": dict(node.get("environment_variables") or {}),
        "is_deterministic": component.get("is_deterministic", True),
    }


def _ports_view(node: dict[str, Any], component: dict[str, Any]) -> dict[str, Any]:
    """A node's inputs and outputs as :func:`~.spec.ports_view` shows them."""
    return {
        "inputs": {k: _port_view(v, (component.get("inputs") or {}).get(k) or {})
                   for k, v in (node.get("inputs") or {}).items()},
        "outputs": {k: {"uri": v.get("path"), "mode": v.get("mode"),
                        "type": ((component.get("outputs") or {}).get(k) or {}).get("type"),
                        "asset_name": v.get("name")}
                    for k, v in (node.get("outputs") or {}).items()},
    }


def _port_view(port: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """A node input as the spec view shows it; its type is the component's declaration."""
    path = str(port.get("path") or "")
    if path.startswith("${{parent.inputs."):
        return {"bind": "parameters." + path[len("${{parent.inputs."):-2]}
    if path.startswith("${{parent.jobs."):
        node, _, output = path[len("${{parent.jobs."):-2].partition(".outputs.")
        return {"bind": f"{node}.{output}", "mode": port.get("mode"), "type": declared.get("type")}
    return {"uri": path, "mode": port.get("mode"), "type": declared.get("type") or port.get("type")}
