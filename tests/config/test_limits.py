"""Hostile or broken input: a config error with a path, never a hang, a crash or exit 1."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from azml.cli import main
from azml.config import load_config
from azml.config.limits import MAX_CONFIG_BYTES
from azml.errors import ConfigError
from tests.conftest import step


def _problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [(p.path, p.message) for p in info.value.problems]


def test_a_fifo_is_refused_without_hanging(project: Path) -> None:
    fifo = project / "pipe.json"
    os.mkfifo(fifo)
    done: list[list[tuple[str, str]]] = []
    worker = threading.Thread(target=lambda: done.append(_problems(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done and done[0] == [("", "expected a regular file (not a pipe, socket or device)")]


def test_a_device_is_refused(project: Path) -> None:
    assert _problems(Path("/dev/zero")) == [("", "expected a regular file (not a pipe, socket or device)")]


def test_an_oversized_file_is_refused_before_reading(project: Path) -> None:
    big = project / "big.json"
    with open(big, "wb") as handle:
        handle.truncate(MAX_CONFIG_BYTES + 1)
    ((path, message),) = _problems(big)
    assert path == "" and "a config may have at most" in message


@pytest.mark.parametrize("value, problem", [
    ("a\u0000b", "NUL character"),
    ("\ud800", "unpaired surrogate"),
    (10**30, "fits in 64 bits"),
])
def test_bad_values_are_named_by_path(write_config, value: object, problem: str) -> None:
    path = write_config({"parameters": {"p": value}, "a": step("a.py", outputs=[])})
    (found,) = _problems(path)
    assert found[0] == "parameters.p" and problem in found[1]


def test_nul_in_an_argument_and_an_environment_value(write_config) -> None:
    path = write_config({"a": step("a.py", outputs=[], arguments=["ok", "x\u0000y"],
                                   environment_variables={"V": "\u0000"})})
    assert {p for p, _ in _problems(path)} == {"a.arguments[1]", "a.environment_variables.V"}


def test_huge_integers_nesting_and_infinity(project: Path) -> None:
    cases = {
        "digits.json": '{"parameters": {"p": ' + "9" * 5000 + "}}",
        "deep.json": '{"a": ' + "[" * 2000 + "]" * 2000 + "}",
        "inf.json": '{"parameters": {"p": 1e999}}',
    }
    for name, text in cases.items():
        (project / name).write_text(text)
        problems = _problems(project / name)
        assert problems and all(isinstance(p, str) for p, _ in problems), name


def test_step_id_length_and_counts(write_config) -> None:
    path = write_config({"s" * 129: step("a.py", outputs=[]),
                         "b": step("b.py", outputs=[], type="MpiStep", node_count=100000,
                                   processes_per_node=100000)})
    paths = {p for p, _ in _problems(path)}
    assert {"b.node_count", "b.processes_per_node"} <= paths
    assert any(p == "" or p.startswith("s" * 20) for p in paths)


def test_unclosed_placeholder(write_config) -> None:
    path = write_config({"a": step("a.py", outputs=[], arguments=["${{inputs.raw"])})
    ((where, message),) = _problems(path)
    assert where == "a.arguments[0]" and "unclosed placeholder" in message


def test_cli_exit_code_is_2_for_every_case(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "bad.json").write_text(json.dumps({"parameters": {"p": "\u0000"}}))
    assert main(["validate", str(project / "bad.json")]) == 2
    assert main(["validate", "/dev/zero"]) == 2
    assert "Traceback" not in capsys.readouterr().err
