"""``azml plan --target azureml-v2``: the pipeline job AzureML v2 would receive, offline.

Built from the :class:`~.spec.PipelineSpec` (no SDK import, no network, no credentials):
the same view :func:`~.build.job_view` gives of the SDK job that ``azml export`` writes
and ``azml submit --target azureml-v2`` sends, plus how each plan edge is carried.
"""

from __future__ import annotations

import json
from typing import Any

from azml.plan import Plan
from azml.settings import Settings
from azml.targets.azureml_v2.spec import PipelineSpec, spec_view
from azml.targets.azureml_v2.translate import check_plan, plan_to_spec


def describe_plan(plan: Plan, settings: Settings, *, experiment: str, as_json: bool = False) -> str:
    """The v2 view of ``plan`` as text or JSON; ConfigError if v2 cannot express it."""
    spec = plan_to_spec(plan, experiment=experiment)
    check_plan(plan, spec)
    data = describe_spec(plan, spec)
    return settings.redact(json.dumps(data, indent=2) if as_json else _render(data))


def describe_spec(plan: Plan, spec: PipelineSpec) -> dict[str, Any]:
    """The JSON-ready account: the job view, and each plan edge with the binding that carries it."""
    view = spec_view(spec)
    edges = []
    for edge in plan.edges():
        up, down = plan.steps[edge.upstream], plan.steps[edge.downstream]
        if edge.kind == "order":
            port = next(p for p, s in down.order_inputs("azureml_v2").items() if s == edge.upstream)
            via = f"{down.node_name}.inputs.{port} <- {up.node_name}.outputs.{up.order_output('azureml_v2')}"
        else:
            names = [n for n, b in down.inputs.items() if b.step_id == edge.upstream]
            via = ", ".join(f"{down.node_name}.inputs.{n}" for n in names) or "model"
        edges.append({"from": edge.upstream, "to": edge.downstream, "kind": edge.kind, "v2": via})
    return {"job": view, "edges": edges,
            "steps": {sid: step.node_name for sid, step in plan.steps.items()}}


def _render(data: dict[str, Any]) -> str:
    job = data["job"]
    head = (f"pipeline job (AzureML SDK v2): experiment '{job['experiment_name']}', "
            f"display name '{job['display_name']}', continue_on_step_failure: false")
    lines = [head]
    if job["inputs"]:
        lines.append("inputs: " + ", ".join(f"{k} ({v['type']}) = {v['value']!r}"
                                           for k, v in job["inputs"].items()))
    for sid, name in data["steps"].items():
        lines += _render_node(sid, name, job["nodes"][name])
    if data["edges"]:
        lines.append("order:")
        lines += [f"  {e['from']} -> {e['to']} ({e['kind']}: {e['v2']})" for e in data["edges"]]
    return "\n".join(lines)


def _render_node(sid: str, name: str, node: dict[str, Any]) -> list[str]:
    where = (f"cluster {node['compute']}" if node["compute"] != "serverless"
             else f"serverless {node['instance_type']}" + (f" ({node['job_tier']})" if node.get("job_tier") else ""))
    head = [f"{sid}: node '{name}' \"{node['display_name']}\""]
    if node.get("type") == "parallel":
        head += _render_parallel(node, where)
    else:
        mpi = node["distribution"]
        head += [f"  command: {node['command']}",
                 f"  code: {node['code']}",
                 f"  environment: {node['image']} + conda pip {node['conda_file']['dependencies'][-1]['pip']}",
                 f"  compute: {where} x {node['instance_count']}"
                 + (f", MPI {mpi['process_count_per_instance']} per instance" if mpi else "")]
    return head + _render_ports(node)


def _render_parallel(node: dict[str, Any], where: str) -> list[str]:
    """A parallel node's own settings (a ParallelRunStep)."""
    retry = node["retry_settings"]
    rows = (f"rows to {node['append_row_to']}" if node["append_row_to"]
            else "summary_only (no rows file)")
    return [(f"  parallel: {node['entry_script']} over {node['input_data']}, mini_batch_size "
             f"{node['mini_batch_size']}, {rows}"),
            f"  program_arguments: {node['program_arguments']}",
            (f"  error_threshold {node['error_threshold']}, max_retries {retry['max_retries']} (tries), "
             f"timeout {retry['timeout']} s, logging_level {node['logging_level']}"),
            f"  code: {node['code']}",
            f"  environment: {node['image']} + conda pip {node['conda_file']['dependencies'][-1]['pip']}",
            (f"  compute: {where} x {node['instance_count']}, {node['max_concurrency_per_instance']} "
             "processes per instance")]


def _render_ports(node: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in node["inputs"].items():
        source = f"<- {value['bind']}" if "bind" in value else value["uri"]
        mode = f" ({value['mode']})" if value.get("mode") else ""
        lines.append(f"  input {key}: {source}{mode}")
    for key, value in node["outputs"].items():
        place = value["uri"] or "default datastore"
        model = f", registered as model '{value['asset_name']}'" if value["asset_name"] else ""
        lines.append(f"  output {key}: {value['type']} on {place} ({value['mode']}){model}")
    if node["environment_variables"]:
        lines.append(f"  environment_variables: {', '.join(sorted(node['environment_variables']))}")
    if not node["is_deterministic"]:
        lines.append("  is_deterministic: false (allow_reuse false)")
    return lines
