"""Choosing and building a step's command line; the per-rank shim."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from azml.errors import LaunchError
from azml.runtime.rankshim import node_cpus, rank_variables
from azml.targets.local import launch, procs
from tests.local.conftest import step


@pytest.fixture
def mpi_plan(make_plan):
    return make_plan({
        "one": step(type="MpiStep", script="a.py", processes_per_node=2, inputs={},
                    arguments=["--x", "1"]),
        "two": step(type="MpiStep", script="b.py", node_count=2, processes_per_node=3, inputs={}),
        "py": step(script="c.py", inputs={}),
    })


PY = "/envs/x/bin/python"
ROOT = Path("/runs/r/s/work")
BOOT = ["-u", str(launch.BOOT), "--root", str(ROOT), "--"]


def test_python_step_uses_the_step_interpreter_through_the_boot_script(mpi_plan) -> None:
    command = launch.step_command(mpi_plan.steps["py"], ["--a"], {}, Path("/tmp"), python=PY, root=ROOT)
    assert command.argv == [PY, *BOOT, "c.py", "--a"] and command.launcher == "python"


def test_mpirun_command(mpi_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "mpirun"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setattr(procs, "loopback_works", lambda: True)
    env = {"PATH": str(tmp_path)}
    one = launch.step_command(mpi_plan.steps["one"], ["--x", "1"], env, tmp_path, python=PY, root=ROOT)
    assert one.launcher == "mpirun" and one.argv[0] == str(fake)
    tail = one.argv[one.argv.index("-np"):]
    assert tail == ["-np", "2", PY, *BOOT, "a.py", "--x", "1"]
    assert {"--oversubscribe", "--tag-output"} <= set(one.argv)
    two = launch.step_command(mpi_plan.steps["two"], [], env, tmp_path, python=PY, root=ROOT)
    tail = two.argv[two.argv.index("-np"):]
    assert tail == ["-np", "6", PY, str(launch.SHIM), "--ppn", "3", "--azureml", "--", *BOOT, "b.py"]


def test_torchrun_when_mpirun_is_missing(mpi_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "loopback_works", lambda: True)
    monkeypatch.setattr(launch, "has_torch", lambda python: python == PY)
    command = launch.step_command(mpi_plan.steps["one"], [], {"PATH": str(tmp_path)}, tmp_path,
                                  python=PY, root=ROOT)
    assert command.launcher == "torchrun"
    assert command.argv[:3] == [PY, "-m", "torch.distributed.run"]
    assert command.argv[-11:] == [str(launch.SHIM), "--ppn", "2", "--azureml", "--", *BOOT, "a.py"]


def test_no_launcher_is_a_clear_error(mpi_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "has_torch", lambda python: False)
    with pytest.raises(LaunchError, match="mpirun .* is not on PATH and torch is not installed"):
        launch.step_command(mpi_plan.steps["one"], [], {"PATH": str(tmp_path)}, tmp_path,
                            python=PY, root=ROOT)
    with pytest.raises(LaunchError, match="AZML_MPI_LAUNCHER=mpirun but mpirun is not on PATH"):
        launch.choose_launcher("one", {"PATH": str(tmp_path), "AZML_MPI_LAUNCHER": "mpirun"}, PY)
    with pytest.raises(LaunchError, match="not a known launcher"):
        launch.choose_launcher("one", {"AZML_MPI_LAUNCHER": "srun"}, PY)
    # the setting (environment or .env) when the step does not choose
    with pytest.raises(LaunchError, match="AZML_MPI_LAUNCHER='srun' is not a known launcher"):
        launch.choose_launcher("one", {"PATH": str(tmp_path)}, PY, prefer="srun")


def test_has_torch_asks_the_step_interpreter() -> None:
    assert launch.has_torch(sys.executable)  # the test venv has torch
    assert not launch.has_torch("/nonexistent/python")


def test_loopback_down_is_a_clear_error(mpi_plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "loopback_works", lambda: False)
    monkeypatch.setattr(launch, "has_torch", lambda python: True)
    with pytest.raises(LaunchError, match="loopback"):
        launch.step_command(mpi_plan.steps["one"], [], {"PATH": str(tmp_path)}, tmp_path,
                            python=PY, root=ROOT)


def test_rank_variables_per_simulated_node() -> None:
    mpi = rank_variables({"OMPI_COMM_WORLD_RANK": "4", "OMPI_COMM_WORLD_SIZE": "6"}, 3)
    assert mpi == {"OMPI_COMM_WORLD_RANK": "4", "OMPI_COMM_WORLD_SIZE": "6",
                   "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "3"}
    torch = rank_variables({"RANK": "5", "WORLD_SIZE": "6", "LOCAL_RANK": "5"}, 3)
    assert torch["OMPI_COMM_WORLD_RANK"] == "5" and torch["LOCAL_RANK"] == "2"
    assert torch["GROUP_RANK"] == "1" and torch["LOCAL_WORLD_SIZE"] == "3"


def test_rank_shim_execs_the_script(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("import os, sys; print(os.environ['OMPI_COMM_WORLD_LOCAL_RANK'], sys.argv[1:])")
    env = {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4", "PATH": "/usr/bin"}
    out = subprocess.run([sys.executable, str(launch.SHIM), "--ppn", "2", "--", str(script), "x"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1 ['x']"


def test_each_simulated_node_gets_a_disjoint_share_of_the_cpus() -> None:
    cpus = [0, 1, 2, 3]
    shares = [node_cpus(cpus, rank, 4, 2) for rank in range(4)]  # 2 nodes x 2 ranks
    assert shares == [[0, 1], [0, 1], [2, 3], [2, 3]]
    assert [node_cpus([0, 1], rank, 2, 1) for rank in range(2)] == [[0], [1]]
    assert node_cpus([0, 1, 2], 2, 3, 1) == [2] and node_cpus([0, 1, 2], 0, 3, 1) == [0]
    assert node_cpus(cpus, 1, 2, 2) is None  # one node: the whole machine
    assert node_cpus([0, 1], 2, 3, 1) is None  # fewer CPUs than nodes: left alone


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_getaffinity") or
                    len(__import__("os").sched_getaffinity(0)) < 2, reason="needs 2 CPUs and affinity")
def test_rank_shim_pins_a_rank_to_its_node_share(tmp_path: Path) -> None:
    import os

    script = tmp_path / "s.py"
    script.write_text("import os; print(sorted(os.sched_getaffinity(0)))")
    cpus = sorted(os.sched_getaffinity(0))
    seen = []
    for rank in (0, 1):  # two nodes of one rank each
        env = {"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": "2", "PATH": "/usr/bin"}
        out = subprocess.run([sys.executable, str(launch.SHIM), "--ppn", "1", "--", str(script)],
                             env=env, capture_output=True, text=True, check=True).stdout
        seen.append(json.loads(out))
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == cpus


def test_import_is_light() -> None:
    code = ("import sys, azml.targets.local; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'azureml', 'numpy', 'sqlite3', 'jsonschema')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
