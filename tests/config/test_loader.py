"""Loading valid configs: the original format keeps its meaning, extensions add to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from azml.config import DatastoreInput, StepOutputInput, load_config
from azml.config.model import ORIGINAL_INPUT
from azml.errors import ConfigError
from tests.conftest import REPO, step


def test_original_example_loads_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "tests/fixtures/original", tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    config = load_config("pipeline_config.json")
    s = config.steps["step1"]
    assert s.type == "MpiStep" and s.name == "train step"
    assert s.source_directory == (tmp_path / "p/train").resolve()
    assert s.inputs == {ORIGINAL_INPUT: DatastoreInput(
        "normalizeddataconditioned", "normalized_data/", "mount", "normalized_data_conditioned")}
    assert s.original_input == ORIGINAL_INPUT and s.original_output is None
    assert s.base_image == "pytorch/pytorch" and (s.node_count, s.processes_per_node) == (1, 1)
    assert s.requirements == (tmp_path / "p/train/requirements.txt").resolve()


def test_original_chain_takes_previous_output(write_config) -> None:
    path = write_config({
        "s1": step("a.py", input_datareference_path="raw/", input_datareference_name="raw",
                   input_dataset_name="store", output="prepared"),
        "s2": step("b.py", output="model"),
        "s3": step("c.py"),
    })
    config = load_config(path)
    assert config.steps["s2"].inputs == {ORIGINAL_INPUT: StepOutputInput("s1", "prepared")}
    assert config.steps["s3"].inputs == {ORIGINAL_INPUT: StepOutputInput("s2", "model")}
    assert config.steps["s2"].outputs == ("model",)
    assert config.steps["s3"].original_output is None


def test_later_data_reference_uses_first_steps_datastore(write_config) -> None:
    path = write_config({
        "s1": step("a.py", input_datareference_path="raw/", input_datareference_name="raw",
                   input_dataset_name="store", output="x"),
        "s2": step("b.py", input_datareference_path="other/", input_datareference_name="other"),
    })
    assert load_config(path).steps["s2"].inputs[ORIGINAL_INPUT].datastore == "store"


def test_defaults_apply_unless_step_sets_field(write_config) -> None:
    path = write_config({
        "defaults": {"source_directory": "src", "base_image": "img:1", "type": "PythonScriptStep"},
        "gen": {"name": "gen", "script": "a.py", "outputs": ["o"]},
        "use": {"name": "use", "script": "b.py", "base_image": "img:2", "inputs": {"i": "gen.o"}},
    })
    config = load_config(path)
    assert config.steps["gen"].base_image == "img:1"
    assert config.steps["use"].base_image == "img:2"
    assert config.steps["use"].inputs == {"i": StepOutputInput("gen", "o")}


def test_extended_inputs_and_parameters(write_config) -> None:
    path = write_config({
        "$schema": "./pipeline_config.schema.json",
        "parameters": {"lr": 0.1, "epochs": 3, "tag": "x", "flag": True},
        "a": step("a.py", outputs=["o"], arguments=["--lr", "${{parameters.lr}}", "--out", "${{outputs.o}}"]),
        "b": step("b.py", inputs={"raw": {"datastore": "ds", "path": "data/x", "mode": "download"}, "prev": "a.o"},
                  arguments=["${{inputs.raw}}", "${{ inputs.prev }}"], environment_variables={"A": "1"},
                  allow_reuse=False, compute={"vm_size": "Standard_NC24ads_A100_v4", "max_nodes": 2}),
    })
    config = load_config(path)
    assert config.parameters == {"lr": 0.1, "epochs": 3, "tag": "x", "flag": True}
    b = config.steps["b"]
    assert b.inputs["raw"] == DatastoreInput("ds", "data/x", "download", "raw")
    assert b.allow_reuse is False and b.environment_variables == {"A": "1"}
    assert b.compute.vm_size == "Standard_NC24ads_A100_v4" and b.compute.max_nodes == 2
    assert b.original_input is None


def test_steps_keep_file_order(write_config) -> None:
    names = ["zeta", "alpha", "mid"]
    path = write_config({n: step("a.py", name=n, outputs=[f"o_{n}"]) for n in names})
    assert list(load_config(path).steps) == names


def test_relative_paths_resolve_against_base_dir(project: Path, write_config, tmp_path: Path) -> None:
    path = write_config({"a": step("a.py", outputs=[])})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ConfigError, match=r"a\.source_directory: expected an existing directory, .*elsewhere/src"):
        load_config(path, base_dir=elsewhere)


def test_shipped_schema_matches_configs_copy() -> None:
    shipped = json.loads((REPO / "src/azml/config/pipeline_config.schema.json").read_text())
    copy = json.loads((REPO / "configs/pipeline_config.schema.json").read_text())
    assert shipped == copy


def test_schema_pass_is_cached_and_skips_jsonschema(write_config, tmp_path: Path, monkeypatch) -> None:
    import subprocess
    import sys

    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    path = write_config({"a": step("a.py", outputs=[])})
    code = ("import sys; from azml.config import load_config; load_config(sys.argv[1]); "
            "print('fastjsonschema' in sys.modules, 'jsonschema' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           check=False)
            for _ in range(2)]
    # a valid document never needs jsonschema (the compiled check says "valid"); seen again,
    # it needs no schema check at all
    assert [r.stdout.strip() for r in runs] == ["True False", "False False"], [r.stderr for r in runs]
    assert len(list((cache / "azml" / "schema-valid").iterdir())) == 1


def test_schema_failures_are_never_cached(write_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_config({"a": step("a.py", outputs=[], node_count="2")})
    for _ in range(2):
        with pytest.raises(ConfigError, match="a.node_count: expected an integer"):
            load_config(path)
    assert not (tmp_path / "cache" / "azml" / "schema-valid").exists()


def test_unwritable_cache_is_ignored(write_config, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: the cache dir cannot exist
    path = write_config({"a": step("a.py", outputs=[])})
    assert list(load_config(path).steps) == ["a"]
    assert list(load_config(path).steps) == ["a"]
