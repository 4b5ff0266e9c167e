"""Content keys of step runs, and the sentence saying why a step ran.

A step run's content key is the digest of its *components*: everything that
can change what the step does or produces. These are the step type and layout
(nodes x processes), the script name, the snapshot (digest of the source
directory's manifest), the argument list (paths symbolic, parameters by value),
the values of the parameters it uses, each input (a datastore input by mode
and content manifest; a step-output input by the producing step's key), the
output names, the environment (image, Python, pip lines as built), and the
``environment_variables`` (secret-named values by digest only, so no secret is
ever stored).

A step whose key equals a Completed step run's key, with those outputs still on
disk, is Reused: its outputs are that run's outputs (no copy).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from azml.config.arguments import InputArg, LiteralArg, OutputArg
from azml.config.model import ParamValue
from azml.plan import PlannedStep, render_parameter
from azml.settings import is_secret
from azml.targets.local.hashing import digest_json, digest_text

MAX_REASONS = 3


def components(
    step: PlannedStep,
    parameters: Mapping[str, ParamValue],
    snapshot_digest: str,
    input_content: Mapping[str, Mapping[str, Any]],
    environment_digest: str,
) -> dict[str, Any]:
    """The components of a step run's content key.

    Args:
        input_content: per input name, ``{"manifest": digest}`` for datastore inputs
            (and dataset inputs, with the ``resolved`` version) or ``{"key": upstream
            content key}`` for step outputs.
    """
    args: list[str] = []
    for arg in step.arguments:
        if isinstance(arg, LiteralArg):
            args.append("lit:" + arg.value)
        elif isinstance(arg, (InputArg, OutputArg)):
            args.append(("in:" if isinstance(arg, InputArg) else "out:") + arg.name)
        else:
            args.append("param:" + arg.name)
    inputs: dict[str, Any] = {}
    for name, spec in step.inputs.items():
        if spec.kind == "datastore":
            inputs[name] = {"datastore": spec.datastore, "path": spec.path, "mode": spec.mode,
                            "reference": spec.binding_name, **input_content[name]}
        elif spec.kind == "registered_model":
            inputs[name] = {"model": spec.model_name, **input_content[name]}
        elif spec.kind == "dataset":
            inputs[name] = {"dataset": spec.dataset, "version": spec.version, "mode": spec.mode,
                            **input_content[name]}
        else:
            inputs[name] = {"step": spec.step_id, "output": spec.output, **input_content[name]}
    env = {k: ("sha256:" + digest_text(v) if is_secret(k) else v)
           for k, v in step.environment_variables.items()}
    return {
        "type": step.type,
        "layout": [step.node_count, step.processes_per_node],
        "script": step.script,
        "snapshot": snapshot_digest,
        "arguments": args,
        "parameters": {n: render_parameter(parameters[n]) for n in step.referenced_parameters()},
        "inputs": inputs,
        "outputs": list(step.outputs),
        "environment_spec": environment_digest,
        "environment": env,
    }


def content_key(parts: Mapping[str, Any]) -> str:
    return digest_json(parts)


def key_of(dumped: str) -> str:
    """The content key of components already serialised by :func:`dumps` (same as content_key)."""
    return digest_text(dumped)


def explain(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    manifest: Callable[[str], dict[str, str] | None],
) -> str:
    """Why ``new`` differs from ``old``: at most :data:`MAX_REASONS` short phrases."""
    reasons: list[str] = []
    if old.get("snapshot") != new.get("snapshot"):
        reasons.append(_source_reason(old, new, manifest))
    for name, value in new.get("parameters", {}).items():
        if old.get("parameters", {}).get(name) != value:
            reasons.append(f"parameter {name} changed")
    reasons += _input_reasons(old.get("inputs", {}), new.get("inputs", {}), manifest)
    simple = (("contract", "contract changed (AzureML v1 or v2 variables)"),
              ("arguments", "arguments changed"),
              ("environment_spec", "environment changed (requirements, image or Python)"),
              ("type", "step type changed"),
              ("layout", "MPI layout changed"), ("outputs", "outputs changed"),
              ("script", f"script changed: {new.get('script')}"))
    for field, phrase in simple:
        if old.get(field) != new.get(field) and phrase not in reasons:
            reasons.append(phrase)
    old_env, new_env = old.get("environment", {}), new.get("environment", {})
    for name in sorted(set(old_env) | set(new_env)):
        if old_env.get(name) != new_env.get(name):
            reasons.append(f"environment variable {name} changed")
    if not reasons:
        reasons.append("step definition changed")
    return ", ".join(dict.fromkeys(reasons[:MAX_REASONS]))


def _source_reason(
    old: Mapping[str, Any], new: Mapping[str, Any], manifest: Callable[[str], dict[str, str] | None]
) -> str:
    changed = _changed_files(manifest(old["snapshot"]), manifest(new["snapshot"]))
    if not changed:
        return "source changed"
    script = new.get("script")
    first = script if script in changed else changed[0]
    label = "script changed" if first == script else "source changed"
    more = f" (+{len(changed) - 1} more)" if len(changed) > 1 else ""
    return f"{label}: {first}{more}"


def _input_reasons(
    old: Mapping[str, Any], new: Mapping[str, Any], manifest: Callable[[str], dict[str, str] | None]
) -> list[str]:
    reasons: list[str] = []
    upstream: list[str] = []
    for name, spec in new.items():
        before = old.get(name)
        if before == spec:
            continue
        if before is None:
            reasons.append(f"input {name} added")
        elif "step" in spec:
            if before.get("step") == spec["step"] and before.get("output") == spec["output"]:
                if spec["step"] not in upstream:
                    upstream.append(spec["step"])
            else:
                reasons.append(f"input {name} changed")
        elif (before.get("manifest") != spec.get("manifest") and before.get("path") == spec.get("path")
              and before.get("dataset") == spec.get("dataset")):
            changed = _changed_files(manifest(before["manifest"]), manifest(spec["manifest"]))
            where = (spec.get("path") or f"dataset {spec.get('dataset')}").rstrip("/")
            shown = f"{where}/{changed[0]}" if changed and changed[0] else where
            more = f" (+{len(changed) - 1} more)" if len(changed) > 1 else ""
            reasons.append(f"input changed: {shown}{more}")
        else:
            reasons.append(f"input {name} changed")
    for name in old:
        if name not in new:
            reasons.append(f"input {name} removed")
    if upstream:
        reasons.insert(0, f"upstream changed: {', '.join(upstream)}")
    return reasons


def _changed_files(old: dict[str, str] | None, new: dict[str, str] | None) -> list[str]:
    if old is None or new is None:
        return []
    names = sorted(set(old) | set(new))
    return [n for n in names if old.get(n) != new.get(n)]


def dumps(parts: Mapping[str, Any]) -> str:
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


#: Said when a step reruns locally only because its input data changed.
CLOUD_REUSE_NOTE = ("AzureML would reuse this step: it does not look at the data's content, "
                    "only at its datastore and path (set allow_reuse: false to rerun there too)")


def only_data_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` only in the content of datastore inputs.

    AzureML v1 decides reuse from the step's definition, its source snapshot and
    its data *references* (datastore, path, mode), never the bytes behind them,
    so such a step would be Reused there although it reruns here.
    """
    if dict(old) == dict(new):
        return False
    rest_old = {k: v for k, v in old.items() if k != "inputs"}
    rest_new = {k: v for k, v in new.items() if k != "inputs"}
    if rest_old != rest_new:
        return False
    old_inputs, new_inputs = old.get("inputs", {}), new.get("inputs", {})
    if set(old_inputs) != set(new_inputs):
        return False
    for name, spec in new_inputs.items():
        before = old_inputs[name]
        if "datastore" not in spec:
            if before != spec:
                return False
            continue
        if {k: v for k, v in before.items() if k != "manifest"} != \
                {k: v for k, v in spec.items() if k != "manifest"}:
            return False
    return True


def cloud_reuse_note(old: Mapping[str, Any] | None, new: Mapping[str, Any],
                     allow_reuse: bool) -> str | None:
    """:data:`CLOUD_REUSE_NOTE` when the step reruns only for changed data and may be reused."""
    if not allow_reuse or old is None or not only_data_changed(old, new):
        return None
    return CLOUD_REUSE_NOTE
