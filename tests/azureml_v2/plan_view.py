"""What the plan says a v2 job must hold, derived from the plan alone, for the tests to compare.

Nothing here calls the v2 translation: node names, bindings, ports and compute are
read off the plan (:mod:`azml.plan`), so a test comparing a built, exported or loaded
job with this view checks the translation, not the translation against itself.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from azml.plan import Plan, PlannedStep


def expected_command(step: PlannedStep) -> list[str]:
    """The argv tokens of the node's command, bindings as v2 writes them."""
    return ["python", step.script, *step.substitute(
        inputs=lambda n: f"${{{{inputs.{n}}}}}", outputs=lambda n: f"${{{{outputs.{n}}}}}",
        parameters=lambda n: f"${{{{inputs.{n}}}}}")]


def _inputs(plan: Plan, step: PlannedStep) -> dict[str, Any]:
    registered = {(sid, s.register_model.output) for sid, s in plan.steps.items() if s.register_model}
    found: dict[str, Any] = {}
    for name, b in step.inputs.items():
        mode = {"mount": "ro_mount", "download": "download"}[b.mode]
        if b.kind == "datastore":
            found[name] = {"uri": f"azureml://datastores/{b.datastore}/paths/{str(b.path).lstrip('/')}",
                           "mode": mode, "type": "uri_folder"}
        elif b.kind == "dataset":
            found[name] = {"uri": b.asset_uri, "mode": mode, "type": "uri_folder"}
        elif b.kind == "registered_model":
            version = f":{b.model_version}" if b.model_version is not None else "@latest"
            found[name] = {"uri": f"azureml:{b.model_name}{version}", "mode": mode, "type": "custom_model"}
        else:
            kind = "custom_model" if (b.step_id, b.output) in registered else "uri_folder"
            found[name] = {"bind": f"{plan.steps[str(b.step_id)].node_name}.{b.output}", "mode": mode,
                           "type": kind}
    for name in step.referenced_parameters():
        found[name] = {"bind": f"parameters.{name}"}
    for port, pred in step.order_inputs("azureml_v2").items():
        found[port] = {"bind": f"{plan.steps[pred].node_name}.azml_done", "mode": "direct", "type": "uri_folder"}
    return found


def _outputs(step: PlannedStep) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, out in step.outputs.items():
        uri = (f"azureml://datastores/{out.datastore or 'workspaceblobstore'}/paths/{out.path.lstrip('/')}"
               if out.path else None)
        model = step.register_model and step.register_model.output == name
        found[name] = {"uri": uri, "mode": "rw_mount", "type": "custom_model" if model else "uri_folder",
                       "asset_name": step.register_model.name if model and step.register_model else None}
    if step.order_successors:
        found["azml_done"] = {"uri": None, "mode": "rw_mount", "type": "uri_folder", "asset_name": None}
    return found


def expected_node(plan: Plan, step: PlannedStep) -> dict[str, Any]:
    if step.is_parallel:
        return expected_parallel_node(plan, step)
    c = step.compute
    return {
        "display_name": step.name,
        "argv": expected_command(step),
        "code": str(step.source_directory.resolve()),
        "image": step.environment.base_image,
        "pip": list(step.environment.pip_lines("azureml_v2")),
        "inputs": _inputs(plan, step),
        "outputs": _outputs(step),
        "distribution": ({"type": "mpi", "process_count_per_instance": step.processes_per_node}
                         if step.is_mpi else None),
        "compute": c.cluster_name or "serverless",
        "instance_type": None if c.cluster_name else c.vm_size,
        "instance_count": step.node_count,
        "job_tier": "spot" if c.priority == "lowpriority" and not c.cluster_name else None,
        "environment_variables": dict(step.environment_variables),
        "is_deterministic": step.allow_reuse,
    }


def expected_parallel_node(plan: Plan, step: PlannedStep) -> dict[str, Any]:
    """A ParallelRunStep as a parallel node: every ParallelRunConfig setting under its v2 name.

    ``argv`` is the program arguments as a shell splits them: the step's arguments, then
    the driver settings v2 has no field for (the rows file's name when not the driver's
    default; in summary_only, the output as ``--output``).
    """
    settings, c = step.parallel, step.compute
    assert settings is not None
    rows_to = step.output_name if settings.output_action == "append_row" else None
    extra = []
    if rows_to and settings.append_row_file_name != "parallel_run_step.txt":
        extra += ["--append_row_file_name", settings.append_row_file_name]
    if not rows_to and step.output_name:
        extra += ["--output", f"${{{{outputs.{step.output_name}}}}}"]
    return {
        "type": "parallel", "display_name": step.name, "code": str(step.source_directory.resolve()),
        "entry_script": step.script, "argv": expected_command(step)[2:] + extra,
        "append_row_to": f"${{{{outputs.{rows_to}}}}}" if rows_to else None,
        "input_data": f"${{{{inputs.{step.partitioned_inputs[0]}}}}}",
        "mini_batch_size": _bytes(settings.mini_batch_size), "error_threshold": settings.error_threshold,
        "logging_level": settings.logging_level,
        "retry_settings": {"max_retries": settings.run_max_try, "timeout": settings.run_invocation_timeout},
        "max_concurrency_per_instance": step.processes_per_node, "instance_count": step.node_count,
        "compute": c.cluster_name or "serverless", "instance_type": None if c.cluster_name else c.vm_size,
        "image": step.environment.base_image, "pip": list(step.environment.pip_lines("azureml_v2")),
        "inputs": _inputs(plan, step), "outputs": _outputs(step),
        "environment_variables": dict(step.environment_variables), "is_deterministic": step.allow_reuse,
    }


