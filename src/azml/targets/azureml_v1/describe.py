"""``azml plan --target azure``: what AzureML would receive, per step.

Builds the real SDK step objects on an offline placeholder workspace (no
credentials, no network) and reads back what they hold: the step class, the
arguments as the SDK resolves them (``$AZUREML_DATAREFERENCE_x``,
``$AML_PARAMETER_x``) and as the structured assignments it sends, data
references, PipelineData, compute, environment and MPI settings. Never a secret:
datastores appear by name, account and container only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from azml.errors import AzmlError
from azml.plan import Edge, Plan
from azml.settings import REDACTED, Settings, is_secret
from azml.targets.azureml_v1.builder import (
    SdkPipeline,
    SdkStep,
    build_sdk_steps,
    offline_datasets,
    offline_datastores,
    offline_workspace,
)


def describe_plan(plan: Plan, settings: Settings, *, as_json: bool = False) -> str:
    """The SDK view of ``plan`` as text, or as JSON with ``as_json``."""
    workspace = offline_workspace()
    pipeline = build_sdk_steps(plan, settings, offline_datastores(workspace, plan, settings),
                               offline_datasets(workspace, plan))
    data = describe_pipeline(pipeline)
    text = json.dumps(data, indent=2) if as_json else _render(data)
    return settings.redact(text)


def describe_pipeline(pipeline: SdkPipeline) -> dict[str, Any]:
    """A JSON-ready account of every step of ``pipeline``, its edges and the SDK's notes."""
    return {
        "parameters": {n: p.default_value for n, p in pipeline.parameters.items()},
        "edges": [_describe_edge(pipeline, e) for e in pipeline.edges],
        "steps": [describe_step(s) for s in pipeline.steps.values()],
        "registrations": [_describe_registration(pipeline.steps[sid], step)
                          for sid, step in pipeline.registrations.items()],
        "notes": list(pipeline.notes),
    }


def _describe_registration(source: SdkStep, step: Any) -> dict[str, Any]:
    """The model registration step that runs after ``source`` (``register_model``)."""
    spec = source.planned.register_model
    assert spec is not None
    return {"after": source.planned.id, "name": step.name, "sdk_class": type(step).__name__,
            "script": step._script_name, "model": spec.name,
            "path": f"{spec.output}/{spec.inside}" if spec.inside else spec.output,
            "arguments": [a if isinstance(a, str) else f"<{type(a).__name__} "
                          f"{getattr(a, 'name', getattr(a, 'input_name', ''))}>" for a in step._arguments]}


def _describe_edge(pipeline: SdkPipeline, edge: Edge) -> dict[str, str]:
    """An edge as the SDK graph holds it: a data binding, or the step's ``run_after``."""
    down = pipeline.steps[edge.downstream].step
    up = pipeline.steps[edge.upstream].step
    if edge.kind == "order":
        held = any(s is up for s in down.run_after_steps)
        if not held:
            raise AzmlError(f"internal: step {edge.downstream} lacks run_after({edge.upstream})")
    return {"from": edge.upstream, "to": edge.downstream, "kind": edge.kind,
            "sdk": "run_after" if edge.kind == "order" else "PipelineData"}


def structured_arguments(sdk: SdkStep) -> tuple[list[str], list[dict[str, str]]]:
    """The arguments as the SDK resolves them, and as the assignments it sends."""
    step = sdk.step
    resolved, annotated = step.resolve_input_arguments(step._arguments, step._inputs,
                                                       step._outputs, step._params)
    assignments = []
    for item in annotated:
        kind = type(item).__name__.strip("_").replace("Argument", "").lower()
        if kind == "string":
            assignments.append({"kind": "literal", "value": item.text})
        else:
            assignments.append({"kind": kind, "name": item.name})
    return [str(r) for r in resolved], assignments


def describe_step(sdk: SdkStep) -> dict[str, Any]:
    resolved, assignments = structured_arguments(sdk)
    runconfig = sdk.runconfig
    return {
        "id": sdk.planned.id,
        "name": sdk.step.name,
        "sdk_class": type(sdk.step).__name__,
        "script": sdk.planned.script,
        "source_directory": str(sdk.planned.source_directory),
        "arguments": resolved,
        "argument_assignments": assignments,
        "inputs": {name: _describe_input(obj) for name, obj in sdk.inputs.items()},
        "outputs": {name: _describe_output(obj) for name, obj in sdk.outputs.items()},
        "compute": _describe_compute(sdk),
        "environment": _describe_environment(sdk),
        "environment_variables": _redacted(dict(runconfig.environment_variables or {})),
        "mpi": ({"node_count": runconfig.mpi.node_count,
                 "process_count_per_node": runconfig.mpi.process_count_per_node,
                 "communicator": runconfig.communicator} if sdk.planned.is_mpi else None),
        "allow_reuse": sdk.step._allow_reuse,
        "parallel": _describe_parallel(sdk) if sdk.planned.is_parallel else None,
    }


