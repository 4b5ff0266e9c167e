"""Fuzzing the config grammar through the command line: a config problem is exit 2, never 1.

Documents are drawn from the grammar itself (step ids, the step keys, placeholders,
inputs, outputs, parameters, compute), with values that are sometimes right and
sometimes of any JSON shape, then written as JSON and, sometimes, damaged byte by
byte. ``azml validate`` and ``azml plan`` must answer each with 0 or 2 and no
traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azml.cli import main

SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
ANY = st.recursive(SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                   max_leaves=6)
NAME = st.sampled_from(["a", "b", "c", "raw", "model", "x-y", "1bad", "", "input_data", "\u0000", "é"])
PLACEHOLDER = st.builds(lambda kind, name, close: f"${{{{{kind}.{name}{close}",
                        st.sampled_from(["inputs", "outputs", "parameters", "secrets"]), NAME,
                        st.sampled_from(["}}", "", "} }"]))
ARGUMENT = st.one_of(st.text(max_size=10), PLACEHOLDER, st.integers(), st.booleans(), st.floats(), ANY)
INPUT = st.one_of(st.builds(lambda s, o: f"{s}.{o}", NAME, NAME),
                  st.fixed_dictionaries({"datastore": NAME, "path": st.text(max_size=6)},
                                        optional={"mode": st.sampled_from(["mount", "download", "copy"])}),
                  ANY)
FIELDS: dict[str, Any] = {
    "type": st.sampled_from(["PythonScriptStep", "MpiStep", "ParallelRunStep", "Step"]) | ANY,
    "name": NAME | ANY,
    "script": st.sampled_from(["a.py", "../a.py", "missing.py", ""]) | ANY,
    "source_directory": st.sampled_from(["src", "src/", "nowhere", ""]) | ANY,
    "arguments": st.lists(ARGUMENT, max_size=4) | ANY,
    "inputs": st.dictionaries(NAME, INPUT, max_size=3) | ANY,
    "outputs": st.lists(NAME, max_size=3) | ANY,
    "output": NAME | ANY,
    "output_path": st.text(max_size=6) | ANY,
    "depends_on": st.lists(NAME, max_size=2) | ANY,
    "input_datareference_path": st.text(max_size=6) | ANY,
    "input_datareference_name": NAME | ANY,
    "input_dataset_name": NAME | ANY,
    "node_count": st.integers(-2, 5000) | ANY,
    "processes_per_node": st.integers(-2, 600) | ANY,
    "environment_variables": st.dictionaries(NAME, st.text(max_size=6), max_size=2) | ANY,
    "requirements": st.sampled_from(["src/requirements.txt", "nope.txt"]) | ANY,
    "compute": st.fixed_dictionaries({}, optional={"vm_size": st.sampled_from(["Standard_NC4as_T4_v3", "x"]),
                                                   "max_nodes": st.integers(-1, 3)}) | ANY,
    "allow_reuse": st.booleans() | ANY,
}
STEP = st.fixed_dictionaries({}, optional=FIELDS)
DOCUMENT = st.dictionaries(st.one_of(NAME, st.sampled_from(["parameters", "defaults", "$schema", "paramters"])),
                           st.one_of(STEP, ANY), max_size=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("print('a')\n")
    (root / "src" / "requirements.txt").write_text("numpy\n-e ./x\n")
    return root


def _answer(folder: Path, data: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / "c.json"
    path.write_bytes(data)
    for command in ("validate", "plan"):
        code = main([command, str(path)])
        err = capsys.readouterr().err
        assert code in (0, 2), (command, data[:300], err)
        assert "Traceback" not in err and "unexpected" not in err, err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(doc=DOCUMENT)
def test_grammar_documents(folder: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str], doc: dict[str, Any]) -> None:
    monkeypatch.chdir(folder)
    _answer(folder, json.dumps(doc, allow_nan=True).encode("utf-8"), capsys)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCUMENT, cut=st.integers(0, 400), junk=st.binary(max_size=6))
def test_damaged_bytes(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                       doc: dict[str, Any], cut: int, junk: bytes) -> None:
    monkeypatch.chdir(folder)
    data = json.dumps(doc).encode("utf-8")
    _answer(folder, data[:cut] + junk + data[cut:], capsys)