def _bytes(size: str) -> str:
    """A mini-batch size as a number: ``NKB``/``NMB``/``NGB`` in bytes, a file count as is."""
    match = re.fullmatch(r"(\d+)([kKmMgG])[bB]", size.strip())
    if match is None:
        return size.strip()
    return str(int(match.group(1)) * 1024 ** " kmg".index(match.group(2).lower()))


def shell_words(text: str) -> list[str]:
    """The words a real shell makes of ``text`` (bindings kept as written)."""
    return shell_argv("python " + text)[1:]


def shell_argv(command: str, env: dict[str, str] | None = None) -> list[str]:
    """The argv a real shell gives ``command``'s words, in an environment of ``env`` only.

    With no variables set, a ``$NAME`` the command keeps for run time comes out as
    written, as the plan holds it.
    """
    bindings: list[str] = []

    def hold(match: re.Match[str]) -> str:  # AzureML replaces ${{...}} before the shell runs
        bindings.append(match.group(0))
        return f"AZMLBINDING{len(bindings) - 1}X"

    printer = 'import json, sys; print(json.dumps(sys.argv[1:]))'
    words = re.sub(r"\$\{\{[^}]*\}\}", hold, command.split(" ", 1)[1] if " " in command else "")
    done = subprocess.run(["bash", "-c", f"{shlex.quote(sys.executable)} -c {shlex.quote(printer)} {words}"],
                          env={"PATH": os.environ["PATH"], **(env or {})}, capture_output=True,
                          text=True, check=True)
    restore = re.compile(r"AZMLBINDING(\d+)X")
    return ["python", *(restore.sub(lambda m: bindings[int(m.group(1))], word)
                        for word in json.loads(done.stdout))]


def actual_node(view: dict[str, Any]) -> dict[str, Any]:
    """A node of :func:`job_view` reduced to :func:`expected_node`'s shape."""
    node = dict(view)
    if node.get("type") == "parallel":
        node["argv"] = shell_words(node.pop("program_arguments"))
    else:
        node["argv"] = shell_argv(node.pop("command"))
    node["pip"] = node.pop("conda_file")["dependencies"][-1]["pip"]
    return node


def edges_in(view: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(upstream node, downstream node, data|order) of every binding between nodes."""
    found = set()
    for name, node in view["nodes"].items():
        for port, source in node["inputs"].items():
            bind = source.get("bind", "")
            if bind and not bind.startswith("parameters."):
                found.add((bind.split(".")[0], name, "order" if port.startswith("azml_after_") else "data"))
    return found


def assert_job_matches_plan(view: dict[str, Any], plan: Plan, experiment: str) -> None:
    """Steps, commands, inputs, outputs, distribution, compute and ordering equal the plan's."""
    assert view["experiment_name"] == experiment
    assert view["continue_on_step_failure"] is False
    assert {k: v["value"] for k, v in view["inputs"].items()} == dict(plan.parameters)
    assert list(view["nodes"]) == [s.node_name for s in plan.steps.values()]
    for step in plan.steps.values():
        assert actual_node(view["nodes"][step.node_name]) == expected_node(plan, step), step.id
    planned = {(plan.steps[e.upstream].node_name, plan.steps[e.downstream].node_name, e.kind)
               for e in plan.edges()}
    assert edges_in(view) == planned


def parallel_fixture(folder: Path, **step2: Any) -> Path:
    """A copy, in ``folder``, of the original-form ParallelRunStep fixture (tests/fixtures/local/
    parallel) with step1's output renamed from ``items`` (a dict method, which v2 refuses)
    and ``step2`` merged into the ParallelRunStep."""
    root = Path(__file__).resolve().parents[1] / "fixtures" / "local" / "parallel"
    target = folder / "parallel"
    shutil.copytree(root, target)
    config = target / "pipeline_config.json"
    doc = json.loads(config.read_text())
    assert doc["step1"]["output"] == "items"
    doc["step1"]["output"] = "numbers"
    doc["step2"].update(step2)
    config.write_text(json.dumps(doc, indent=4))
    return config
