"""Property-based: any mutation that breaks a valid config yields a ConfigError with a path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azml.config import load_config
from azml.errors import ConfigError

FIELDS_WRONG = {
    "type": [1, None, "Step", []],
    "name": [1, None, "", {}],
    "script": [3, None, ""],
    "source_directory": [False, 1, ""],
    "arguments": ["--x", {"a": 1}, [[1]], [None]],
    "node_count": ["2", 0, -1, 1.5, True, None],
    "processes_per_node": ["1", 0, 2.5, []],
    "outputs": ["o", [1], {"o": 1}],
    "inputs": ["a.o", [], {"x": 1}, {"x": "nodot"}, {"x": {"path": "p"}}],
    "depends_on": ["a", [1], {}],
    "environment_variables": [[], {"A": 1}, "A=1"],
    "allow_reuse": ["true", 1, None],
    "compute": [[], {"vm": "x"}, {"min_nodes": -1}, {"priority": "cheap"}],
    "base_image": [1, ""],
    "requirements": [1, "", "missing.txt"],
}


def valid_doc() -> dict[str, Any]:
    def step(script: str, **extra: Any) -> dict[str, Any]:
        return {"type": "PythonScriptStep", "name": script, "script": script,
                "source_directory": "src", **extra}

    return {
        "parameters": {"lr": 0.1},
        "a": step("a.py", outputs=["o"], arguments=["--out", "${{outputs.o}}", 3, True]),
        "b": step("b.py", outputs=["ob"], inputs={"x": "a.o"}, arguments=["${{inputs.x}}"]),
        "c": step("c.py", outputs=["oc"], inputs={"x": "a.o"}, arguments=["${{parameters.lr}}"]),
        "d": step("d.py", inputs={"x": "b.ob", "y": "c.oc"}, outputs=[]),
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop")
    (root / "src").mkdir()
    for name in "abcd":
        (root / "src" / f"{name}.py").write_text("")
    return root


def load(base: Path, doc: Any) -> Any:
    path = base / "c.json"
    path.write_text(json.dumps(doc))
    return load_config(path, base_dir=base)


def expect_error(base: Path, doc: Any, path_prefix: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(base, doc)
    assert all(p.file.endswith("c.json") for p in info.value.problems)
    assert any(p.path.startswith(path_prefix) for p in info.value.problems), info.value.paths


def test_valid_doc_is_valid(base: Path) -> None:
    assert list(load(base, valid_doc()).steps) == ["a", "b", "c", "d"]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(sid=st.sampled_from("abcd"), key=st.sampled_from(["type", "name", "script", "source_directory"]))
def test_dropping_a_required_key(base: Path, sid: str, key: str) -> None:
    doc = valid_doc()
    del doc[sid][key]
    expect_error(base, doc, f"{sid}.{key}")


@SETTINGS
@given(sid=st.sampled_from("abcd"), data=st.data())
def test_wrong_value_types(base: Path, sid: str, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(FIELDS_WRONG)))
    value = data.draw(st.sampled_from(FIELDS_WRONG[field]))
    doc = valid_doc()
    doc[sid][field] = value
    expect_error(base, doc, sid)


@SETTINGS
@given(sid=st.sampled_from("bcd"), target=st.text("xyz._", min_size=1, max_size=6))
def test_dangling_references(base: Path, sid: str, target: str) -> None:
    doc = valid_doc()
    doc[sid]["inputs"]["x"] = f"zz{target}.o" if "." not in target else f"zz{target}"
    expect_error(base, doc, f"{sid}.inputs.x")


@SETTINGS
@given(src=st.sampled_from("abc"), dst=st.sampled_from("bcd"))
def test_back_edges_make_cycles(base: Path, src: str, dst: str) -> None:
    order = "abcd"
    if order.index(dst) <= order.index(src):
        dst, src = src, dst
    if src == dst:
        return
    doc = valid_doc()
    doc[src]["depends_on"] = [dst]
    descendants = {"a": "bcd", "b": "d", "c": "d", "d": ""}
    if dst in descendants[src]:
        with pytest.raises(ConfigError) as info:
            load(base, doc)
        assert [p.message for p in info.value.problems if "cycle" in p.message]
        assert all(p.path for p in info.value.problems)
    else:
        assert load(base, doc).steps[src].depends_on == (dst,)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@SETTINGS
@given(sid=st.sampled_from("abcd"), key=st.text(min_size=1, max_size=12), value=JSON)
def test_arbitrary_values_never_crash(base: Path, sid: str, key: str, value: Any) -> None:
    doc = valid_doc()
    doc[sid][key] = copy.deepcopy(value)
    try:
        load(base, doc)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p.path, str) for p in exc.problems)


@SETTINGS
@given(doc=JSON)
def test_arbitrary_documents_never_crash(base: Path, doc: Any) -> None:
    try:
        load(base, doc)
    except ConfigError as exc:
        assert exc.problems
