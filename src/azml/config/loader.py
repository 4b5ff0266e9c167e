"""Loading ``pipeline_config.json``: read, schema-check, apply defaults, check meaning.

:func:`load_config` reports every problem it finds in one :class:`ConfigError`,
each with the file, the JSON path and what was expected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from azml.config.checks import Document, semantic_problems, semantic_warnings
from azml.config.limits import MAX_DEPTH, decode, read_limited, value_problems
from azml.config.model import (
    ORIGINAL_INPUT,
    PARALLEL_DEFAULTS,
    ComputeSpec,
    DatasetInput,
    DatastoreInput,
    InputSpec,
    ModelRef,
    ModelRegistration,
    ParallelSettings,
    PipelineConfig,
    StepConfig,
    StepOutputInput,
)
from azml.config.schema import RESERVED_KEYS, cached_schema_problems
from azml.errors import ConfigError, ConfigProblem


def load_config(path: str | os.PathLike[str], *, base_dir: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Load and validate a pipeline config.

    Args:
        path: the config file; relative to ``base_dir``.
        base_dir: where relative paths resolve; the current directory by default,
            as in the original project.

    Raises:
        ConfigError: with every problem found.
    """
    base = Path(base_dir or os.getcwd()).resolve()
    file = (base / Path(path)).resolve() if not Path(path).is_absolute() else Path(path).resolve()
    raw = read_json(file)
    doc = Document(raw, file, base)
    problems = [
        p for p in cached_schema_problems(raw, str(file))
        if not any(p.path.startswith((f"{k}.", f"{k}[")) or p.path == k for k in doc.misspelled)
    ]
    problems += semantic_problems(doc)
    if problems:
        raise ConfigError(sorted(set(problems), key=_problem_order(raw)))
    return _build(doc)


def read_json(file: Path) -> dict[str, Any]:
    """The JSON object in ``file``; ConfigError for a missing file, bad JSON, duplicate keys or
    anything beyond the limits of :mod:`azml.config.limits`."""
    text = decode(read_limited(file), file)
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        raise ConfigError.single(
            file, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigError.single(file, "", f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError.single(file, "", f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError.single(file, "", "expected a JSON object whose keys are step ids")
    if duplicates:
        raise ConfigError(
            ConfigProblem(str(file), key, "key appears more than once; each key must be unique")
            for key in dict.fromkeys(duplicates)
        )
    problems = value_problems(data, str(file))
    if problems:
        raise ConfigError(problems)
    return data


def _problem_order(raw: dict[str, Any]) -> Any:
    ranks = {k: i for i, k in enumerate(raw)}

    def key(problem: ConfigProblem) -> tuple[int, str, str, str]:
        head = problem.path.split(".", 1)[0].split("[", 1)[0]
        rank = ranks.get(head, len(ranks))
        return (rank, problem.path, problem.file, problem.message)

    return key


def _build(doc: Document) -> PipelineConfig:
    steps: dict[str, StepConfig] = {}
    previous: StepConfig | None = None
    for sid in doc.step_ids:
        fields = doc.step(sid)
        step = _build_step(doc, sid, fields, previous)
        steps[sid] = step
        previous = step
    params = doc.raw.get("parameters", {})
    original = all(doc.is_original_form(sid) and "depends_on" not in doc.step(sid)
                   for sid in doc.step_ids)
    return PipelineConfig(path=doc.file, base_dir=doc.base, steps=steps, parameters=dict(params),
                          original_form=original, warnings=tuple(semantic_warnings(doc)))


def _build_step(doc: Document, sid: str, f: dict[str, Any], previous: StepConfig | None) -> StepConfig:
    inputs: dict[str, InputSpec] = {}
    for name, spec in f.get("inputs", {}).items():
        if isinstance(spec, str):
            up, out = spec.split(".", 1)
            inputs[name] = StepOutputInput(up, out)
        elif "dataset" in spec:
            inputs[name] = DatasetInput(spec["dataset"], spec.get("version"), spec.get("mode", "mount"))
        else:
            inputs[name] = DatastoreInput(spec["datastore"], spec["path"], spec.get("mode", "mount"), name)
    original_input = None
    if "input_datareference_path" in f:
        inputs[ORIGINAL_INPUT] = DatastoreInput(
            datastore=doc.datastore_for(sid),
            path=f["input_datareference_path"],
            mode="mount",
            reference_name=f["input_datareference_name"],
        )
        original_input = ORIGINAL_INPUT
    elif isinstance(f.get("input_dataset"), dict):
        spec = f["input_dataset"]
        inputs[ORIGINAL_INPUT] = DatasetInput(spec["name"], spec.get("version"), spec.get("mode", "mount"))
        original_input = ORIGINAL_INPUT
    elif doc.is_original_form(sid) and previous is not None and previous.original_output:
        inputs[ORIGINAL_INPUT] = StepOutputInput(previous.id, previous.original_output)
        original_input = ORIGINAL_INPUT
    outputs = list(f.get("outputs", []))
    if "output" in f:
        outputs.append(f["output"])
    requirements = f.get("requirements")
    compute = f.get("compute", {})
    return StepConfig(
        id=sid,
        type=f["type"],
        name=f["name"],
        script=f["script"],
        source_directory=doc.resolve(f["source_directory"]),
        arguments=tuple(a if isinstance(a, str) else str(a) for a in f.get("arguments", [])),
        requirements=doc.resolve(requirements) if requirements else None,
        base_image=f.get("base_image"),
        node_count=f.get("node_count", 1),
        processes_per_node=f.get("processes_per_node", 1),
        inputs=inputs,
        outputs=tuple(outputs),
        depends_on=tuple(f.get("depends_on", [])),
        environment_variables=dict(f.get("environment_variables", {})),
        # The original project built its ParallelRunStep with allow_reuse=False.
        allow_reuse=f.get("allow_reuse", f["type"] != "ParallelRunStep"),
        compute=ComputeSpec(**compute),
        original_input=original_input,
        original_output=f.get("output"),
        output_path=f.get("output_path"),
        datastore=doc.datastore_for(sid) or None,
        register_model=_registration(f.get("register_model")),
        parallel=_parallel_settings(f) if f["type"] == "ParallelRunStep" else None,
    )


def _registration(spec: dict[str, Any] | None) -> ModelRegistration | None:
    if spec is None:
        return None
    output, _, inside = spec["path"].strip("/").partition("/")
    return ModelRegistration(spec["name"], output, inside, dict(spec.get("tags", {})))


def _parallel_settings(f: dict[str, Any]) -> ParallelSettings:
    values = {key: f.get(key, default) for key, default in PARALLEL_DEFAULTS.items()}
    model = f.get("model")
    ref = None
    if isinstance(model, str):
        up, out = model.split(".", 1)
        ref = ModelRef(step_id=up, output=out)
    elif isinstance(model, dict):
        ref = ModelRef(name=model["name"], version=model.get("version"))
    return ParallelSettings(
        mini_batch_size=str(values["mini_batch_size"]).strip(),
        error_threshold=int(values["error_threshold"]),  # type: ignore[call-overload,unused-ignore]
        output_action=str(values["output_action"]),
        append_row_file_name=str(values["append_row_file_name"]),
        run_invocation_timeout=int(values["run_invocation_timeout"]),  # type: ignore[call-overload,unused-ignore]
        run_max_try=int(values["run_max_try"]),  # type: ignore[call-overload,unused-ignore]
        logging_level=str(values["logging_level"]),
        model=ref,
    )


__all__ = ["RESERVED_KEYS", "load_config", "read_json"]
