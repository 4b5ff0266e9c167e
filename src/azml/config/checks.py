"""Semantic checks of a pipeline config, beyond what the schema can say.

Every check is defensive about types: the schema reports wrong types, and these
checks skip values they cannot read, so that all problems come out in one go.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azml.config.arguments import InputArg, OutputArg, ParameterArg, parse_argument
from azml.config.graph import topological_order
from azml.config.model import INPUT_FLAG, MODEL_INPUT, ORIGINAL_INPUT
from azml.config.schema import RESERVED_KEYS, suggest
from azml.errors import ConfigError, ConfigProblem

REQUIRED = ("type", "name", "script", "source_directory")
ORIGINAL_REF_KEYS = ("input_datareference_path", "input_datareference_name")


class Document:
    """Raw config with defaults applied, and helpers the checks share."""

    def __init__(self, raw: dict[str, Any], file: Path, base: Path) -> None:
        self.raw = raw
        self.file = file
        self.base = base
        defaults = raw.get("defaults")
        self.defaults: dict[str, Any] = defaults if isinstance(defaults, dict) else {}
        #: Top-level keys that look like a misspelled reserved key rather than a step.
        self.misspelled = {
            k for k, v in raw.items()
            if k not in RESERVED_KEYS and not (isinstance(v, dict) and "type" in v)
            and suggest(k, RESERVED_KEYS)
        }
        self.step_ids = [
            k for k, v in raw.items()
            if k not in RESERVED_KEYS and k not in self.misspelled and isinstance(v, dict)
        ]
        #: Position of each step id (every lookup below is O(1): cost stays linear in steps).
        self.index = {sid: i for i, sid in enumerate(self.step_ids)}
        self._merged = {sid: {**self.defaults, **raw[sid]} for sid in self.step_ids}
        self._resolved: dict[str, Path] = {}
        self._kinds: dict[str, str] = {}
        self._scripts: dict[tuple[str, str], tuple[Path, str]] = {}
        self._first_datastore = next(
            (name for name in (self._merged[s].get("input_dataset_name") for s in self.step_ids)
             if isinstance(name, str)), "")

    def step(self, sid: str) -> dict[str, Any]:
        """Fields of step ``sid`` with defaults applied (shared: do not modify)."""
        merged: dict[str, Any] = self._merged[sid]
        return merged

    def own(self, sid: str) -> dict[str, Any]:
        fields: dict[str, Any] = self.raw[sid]
        return fields

    def resolve(self, value: str) -> Path:
        """``value`` resolved against the base directory (remembered: steps share folders)."""
        found = self._resolved.get(value)
        if found is None:
            path = Path(os.path.expanduser(value))  # unlike Path's, keeps "~nobody" as it is
            found = (path if path.is_absolute() else self.base / path).resolve()
            self._resolved[value] = found
        return found

    def script_problem(self, src: str, script: str) -> tuple[Path, str]:
        """The script's resolved path and what is wrong with it ('' when it is fine)."""
        key = (src, script)
        if key not in self._scripts:
            folder = self.resolve(src)
            path = (folder / script).resolve()
            if not path.is_relative_to(folder):
                problem = "outside"
            elif not path.is_file():
                problem = "missing"
            else:
                problem = ""
            self._scripts[key] = (path, problem)
        return self._scripts[key]

    def kind(self, value: str) -> str:
        """``dir``, ``file`` or ``missing`` for a path the config names (remembered)."""
        if value not in self._kinds:
            path = self.resolve(value)
            self._kinds[value] = "dir" if path.is_dir() else "file" if path.is_file() else "missing"
        return self._kinds[value]

    def is_original_form(self, sid: str) -> bool:
        fields = self.step(sid)
        return "inputs" not in fields and "outputs" not in fields

    def datastore_for(self, sid: str) -> str:
        """The step's blob datastore: its own ``input_dataset_name``, else the first step's."""
        name = self.step(sid).get("input_dataset_name")
        return name if isinstance(name, str) else self._first_datastore

    def declared_outputs(self, sid: str) -> list[str]:
        fields = self.step(sid)
        outs = [o for o in _list(fields.get("outputs")) if isinstance(o, str)]
        if isinstance(fields.get("output"), str):
            outs.append(fields["output"])
        return outs

    def input_names(self, sid: str) -> list[str]:
        """Every input the step's arguments may name: its own, the implied one, the model."""
        names = self.partitioned_inputs(sid)
        if self.has_model(sid) and MODEL_INPUT not in names:
            names.append(MODEL_INPUT)
        return names

    def partitioned_inputs(self, sid: str) -> list[str]:
        """The inputs a ParallelRunStep splits into mini-batches (every input of other steps)."""
        fields = self.step(sid)
        names = list(_dict(fields.get("inputs")))
        if self.implied_input(sid) is not None:
            names.append(ORIGINAL_INPUT)
        return names

    def has_model(self, sid: str) -> bool:
        """A ParallelRunStep with a ``model``: it becomes the step's input ``model``."""
        fields = self.step(sid)
        return fields.get("type") == "ParallelRunStep" and fields.get("model") is not None

    def implied_input(self, sid: str) -> str | None:
        """``"datastore"``, ``"dataset"`` or the previous step id when the original keys imply
        an input."""
        fields = self.step(sid)
        if "input_datareference_path" in fields or "input_datareference_name" in fields:
            return "datastore"
        if "input_dataset" in fields:
            return "dataset"
        index = self.index[sid]
        if self.is_original_form(sid) and index > 0:
            return self.step_ids[index - 1]
        return None


