"""JSON Schema checking of ``pipeline_config.json``, with readable messages."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from azml.errors import ConfigProblem

SCHEMA_FILE = "pipeline_config.schema.json"
RESERVED_KEYS = ("$schema", "parameters", "defaults")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The shipped schema (draft 2020-12)."""
    schema: dict[str, Any] = json.loads(_schema_bytes().decode("utf-8"))
    return schema


@lru_cache(maxsize=1)
def _schema_bytes() -> bytes:
    return resources.files("azml.config").joinpath(SCHEMA_FILE).read_bytes()


def step_keys() -> tuple[str, ...]:
    return tuple(load_schema()["$defs"]["stepFields"]["properties"])


def schema_problems(document: Any, file: str) -> list[ConfigProblem]:
    """Every schema violation in ``document`` as a problem with a JSON path.

    A compiled validator (fastjsonschema: the schema turned into Python code,
    about ten times faster) answers "valid?" first; only an invalid document
    goes through jsonschema, which reports every violation with its path.
    """
    if fast_validator()(document):
        return []
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema())
    problems = []
    for error in validator.iter_errors(document):
        problems.extend(_describe(error, file))
    return problems


@lru_cache(maxsize=1)
def fast_validator() -> Callable[[Any], bool]:
    """``document -> is it valid``, compiled from the shipped schema.

    fastjsonschema knows drafts up to 7; the schema uses nothing draft 2020-12
    adds (``$defs`` is reached through plain ``$ref`` pointers), so it is
    compiled as draft 7. tests/config/test_schema.py holds both validators to the
    same answer on generated documents.
    """
    import fastjsonschema

    schema = dict(load_schema())
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    check = fastjsonschema.compile(schema)

    def valid(document: Any) -> bool:
        try:
            check(document)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return valid


def cached_schema_problems(document: Any, file: str) -> list[ConfigProblem]:
    """:func:`schema_problems`, skipped for a document already found schema-valid.

    Schema validity is a pure function of the schema and the document, so a
    marker named by the digest of both records a pass; importing jsonschema
    costs more than a whole reused ``azml run``. Only passes are recorded, and a
    cache that cannot be read or written is simply not used.
    """
    marker = _marker(document)
    if marker is not None and marker.is_file():
        return []
    problems = schema_problems(document, file)
    if not problems and marker is not None:
        _touch(marker)
    return problems


def schema_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/azml/schema-valid`` (``~/.cache`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "azml" / "schema-valid"


def _marker(document: Any) -> Path | None:
    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(_schema_bytes() + b"\0" + text.encode("utf-8")).hexdigest()
    return schema_cache_dir() / digest


def _touch(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=marker.parent, prefix=".tmp-")
        os.close(fd)
        os.replace(tmp, marker)
    except OSError:
        pass


def dotted(parts: Iterable[Any]) -> str:
    """``["step1", "arguments", 2]`` -> ``step1.arguments[2]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match, else empty."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe_value(value: Any) -> str:
    kind = _json_type(value)
    if isinstance(value, (dict, list)):
        return kind
    text = json.dumps(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}


def _describe(error: Any, file: str) -> list[ConfigProblem]:
    path = list(error.absolute_path)
    where = dotted(path)
    value = error.instance
    kind = error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        return [
            ConfigProblem(file, dotted([*path, key]),
                          f"unknown key '{key}'{suggest(key, allowed)}; allowed: {', '.join(allowed)}")
            for key in extra
        ]
    if kind == "propertyNames":
        return [ConfigProblem(file, where, _property_name_message(error))]
    if kind == "type":
        wanted = error.validator_value
        wanted = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(w, str(w)) for w in wanted)
        return [ConfigProblem(file, where, f"expected {words}, got {describe_value(value)}")]
    if kind == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        hint = suggest(str(value), [str(o) for o in error.validator_value])
        return [ConfigProblem(file, where, f"expected one of {options}, got {describe_value(value)}{hint}")]
    if kind == "minimum":
        return [ConfigProblem(file, where, f"expected an integer >= {error.validator_value}, got {describe_value(value)}")]
    if kind == "maximum":
        return [ConfigProblem(file, where, f"expected an integer <= {error.validator_value} (AzureML's "
                              f"limit), got {describe_value(value)}")]
    if kind == "minLength":
        return [ConfigProblem(file, where, "expected a non-empty string")]
    if kind == "pattern":
        return [ConfigProblem(file, where, _pattern_message(path, value))]
    if kind == "required":
        return [ConfigProblem(file, where, error.message.replace("is a required property", "is required"))]
    if kind == "oneOf":
        chosen = _chosen_branch(error)
        if chosen:
            return [problem for sub in chosen for problem in _describe(sub, file)]
        return [ConfigProblem(file, where,
                              "expected \"STEP_ID.OUTPUT_NAME\", an object "
                              "{\"datastore\": ..., \"path\": ..., \"mode\": \"mount\"|\"download\"} "
                              "or an object {\"dataset\": ..., \"version\": ..., \"mode\": ...}, "
                              f"got {describe_value(value)}")]
    return [ConfigProblem(file, where, error.message)]


def _chosen_branch(error: Any) -> list[Any]:
    """The errors of the one ``oneOf`` object branch whose required keys the value has.

    ``{"dataset": "f3", "version": 0}`` is meant as a dataset input, so its problem is
    the version, not that it matches no form at all.
    """
    value = error.instance
    if not isinstance(value, dict):
        return []
    fitting = [i for i, branch in enumerate(error.validator_value)
               if branch.get("type") == "object" and branch.get("required")
               and all(key in value for key in branch["required"])]
    if len(fitting) != 1:
        return []
    return [sub for sub in error.context if sub.relative_schema_path and
            sub.relative_schema_path[0] == fitting[0]]


def _property_name_message(error: Any) -> str:
    cause = error.context[0] if getattr(error, "context", None) else None
    name = cause.instance if cause is not None else "?"
    if not error.absolute_path:
        hint = suggest(str(name), RESERVED_KEYS)
        return (f"'{str(name)[:60]}' is not a valid step id (1 to 128 letters, digits, '_' and "
                f"'-', starting with a letter or '_'){hint}")
    return f"'{name}' is not a valid name (letters, digits and '_', starting with a letter or '_')"


def _pattern_message(path: list[Any], value: Any) -> str:
    last = path[-1] if path else ""
    if len(path) >= 3 and path[-2] == "inputs" or (len(path) >= 2 and path[-2] == "inputs"):
        return f"expected \"STEP_ID.OUTPUT_NAME\", got {describe_value(value)}"
    if last == "input_dataset_name" or last == "datastore":
        return f"expected a datastore name (letters, digits and '_'), got {describe_value(value)}"
    if last == "cluster_name":
        return (f"expected a cluster name of 2 to 32 letters, digits and '-', starting "
                f"with a letter, got {describe_value(value)}")
    return (f"expected a name of letters, digits and '_' starting with a letter or '_', "
            f"got {describe_value(value)}")
