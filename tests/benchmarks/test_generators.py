"""The benchmark generators: azml accepts every generated config, and the shell loop
and dvc.yaml describe the same steps (no benchmark is run here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azml import api
from benchmarks import generators as g

PIPELINES = [g.chain(20), g.chain(3, work=1000), g.fan_out(4, work=1000), g.chain(50)]


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_every_form_has_every_step(pipeline: g.Pipeline, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = g.write_workspace(pipeline, tmp_path / "ws", sys.executable)
    monkeypatch.chdir(ws.root)  # the config's source_directory is relative, as users write it
    edges = sum(len(s.upstream) for s in pipeline.steps)
    summary = api.validate(ws.config)
    assert f"valid, {len(pipeline.steps)} steps (0 MPI), {edges} dependenc" in summary
    for script in (ws.shell_script, ws.parallel_script):
        commands = [ln for ln in script.read_text().splitlines() if "src/step.py" in ln]
        assert len(commands) == len(pipeline.steps) == ws.step_count
    other = g.write_workspace(pipeline, tmp_path / "elsewhere", sys.executable)
    assert other.config.read_text() == ws.config.read_text()  # nothing depends on the folder
    yaml = pytest.importorskip("yaml")
    stages = yaml.safe_load(ws.dvc_yaml.read_text())["stages"]
    assert list(stages) == [s.id for s in pipeline.steps]
    for step in pipeline.steps:
        assert stages[step.id]["outs"] == [f"out/{step.id}"]
        assert stages[step.id]["deps"] == ["src/step.py", *(f"out/{u}" for u in step.upstream)]


def test_fan_out_joins_every_branch() -> None:
    pipeline = g.fan_out(4, work=7)
    *branches, join = pipeline.steps
    assert [b.upstream for b in branches] == [()] * 4 and all(b.work == 7 for b in branches)
    assert join.upstream == ("w1", "w2", "w3", "w4") and join.work == 0


def test_shell_loop_runs_the_chain_in_order(tmp_path: Path) -> None:
    ws = g.write_workspace(g.chain(3), tmp_path, sys.executable)
    subprocess.run(["bash", str(ws.shell_script)], check=True, timeout=60,
                   env={**os.environ, **g.trace_env(ws)})
    assert ws.trace.read_text().split() == ["s01", "s02", "s03"]
    assert g.trace_count(ws) == 3
    assert (tmp_path / "out" / "s03" / "value.txt").read_text() == "3"


def test_mpi_config_is_one_valid_mpi_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "train.py").write_text("")
    (demo / "azureml_requirements.txt").write_text("torch==2.13.0\n")
    config = tmp_path / "pipeline_config.json"
    doc = g.mpi_config(demo, "bench", "prepared", ["TRAIN.END_EPOCH", "1"])
    config.write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    assert "valid, 1 step (1 MPI)" in api.validate(config)
    assert doc["train"]["processes_per_node"] == 2
    assert doc["train"]["requirements"] == str(demo / "azureml_requirements.txt")  # built, as on AzureML
    assert doc["train"]["arguments"][-2:] == ["TRAIN.END_EPOCH", "1"]


def test_parallel_floor_batches_independent_steps(tmp_path: Path) -> None:
    ws = g.write_workspace(g.fan_out(4, work=0), tmp_path, sys.executable)
    text = ws.parallel_script.read_text()
    assert text.count("wait $p0; wait $p1") == 2 and text.rstrip().endswith("wait $p0")
    subprocess.run(["bash", str(ws.parallel_script)], check=True, timeout=60,
                   env={**os.environ, **g.trace_env(ws)})
    assert sorted(ws.trace.read_text().split()) == ["join", "w1", "w2", "w3", "w4"]
    assert (tmp_path / "out" / "join" / "value.txt").read_text() == "5"


def test_the_harness_azml_command_records_every_step(tmp_path: Path) -> None:
    """Steps get a clean environment: the harness's azml command must let the trace variable
    through, or every timed azml case fails its step count."""
    from types import SimpleNamespace

    from benchmarks.environment import find_tools
    from benchmarks.orchestration import _argv

    ws = g.write_workspace(g.chain(2), tmp_path / "ws", sys.executable)
    ctx = SimpleNamespace(tools=find_tools())
    env = {**os.environ, "AZML_HOME": str(tmp_path / "home"), "AZML_TRACKING": "off", **g.trace_env(ws)}
    proc = subprocess.run(_argv(ctx, "azml", ws, ["--no-reuse"]), cwd=ws.root, env=env,  # type: ignore[arg-type]
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert g.trace_count(ws) == 2