def semantic_problems(doc: Document) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for check in (_top_level, _steps, _data_reference_names, _unique_names, _unique_outputs,
                  _cycles):
        problems.extend(check(doc))
    return problems


def semantic_warnings(doc: Document) -> list[ConfigProblem]:
    """What is allowed but worth a word: things the original project did otherwise."""
    return [*_datastore_differs(doc), *_model_unused(doc)]


def _model_unused(doc: Document) -> Iterator[ConfigProblem]:
    """A model no argument passes reaches the entry script only through a variable."""
    for sid in doc.step_ids:
        args = [a for a in _list(doc.step(sid).get("arguments")) if isinstance(a, str)]
        if doc.has_model(sid) and not any(_names_input(a, MODEL_INPUT) for a in args):
            yield _problem(doc, f"{sid}.model", "no argument passes the model: add "
                           "\"--model\", \"${{inputs.model}}\" to 'arguments' and read it in init() "
                           "with parse_known_args (AzureML gives the entry script no other path to it)")


def _names_input(arg: str, name: str) -> bool:
    try:
        token = parse_argument(arg)
    except ValueError:
        return False
    return isinstance(token, InputArg) and token.name == name


def _datastore_differs(doc: Document) -> Iterator[ConfigProblem]:
    """The original project read ``input_dataset_name`` from step1 only, for every step."""
    if not doc.step_ids:
        return
    first = doc.step(doc.step_ids[0]).get("input_dataset_name")
    for sid in doc.step_ids[1:]:
        own = doc.own(sid).get("input_dataset_name")
        if isinstance(own, str) and isinstance(first, str) and own != first:
            yield _problem(doc, f"{sid}.input_dataset_name",
                           f"names datastore '{own}', but the original project used the first "
                           f"step's '{first}' for every step; azml uses '{own}' for this step")


def _problem(doc: Document, path: str, message: str) -> ConfigProblem:
    return ConfigProblem(str(doc.file), path, message)


def _top_level(doc: Document) -> Iterator[ConfigProblem]:
    for key in doc.misspelled:
        yield _problem(doc, key, f"unknown key '{key}'{suggest(key, RESERVED_KEYS)}")
    if not doc.step_ids:
        yield _problem(doc, "", "expected at least one step (a top-level key whose value is a step object)")


def _steps(doc: Document) -> Iterator[ConfigProblem]:
    for index, sid in enumerate(doc.step_ids):
        fields = doc.step(sid)
        yield from _required(doc, sid, fields)
        yield from _files(doc, sid, fields)
        yield from _original_keys(doc, sid, fields, index)
        yield from _inputs(doc, sid, fields)
        yield from _outputs(doc, sid)
        yield from _depends_on(doc, sid, fields)
        yield from _placeholders(doc, sid, fields)
        yield from _counts(doc, sid, fields)
        yield from _register_model(doc, sid, fields)
        yield from _parallel(doc, sid, fields)


