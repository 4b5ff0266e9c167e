"""Malformed configs: each exits 2 naming the offending JSON path; all problems at once."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from azml.cli import main
from azml.config import load_config
from azml.errors import ConfigError
from tests.conftest import step

Doc = dict[str, Any]


def original() -> Doc:
    return {
        "step1": step("a.py", type="MpiStep", input_datareference_path="raw/",
                      input_datareference_name="raw_ref", input_dataset_name="store",
                      output="prepared", arguments=["--x", "1"], requirements="src/requirements.txt",
                      node_count=1, processes_per_node=1, base_image="pytorch/pytorch"),
        "step2": step("b.py", output="model"),
    }


def extended() -> Doc:
    return {
        "parameters": {"lr": 0.1},
        "gen": step("a.py", outputs=["o"], arguments=["--out", "${{outputs.o}}"]),
        "fit": step("b.py", inputs={"d": "gen.o"}, outputs=["m"],
                    arguments=["${{inputs.d}}", "${{outputs.m}}", "${{parameters.lr}}"]),
    }


def mutate(base: Callable[[], Doc], fn: Callable[[Doc], None]) -> Doc:
    doc = copy.deepcopy(base())
    fn(doc)
    return doc


# (id, config, JSON path expected in the message, regex on the message)
CASES: list[tuple[str, Doc, str, str]] = [
    ("unknown step key", mutate(original, lambda d: d["step1"].update(procesess_per_node=2)),
     "step1.procesess_per_node", "did you mean 'processes_per_node'"),
    ("bad type enum", mutate(original, lambda d: d["step1"].update(type="PythonStep")),
     "step1.type", "expected one of PythonScriptStep, MpiStep"),
    ("node_count string", mutate(original, lambda d: d["step1"].update(node_count="2")),
     "step1.node_count", "expected an integer, got string"),
    ("node_count zero", mutate(original, lambda d: d["step1"].update(node_count=0)),
     "step1.node_count", r"expected an integer >= 1, got integer 0"),
    ("processes float", mutate(original, lambda d: d["step1"].update(processes_per_node=2.0)),
     "step1.processes_per_node", "without a decimal point"),
    ("missing script key", mutate(original, lambda d: d["step2"].pop("script")),
     "step2.script", "missing required key 'script'"),
    ("script file missing", mutate(original, lambda d: d["step2"].update(script="nope.py")),
     "step2.script", r"expected an existing file, .*src/nope\.py does not exist"),
    ("source dir missing", mutate(original, lambda d: d["step2"].update(source_directory="gone/")),
     "step2.source_directory", "expected an existing directory"),
    # found by the fuzz test: "~name" of no user made expanduser raise RuntimeError (exit 1)
    ("source dir of unknown user", mutate(original, lambda d: d["step2"].update(
        source_directory="~no_such_user_azml/src")),
     "step2.source_directory", "expected an existing directory"),
    ("requirements missing", mutate(original, lambda d: d["step1"].update(requirements="req.txt")),
     "step1.requirements", r"req\.txt does not exist"),
    ("reference name without path", mutate(original, lambda d: d["step1"].pop("input_datareference_path")),
     "step1.input_datareference_path", "together with 'input_datareference_name'"),
    ("first step without data", mutate(original, lambda d: [d["step1"].pop(k) for k in
                                                           ("input_datareference_path", "input_datareference_name")]),
     "step1.input_datareference_path", "the first step needs a data reference"),
    ("previous has no output", mutate(original, lambda d: d["step1"].pop("output")),
     "step2", "step 'step1' declares no 'output'"),
    ("arguments not a list", mutate(original, lambda d: d["step1"].update(arguments="--x 1")),
     "step1.arguments", "expected a list, got string"),
    ("argument not a scalar", mutate(original, lambda d: d["step1"].update(arguments=["--x", [1]])),
     "step1.arguments[1]", "expected a string or a number or true or false, got array"),
    ("step not an object", mutate(original, lambda d: d.update(step3=[1, 2])),
     "step3", "expected an object, got array"),
    ("dangling input step", mutate(extended, lambda d: d["fit"]["inputs"].update(d="gne.o")),
     "fit.inputs.d", "no step 'gne' \\(did you mean 'gen'\\?\\)"),
    ("dangling input output", mutate(extended, lambda d: d["fit"]["inputs"].update(d="gen.out")),
     "fit.inputs.d", "step 'gen' has no output 'out'"),
    ("bad input form", mutate(extended, lambda d: d["fit"]["inputs"].update(d=42)),
     "fit.inputs.d", "expected \"STEP_ID.OUTPUT_NAME\", an object .*or an object {\"dataset\""),
    ("dataset version", mutate(extended, lambda d: d["fit"]["inputs"].update(d={"dataset": "f3", "version": 0})),
     "fit.inputs.d.version", "expected an integer >= 1, got integer 0"),
    ("undeclared input placeholder", mutate(extended, lambda d: d["fit"]["arguments"].append("${{inputs.x}}")),
     "fit.arguments[3]", "no input 'x' in this step"),
    ("undeclared output placeholder", mutate(extended, lambda d: d["gen"]["arguments"].append("${{outputs.p}}")),
     "gen.arguments[2]", "no output 'p' in this step"),
    ("undeclared parameter", mutate(extended, lambda d: d["fit"]["arguments"].append("${{parameters.lrr}}")),
     "fit.arguments[3]", "no parameter 'lrr' .*did you mean 'lr'"),
    ("embedded placeholder", mutate(extended, lambda d: d["fit"]["arguments"].append("--lr=${{parameters.lr}}")),
     "fit.arguments[3]", "a placeholder must be a whole argument"),
    ("cycle", mutate(extended, lambda d: d["gen"].update(inputs={"back": "fit.m"})),
     "gen", r"cycle \(gen -> fit -> gen|cycle \(fit -> gen -> fit"),
    ("self dependency", mutate(extended, lambda d: d["gen"].update(depends_on=["gen"])),
     "gen.depends_on[0]", "cannot depend on itself"),
    ("unknown depends_on", mutate(extended, lambda d: d["fit"].update(depends_on=["gem"])),
     "fit.depends_on[0]", "no step 'gem'"),
    ("duplicate output", mutate(extended, lambda d: d["gen"].update(outputs=["o", "o"])),
     "gen.outputs", "declared more than once"),
    ("parameter value object", mutate(extended, lambda d: d["parameters"].update(lr={"v": 1})),
     "parameters.lr", "expected a string or a number or true or false"),
    ("misspelled reserved key", mutate(extended, lambda d: d.update(paramters={"x": 1})),
     "paramters", "did you mean 'parameters'"),
    ("compute priority", mutate(extended, lambda d: d["gen"].update(compute={"priority": "low"})),
     "gen.compute.priority", "expected one of dedicated, lowpriority"),
    ("compute min over max", mutate(extended, lambda d: d["gen"].update(compute={"min_nodes": 3, "max_nodes": 2})),
     "gen.compute.max_nodes", r"expected at least min_nodes \(3\)"),
    ("python step with ranks", mutate(extended, lambda d: d["gen"].update(processes_per_node=2)),
     "gen.processes_per_node", "use type MpiStep"),
    ("mode enum", mutate(extended, lambda d: d["fit"]["inputs"].update(d={"datastore": "s", "path": "p", "mode": "copy"})),
     "fit.inputs.d.mode", "expected one of mount, download, got string \"copy\""),
    ("env var not string", mutate(extended, lambda d: d["gen"].update(environment_variables={"A": 1})),
     "gen.environment_variables.A", "expected a string, got integer 1"),
    ("allow_reuse string", mutate(extended, lambda d: d["gen"].update(allow_reuse="yes")),
     "gen.allow_reuse", "expected true or false"),
    ("unknown defaults key", mutate(extended, lambda d: d.update(defaults={"base_imag": "x"})),
     "defaults.base_imag", "did you mean 'base_image'"),
    ("reference name reused", mutate(original, lambda d: d["step2"].update(
        input_datareference_path="other/", input_datareference_name="raw_ref")),
     "step2.input_datareference_name", "already names a different datastore path"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_exits_2_naming_path(case, write_config, capsys) -> None:
    _, doc, path, pattern = case
    file = write_config(doc)
    code = main(["validate", str(file)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{file}: {path}:" in err
    assert re.search(pattern, err), err
    assert "Traceback" not in err


def test_at_least_twenty_distinct_cases() -> None:
    assert len({c[2] for c in CASES}) >= 20


def test_three_errors_reported_together(write_config) -> None:
    doc = extended()
    doc["gen"]["node_count"] = 0
    doc["fit"]["inputs"]["d"] = "nope.o"
    doc["fit"]["script"] = "missing.py"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(doc))
    assert info.value.paths == ["gen.node_count", "fit.inputs.d", "fit.script"]
    assert str(info.value).startswith("3 problems found:")


@pytest.mark.parametrize(
    "text, pattern",
    [
        ('{"a": 1,}', "invalid JSON at line 1 column 9"),
        ("[]", "expected a JSON object whose keys are step ids"),
        ('{"a": {}, "a": {}}', "a: key appears more than once"),
        ("{}", "expected at least one step"),
    ],
)
def test_unreadable_documents(project: Path, text: str, pattern: str) -> None:
    (project / "c.json").write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        load_config("c.json")


def test_missing_file_names_resolved_path(project: Path) -> None:
    with pytest.raises(ConfigError, match=rf"{project}/nope\.json: file not found"):
        load_config("nope.json")


def test_cli_process_exit_code_and_no_traceback(write_config) -> None:
    doc = extended()
    doc["gen"]["node_count"] = "x"
    file = write_config(doc)
    proc = subprocess.run([sys.executable, "-m", "azml", "validate", str(file)],
                          capture_output=True, text=True, cwd=file.parent, check=False)
    assert proc.returncode == 2
    assert "gen.node_count: expected an integer, got string \"x\"" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