def _describe_parallel(sdk: SdkStep) -> dict[str, Any]:
    """A ParallelRunStep's settings as the step holds them (and sends in its metadata)."""
    step = sdk.step
    config = step._parallel_run_config
    return {
        "driver": "driver/amlbi_main.py (placed by AzureML)",
        "entry_script": config.entry_script,
        "compute_target": config.compute_target,
        "mini_batch_size": step._mini_batch_size,
        "error_threshold": step._error_threshold,
        "output_action": config.output_action,
        "append_row_file_name": config.append_row_file_name,
        "run_invocation_timeout": step._run_invocation_timeout,
        "run_max_try": step._run_max_try,
        "logging_level": step._logging_level,
        "node_count": step._node_count,
        "process_count_per_node": step._process_count_per_node,
        "partitioned_inputs": list(sdk.planned.partitioned_inputs),
        "side_inputs": [n for n in sdk.inputs if n not in sdk.planned.partitioned_inputs],
    }


def _describe_environment(sdk: SdkStep) -> dict[str, Any]:
    """The environment as the SDK will send it: image, conda file, what azml added."""
    environment = sdk.environment
    conda = environment.python.conda_dependencies
    return {
        "name": environment.name,
        "base_image": environment.docker.base_image,
        "python": sdk.planned.environment.python_version,
        "conda_file": conda.serialize_to_string(),
        "pip": _pip_list(conda),
        "added_by_azml": list(sdk.planned.environment.added("azureml_v1")),
        "user_managed_dependencies": environment.python.user_managed_dependencies,
    }


def _pip_list(conda: Any) -> list[str]:
    """The ``pip:`` list of the conda specification, in order, exactly as sent."""
    for item in conda._conda_dependencies.get("dependencies", []):
        if isinstance(item, dict) and "pip" in item:
            return [str(line) for line in item["pip"]]
    return []


def _redacted(env: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if is_secret(k) else v) for k, v in env.items()}


def _describe_input(obj: Any) -> dict[str, Any]:
    if type(obj).__name__ == "DatasetConsumptionConfig":  # a ParallelRunStep's datastore input
        return {"dataset": type(obj.dataset).__name__, "name": obj.name, "mode": obj.mode,
                "uri": _dataset_uri(obj.dataset)}
    if type(obj).__name__ == "PipelineOutputFileDataset":  # a ParallelRunStep's step-output input
        return {"dataset": "PipelineOutputFileDataset", "name": obj.input_name,
                "pipeline_data": obj._pipeline_data.name, "mode": obj._input_mode}
    if type(obj).__name__ == "DataReference":
        return {"data_reference": obj.data_reference_name, "datastore": obj.datastore.name,
                "account": obj.datastore.account_name, "container": obj.datastore.container_name,
                "path": obj.path_on_datastore, "mode": obj.mode}
    if type(obj).__name__ == "DatasetConsumptionConfig":
        return {"dataset": obj.dataset.name, "version": obj.dataset.version, "input_name": obj.name,
                "mode": obj.mode}
    if type(obj).__name__ == "PipelineData":  # the original form hands over the data itself
        return {"pipeline_data": obj.name, "port": obj.name, "mode": obj._output_mode}
    producer = obj.bind_object
    return {"pipeline_data": producer.name, "port": obj.name, "mode": obj.bind_mode}


def _dataset_uri(dataset: Any) -> str:
    """The datastore path a FileDataset reads, from its definition (no service call)."""
    found = re.search(r'"(azureml://[^"\\]+)', str(dataset))
    return found.group(1) if found else ""


def _describe_output(obj: Any) -> dict[str, Any]:
    store = obj.datastore.name if obj.datastore is not None else "workspace default"
    return {"pipeline_data": obj.name, "datastore": store, "mode": obj._output_mode,
            "path_on_compute": obj._output_path_on_compute}


def _describe_compute(sdk: SdkStep) -> dict[str, Any]:
    runconfig = sdk.runconfig
    spec = sdk.planned.compute
    if spec.cluster_name:
        from azml.targets.azureml_v1.resources import cluster_max_nodes

        return {"kind": "cluster", "target": spec.cluster_name, "vm_size": spec.vm_size,
                "min_nodes": spec.min_nodes or 0,
                "max_nodes": cluster_max_nodes(spec.max_nodes, runconfig.node_count),
                "node_count": runconfig.node_count}
    return {"kind": "run-based AmlCompute", "target": runconfig.target,
            "vm_size": runconfig.amlcompute.vm_size, "vm_priority": runconfig.amlcompute.vm_priority,
            "node_count": runconfig.node_count}