def _required(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    for key in REQUIRED:
        if key not in fields:
            yield _problem(doc, f"{sid}.{key}", f"missing required key '{key}' (set it in the step or in defaults)")


def _files(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    src, script, req = fields.get("source_directory"), fields.get("script"), fields.get("requirements")
    src_ok = False
    if isinstance(src, str) and src:
        src_ok = doc.kind(src) == "dir"
        if not src_ok:
            yield _problem(doc, f"{sid}.source_directory",
                           f"expected an existing directory, {doc.resolve(src)} does not exist")
    if src_ok and isinstance(script, str) and script:
        path, problem = doc.script_problem(str(src), script)
        if problem == "outside":
            yield _problem(doc, f"{sid}.script", f"expected a script inside source_directory, {path} is outside it")
        elif problem == "missing":
            yield _problem(doc, f"{sid}.script", f"expected an existing file, {path} does not exist")
    if isinstance(req, str) and req and doc.kind(req) != "file":
        yield _problem(doc, f"{sid}.requirements", f"expected an existing file, {doc.resolve(req)} does not exist")


def _original_keys(doc: Document, sid: str, fields: dict[str, Any], index: int) -> Iterator[ConfigProblem]:
    if "output_path" in fields and "output" not in fields:
        yield _problem(doc, f"{sid}.output_path",
                       "expected 'output' together with 'output_path' (output_path says where "
                       "that output is written)")
    has = [k for k in ORIGINAL_REF_KEYS if k in fields]
    if has and "input_dataset" in fields:
        yield _problem(doc, f"{sid}.input_dataset", "expected either input_dataset or "
                       "input_datareference_path/_name: both would be the step's --input")
    if "input_dataset" in fields and ORIGINAL_INPUT in _dict(fields.get("inputs")):
        yield _problem(doc, f"{sid}.inputs.{ORIGINAL_INPUT}",
                       f"'{ORIGINAL_INPUT}' is taken by input_dataset, passed as {INPUT_FLAG}; choose another name")
    if "input_dataset" in fields:
        return
    if len(has) == 1:
        missing = ORIGINAL_REF_KEYS[1 - ORIGINAL_REF_KEYS.index(has[0])]
        yield _problem(doc, f"{sid}.{missing}", f"expected '{missing}' together with '{has[0]}'")
    if has and not doc.datastore_for(sid):
        yield _problem(doc, f"{sid}.input_dataset_name",
                       "expected the name of the blob datastore holding the data reference (no step sets input_dataset_name)")
    if has and ORIGINAL_INPUT in _dict(fields.get("inputs")):
        yield _problem(doc, f"{sid}.inputs.{ORIGINAL_INPUT}",
                       f"'{ORIGINAL_INPUT}' is taken by the data reference passed as {INPUT_FLAG}; choose another name")
    if has or not doc.is_original_form(sid):
        return
    if index == 0:
        yield _problem(doc, f"{sid}.input_datareference_path",
                       "the first step needs a data reference (input_datareference_path and input_datareference_name), "
                       "or declare its 'inputs'/'outputs' explicitly")
        return
    prev = doc.step_ids[index - 1]
    if not isinstance(doc.step(prev).get("output"), str):
        yield _problem(doc, sid,
                       f"has no data reference, so it takes the previous step's output as {INPUT_FLAG}, "
                       f"but step '{prev}' declares no 'output'; add one there, or give this step "
                       "input_datareference_path/_name or explicit 'inputs'")


def _inputs(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    for name, spec in _dict(fields.get("inputs")).items():
        if not isinstance(spec, str) or spec.count(".") != 1:
            continue
        up, out = spec.split(".")
        path = f"{sid}.inputs.{name}"
        if up == sid:
            yield _problem(doc, path, f"a step cannot read its own output ('{spec}')")
        elif up not in doc.index:
            yield _problem(doc, path, f"expected an existing step id before '.', no step '{up}'{suggest(up, doc.step_ids)}")
        elif out not in doc.declared_outputs(up):
            outs = ", ".join(doc.declared_outputs(up)) or "none"
            yield _problem(doc, path, f"step '{up}' has no output '{out}' (its outputs: {outs}){suggest(out, doc.declared_outputs(up))}")


def _outputs(doc: Document, sid: str) -> Iterator[ConfigProblem]:
    seen: set[str] = set()
    for name in doc.declared_outputs(sid):
        if name in seen:
            yield _problem(doc, f"{sid}.outputs", f"output '{name}' is declared more than once; output names must be unique within a step")
        seen.add(name)


def _depends_on(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    for i, dep in enumerate(_list(fields.get("depends_on"))):
        if not isinstance(dep, str):
            continue
        if dep == sid:
            yield _problem(doc, f"{sid}.depends_on[{i}]", "a step cannot depend on itself")
        elif dep not in doc.index:
            yield _problem(doc, f"{sid}.depends_on[{i}]", f"expected an existing step id, no step '{dep}'{suggest(dep, doc.step_ids)}")


def _placeholders(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    params = list(_dict(doc.raw.get("parameters")))
    for i, arg in enumerate(_list(fields.get("arguments"))):
        if not isinstance(arg, str):
            continue
        path = f"{sid}.arguments[{i}]"
        try:
            token = parse_argument(arg)
        except ValueError as exc:
            yield _problem(doc, path, str(exc))
            continue
        if isinstance(token, InputArg) and token.name not in doc.input_names(sid):
            known = doc.input_names(sid)
            yield _problem(doc, path, f"no input '{token.name}' in this step (declared: {', '.join(known) or 'none'}){suggest(token.name, known)}")
        elif isinstance(token, OutputArg) and token.name not in doc.declared_outputs(sid):
            known = doc.declared_outputs(sid)
            yield _problem(doc, path, f"no output '{token.name}' in this step (declared: {', '.join(known) or 'none'}){suggest(token.name, known)}")
        elif isinstance(token, ParameterArg) and token.name not in params:
            yield _problem(doc, path, f"no parameter '{token.name}' (declared: {', '.join(params) or 'none'}){suggest(token.name, params)}")


def _counts(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    for key in ("node_count", "processes_per_node"):
        value = fields.get(key)
        if isinstance(value, float) and not isinstance(value, bool):
            yield _problem(doc, f"{sid}.{key}", f"expected a whole number without a decimal point, got {value!r}")
        elif (isinstance(value, int) and value > 1 and fields.get("type") == "PythonScriptStep"):
            yield _problem(doc, f"{sid}.{key}", f"expected 1 for a PythonScriptStep, got {value}; use type MpiStep to run several processes")
    compute = _dict(fields.get("compute"))
    low, high = compute.get("min_nodes"), compute.get("max_nodes")
    if isinstance(low, int) and isinstance(high, int) and _is_int(low) and _is_int(high) and low > high:
        yield _problem(doc, f"{sid}.compute.max_nodes", f"expected at least min_nodes ({low}), got {high}")
    nodes = fields.get("node_count", 1)
    if _is_int(high) and _is_int(nodes) and nodes > high:
        yield _problem(doc, f"{sid}.node_count", f"expected at most compute.max_nodes ({high}), got {nodes}")


def _register_model(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    spec = fields.get("register_model")
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        return
    output = spec["path"].strip("/").split("/", 1)[0]
    outputs = doc.declared_outputs(sid)
    if output not in outputs:
        yield _problem(doc, f"{sid}.register_model.path",
                       f"expected OUTPUT or OUTPUT/PATH with OUTPUT one of the step's outputs "
                       f"({', '.join(outputs) or 'it has none'}), got {spec['path']!r}"
                       f"{suggest(output, outputs)}")


PARALLEL_KEYS = ("mini_batch_size", "error_threshold", "output_action", "append_row_file_name",
                 "run_invocation_timeout", "run_max_try", "logging_level", "model")
_BATCH_SIZE = re.compile(r"^\s*\d+([KMG]B)?\s*$", re.IGNORECASE)  # the SDK: no inner space


def _parallel(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    own = doc.own(sid)
    if fields.get("type") != "ParallelRunStep":
        for key in PARALLEL_KEYS:
            if key in own:
                yield _problem(doc, f"{sid}.{key}", f"'{key}' is a ParallelRunStep setting; this "
                               f"step is a {fields.get('type')}")
        return
    size = fields.get("mini_batch_size")
    if isinstance(size, bool) or (isinstance(size, int) and size < 1) or (
            isinstance(size, str) and not _BATCH_SIZE.match(size)):
        yield _problem(doc, f"{sid}.mini_batch_size", "expected a number of files (>= 1) or a size "
                       f"such as \"10MB\" (KB, MB or GB), got {size!r}")
    outputs = doc.declared_outputs(sid)
    if len(outputs) > 1:
        yield _problem(doc, f"{sid}.outputs", "a ParallelRunStep has one output (where AzureML "
                       "writes its results); declare at most one")
    if fields.get("output_action") == "append_row" and not outputs:
        yield _problem(doc, f"{sid}.output_action", "append_row needs an output to write "
                       "its rows file to: declare one in 'outputs' (or 'output')")
    yield from _parallel_inputs(doc, sid, fields)
    yield from _parallel_model(doc, sid, fields)


def _parallel_inputs(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    partitioned = doc.partitioned_inputs(sid)
    if doc.has_model(sid) and MODEL_INPUT in partitioned:
        yield _problem(doc, f"{sid}.inputs.{MODEL_INPUT}", f"'{MODEL_INPUT}' is the input the "
                       "step's 'model' is bound to; give this input another name")
        return
    if not partitioned:
        yield _problem(doc, sid, "a ParallelRunStep needs an input to score (a data reference, "
                       "'inputs', or the previous step's output)")
    for i, arg in enumerate(_list(fields.get("arguments"))):
        name = next((n for n in partitioned if isinstance(arg, str) and _names_input(arg, n)), None)
        if name is not None:
            yield _problem(doc, f"{sid}.arguments[{i}]", f"input '{name}' is split into "
                           "mini-batches and reaches run(mini_batch) as file paths, not as an "
                           "argument (AzureML passes only its name); only the model, or a "
                           "parameter, can be an argument of a ParallelRunStep")


def _parallel_model(doc: Document, sid: str, fields: dict[str, Any]) -> Iterator[ConfigProblem]:
    model = fields.get("model")
    if isinstance(model, str) and model.count(".") == 1:
        up, out = model.split(".")
        if up not in doc.index or up == sid:
            yield _problem(doc, f"{sid}.model", f"expected an earlier step's output, no step '{up}'"
                           f"{suggest(up, doc.step_ids)}")
        elif out not in doc.declared_outputs(up):
            outs = doc.declared_outputs(up)
            yield _problem(doc, f"{sid}.model", f"step '{up}' has no output '{out}' (its outputs: "
                           f"{', '.join(outs) or 'none'}){suggest(out, outs)}")


def _data_reference_names(doc: Document) -> Iterator[ConfigProblem]:
    """One data reference name must mean one datastore path across the pipeline."""
    seen: dict[str, tuple[str, Any, str]] = {}
    for sid in doc.step_ids:
        for path, name, target in _data_references(doc, sid):
            if name in seen and seen[name][1] != target:
                first = seen[name][0]
                yield _problem(doc, path, f"data reference name '{name}' already names a different datastore path at {first}; use another name")
            seen.setdefault(name, (path, target, sid))


def _data_references(doc: Document, sid: str) -> Iterator[tuple[str, str, Any]]:
    fields = doc.step(sid)
    name, where = fields.get("input_datareference_name"), fields.get("input_datareference_path")
    if isinstance(name, str) and isinstance(where, str):
        yield f"{sid}.input_datareference_name", name, (doc.datastore_for(sid), where)
    for key, spec in _dict(fields.get("inputs")).items():
        # A dataset input's name is the step's own (as_named_input), not a data reference.
        if isinstance(spec, dict) and "dataset" not in spec:
            yield f"{sid}.inputs.{key}", key, (spec.get("datastore"), spec.get("path"))


def _unique_names(doc: Document) -> Iterator[ConfigProblem]:
    """AzureML shows and finds step runs by display name: two steps may not share one."""
    seen: dict[str, str] = {}
    for sid in doc.step_ids:
        name = doc.step(sid).get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield _problem(doc, f"{sid}.name", f"name '{name}' is also the name of step "
                           f"'{seen[name]}'; step names must be unique (AzureML reports step "
                           "runs by name)")
        else:
            seen[name] = sid


def _unique_outputs(doc: Document) -> Iterator[ConfigProblem]:
    """Outputs become PipelineData whose names must be unique in the pipeline."""
    seen: dict[str, str] = {}
    for sid in doc.step_ids:
        key = "output" if isinstance(doc.step(sid).get("output"), str) else "outputs"
        for name in dict.fromkeys(doc.declared_outputs(sid)):
            if name in seen:
                yield _problem(doc, f"{sid}.{key}", f"output '{name}' is also an output of step "
                               f"'{seen[name]}'; output names must be unique in the pipeline "
                               "(AzureML names its data after them)")
            else:
                seen[name] = sid


def _cycles(doc: Document) -> Iterator[ConfigProblem]:
    graph: dict[str, set[str]] = {sid: set() for sid in doc.step_ids}
    for sid in doc.step_ids:
        fields = doc.step(sid)
        for spec in _dict(fields.get("inputs")).values():
            if isinstance(spec, str) and spec.split(".")[0] in graph and spec.split(".")[0] != sid:
                graph[sid].add(spec.split(".")[0])
        for dep in _list(fields.get("depends_on")):
            if isinstance(dep, str) and dep in graph and dep != sid:
                graph[sid].add(dep)
        model = fields.get("model")
        if isinstance(model, str) and model.split(".")[0] in graph and model.split(".")[0] != sid:
            graph[sid].add(model.split(".")[0])
        implied = doc.implied_input(sid)
        if implied in graph:
            graph[sid].add(implied)
    try:
        topological_order(graph, file=str(doc.file), file_order=doc.step_ids)
    except ConfigError as exc:
        yield from exc.problems


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
