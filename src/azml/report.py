"""Human and JSON renderings of a plan (``azml plan``) and of AzureML runs. Never shows a secret."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from azml.plan import Plan, PlannedStep
from azml.settings import REDACTED, Settings, is_secret


def plan_json(plan: Plan) -> str:
    """The plan as JSON, secret environment values redacted."""
    data = plan.to_dict()
    for step in data["steps"]:
        step["environment_variables"] = _redacted_env(step["environment_variables"])
    return json.dumps(data, indent=2)


def format_plan(plan: Plan, settings: Settings) -> str:
    """Steps in topological order with command lines, data and compute."""
    params = ", ".join(f"{k}={v!r}" for k, v in plan.parameters.items()) or "none"
    count = len(plan.steps)
    lines = [f"Plan for {plan.config_path} ({count} step{'s' if count != 1 else ''}; parameters: {params})"]
    for index, step in enumerate(plan.steps.values(), start=1):
        lines.append("")
        lines.extend(_step_lines(index, step, plan, settings))
    return settings.redact("\n".join(lines))


def _step_lines(index: int, step: PlannedStep, plan: Plan, settings: Settings) -> list[str]:
    compute = step.compute
    where = compute.cluster_name and f"cluster {compute.cluster_name}" or "run-based compute"
    gpus = "" if compute.gpus_per_node is None else f" ({compute.gpus_per_node} GPU(s) per node)"
    env = step.environment
    lines = [
        f"{index}. {step.id} [{step.type}] \"{step.name}\"",
        f"   script:   {_rel(step.source_directory / step.script)}",
        f"   source:   {_rel(step.source_directory)}",
        f"   command:  {' '.join(_quote(a) for a in step.command_line())}",
        f"   inputs:   {_inputs(step, settings)}",
        f"   outputs:  {', '.join(step.outputs) or 'none'}",
        f"   after:    {_after(step)}",
        (f"   compute:  {compute.vm_size}{gpus}, {where}, {step.node_count} node(s) x "
         f"{step.processes_per_node} process(es) = {step.process_count} rank(s)"),
        f"   image:    {env.base_image} (Python {env.python_version})",
        f"   requirements: {_rel(env.requirements.path) if env.requirements else 'none'}"
        + (f" (+ {', '.join(env.added('azureml_v1'))} on AzureML v1)"
           if env.added("azureml_v1") else ""),
    ]
    if step.parallel is not None:
        lines.append("   parallel: " + _parallel(step))
    if step.environment_variables:
        shown = _redacted_env(dict(step.environment_variables))
        lines.append("   env:      " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if not step.allow_reuse:
        lines.append("   reuse:    disabled")
    return lines


def _inputs(step: PlannedStep, settings: Settings) -> str:
    if not step.inputs:
        return "none"
    parts = []
    for name, spec in step.inputs.items():
        if spec.kind == "datastore":
            local = settings.datastore_root / str(spec.datastore) / str(spec.path)
            parts.append(f"{name} <- datastore {spec.datastore}:{spec.path} ({spec.mode}; locally {_rel(local)})")
        elif spec.kind == "registered_model":
            version = spec.model_version if spec.model_version is not None else "latest"
            parts.append(f"{name} <- registered model {spec.model_name} version {version}")
        elif spec.kind == "dataset":
            version = spec.version if spec.version is not None else "latest"
            parts.append(f"{name} <- dataset {spec.dataset} version {version} ({spec.mode})")
        else:
            parts.append(f"{name} <- {spec.step_id}.{spec.output}")
    return "; ".join(parts)


def _parallel(step: PlannedStep) -> str:
    """A ParallelRunStep's settings in one line."""
    s = step.parallel
    assert s is not None
    rows = (f" to {step.output_name}/{s.append_row_file_name}" if s.output_action == "append_row"
            else "")
    return (f"mini-batches of {s.mini_batch_size} from {', '.join(step.partitioned_inputs)}; "
            f"{s.output_action}{rows}; error_threshold {s.error_threshold}, run_max_try "
            f"{s.run_max_try}, run_invocation_timeout {s.run_invocation_timeout} s, logging "
            f"{s.logging_level}")


def _after(step: PlannedStep) -> str:
    data = list(step.data_upstream)
    order = [s for s in step.run_after if s not in data]
    parts = data + [f"{s} (order only)" for s in order]
    return ", ".join(parts) or "nothing"


def _redacted_env(env: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if is_secret(k) else v) for k, v in env.items()}


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _quote(text: str) -> str:
    return f"'{text}'" if (not text or any(c.isspace() for c in text)) else text


def azure_status_text(record: dict[str, Any]) -> str:
    """An AzureML run (v1) or job (v2) and its steps: status, duration, id, reuse, portal link."""
    flavor = "v1 pipeline run" if record.get("target") == "azureml_v1" else "v2 job"
    lines = [f"{record['run_id']}  {record['status']}  ({flavor})"]
    if record.get("portal_url"):
        lines.append(f"  portal: {record['portal_url']}")
    for step in record.get("steps", []):
        took = f"{step['duration']:.0f}s" if step.get("duration") is not None else "-"
        reused = step.get("reused_from")
        note = f"  reused {reused['run_id']}" + (f" (pipeline run {reused['pipeline_run_id']})"
                                                 if reused.get("pipeline_run_id") else "") if reused else ""
        lines.append(f"  {step['name']:<20} {step['status']:<11} {took:>7}  {step['run_id']}{note}")
    return "\n".join(lines)