def _render(data: dict[str, Any]) -> str:
    lines = [f"note: {note}" for note in data["notes"]]
    order = [f"{e['to']} after {e['from']}" for e in data["edges"] if e["kind"] == "order"]
    if order:
        lines.append("run_after: " + "; ".join(order))
    if data["parameters"]:
        params = ", ".join(f"{k}={v!r}" for k, v in data["parameters"].items())
        lines.append(f"pipeline parameters: {params}")
    for step in data["steps"]:
        lines.extend(_render_step(step))
    for reg in data.get("registrations", []):
        lines.append(f"{reg['name']!r}: {reg['sdk_class']} {reg['script']} after {reg['after']}, "
                     f"registers output {reg['path']} as model {reg['model']!r}")
    return "\n".join(lines)


def _render_step(step: dict[str, Any]) -> list[str]:
    lines = [(f"{step['id']} \"{step['name']}\": {step['sdk_class']} {step['script']} "
              f"(source {step['source_directory']})"),
             "  arguments: " + " ".join(step["arguments"])]
    for name, spec in step["inputs"].items():
        if "dataset" in spec:
            source = spec.get("uri") or f"PipelineData {spec.get('pipeline_data')}"
            lines.append(f"  input {name}: {spec['dataset']} '{spec['name']}' from {source} "
                         f"({spec['mode']})")
        elif "data_reference" in spec:
            lines.append(f"  input {name}: DataReference {spec['data_reference']} on datastore "
                         f"{spec['datastore']} path {spec['path']} ({spec['mode']})")
        elif "dataset" in spec:
            version = spec["version"] if spec["version"] is not None else "latest"
            lines.append(f"  input {name}: Dataset.get_by_name({spec['dataset']!r}, version={version!r})"
                         f".as_named_input({spec['input_name']!r}).as_{spec['mode']}() (looked up in "
                         "the workspace at submission)")
        else:
            lines.append(f"  input {name}: PipelineData {spec['pipeline_data']} ({spec['mode']})")
    for name, spec in step["outputs"].items():
        lines.append(f"  output {name}: PipelineData {spec['pipeline_data']} on the "
                     f"{spec['datastore']} datastore ({spec['mode']})")
    c = step["compute"]
    if c["kind"] == "cluster":
        lines.append(f"  compute: cluster {c['target']} ({c['vm_size']}, {c['min_nodes']}-"
                     f"{c['max_nodes']} nodes when azml creates it), {c['node_count']} node(s)")
    else:
        lines.append(f"  compute: run-based AmlCompute {c['vm_size']} ({c['vm_priority']}), "
                     f"{c['node_count']} node(s)")
    if step["parallel"]:
        p = step["parallel"]
        rows = (f" to {p['append_row_file_name']}" if p["output_action"] == "append_row" else "")
        lines.append(f"  parallel: {p['entry_script']} run by {p['driver']} on {p['compute_target']}; "
                     f"mini_batch_size {p['mini_batch_size']} from {', '.join(p['partitioned_inputs'])}"
                     + (f" (side inputs: {', '.join(p['side_inputs'])})" if p["side_inputs"] else "")
                     + f"; {p['output_action']}{rows}; error_threshold {p['error_threshold']}, "
                     f"run_max_try {p['run_max_try']}, run_invocation_timeout "
                     f"{p['run_invocation_timeout']} s, logging {p['logging_level']}; "
                     f"{p['node_count']} node(s) x {p['process_count_per_node']} process(es)")
    if step["mpi"]:
        m = step["mpi"]
        lines.append(f"  mpi: {m['node_count']} node(s) x {m['process_count_per_node']} process(es) "
                     f"per node ({m['communicator']})")
    env = step["environment"]
    added = f" (azml adds {', '.join(env['added_by_azml'])})" if env["added_by_azml"] else ""
    lines.append(f"  environment: {env['base_image']}, Python {env['python']}{added}; pip list:")
    lines.extend(f"    {line}" for line in env["pip"])
    if step["environment_variables"]:
        lines.append("  environment variables: " + ", ".join(
            f"{k}={v}" for k, v in step["environment_variables"].items()))
    lines.append(f"  allow_reuse: {str(step['allow_reuse']).lower()}")
    return lines
