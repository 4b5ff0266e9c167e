"""MpiSteps through a real launcher: ranks, sizes, simulated nodes, failures."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest

from azml.targets.local import procs
from tests.e2e.conftest import Project, leftover

pytestmark = [pytest.mark.e2e, pytest.mark.mpi]

needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun (Open MPI) not on PATH")
LOOPBACK = procs.loopback_works()


def _ranks(run, step: str) -> dict[int, dict]:
    (folder,) = (Path(p) for p in run.step(step).outputs.values())
    return {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in folder.glob("rank-*.json")}


@needs_mpirun
def test_two_ranks_report_rank_and_size(proj: Project) -> None:
    config = json.loads((Path(__file__).parents[1] / "fixtures/local/mpi/pipeline_config.json").read_text())
    proj.copy("mpi")
    del config["nodes"]
    proj.write_config(config)
    run = proj.run()
    if not LOOPBACK:
        assert run.step("ranks").status == "Failed"
        assert "loopback" in run.step("ranks").reason
        return
    assert run.status == "Completed", proj.outputs[-1]
    ranks = _ranks(run, "ranks")
    assert sorted(ranks) == [0, 1]
    for rank, seen in ranks.items():
        assert seen["size"] == 2
        assert seen["env"]["OMPI_COMM_WORLD_LOCAL_RANK"] == str(rank)
        assert seen["env"]["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"
        assert "AZ_BATCH_MASTER_NODE" not in seen["env"]
        assert seen["env"]["AZUREML_RUN_ID"] == run.step("ranks").step_run_id
    log = Path(run.step("ranks").log).read_text()
    assert "[rank 0] rank 0 of 2" in log and "[rank 1] rank 1 of 2" in log
    assert (Path(run.step("ranks").log).parent / "rank.1.log").read_text() == "rank 1 of 2\n"


@needs_mpirun
@pytest.mark.skipif(not LOOPBACK, reason="mpirun needs the loopback interface up")
def test_two_simulated_nodes_get_local_ranks_per_node(proj: Project) -> None:
    proj.copy("mpi")
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    ranks = _ranks(run, "nodes")
    assert sorted(ranks) == [0, 1, 2, 3]
    for rank, seen in ranks.items():
        env = seen["env"]
        assert env["OMPI_COMM_WORLD_SIZE"] == "4"
        assert env["OMPI_COMM_WORLD_LOCAL_RANK"] == str(rank % 2)
        assert env["OMPI_COMM_WORLD_LOCAL_SIZE"] == "2"
        assert env["AZ_BATCH_MASTER_NODE"].startswith("127.0.0.1:")
        assert env["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"  # AzureML sets both on several nodes


@needs_mpirun
@pytest.mark.skipif(not LOOPBACK, reason="mpirun needs the loopback interface up")
def test_one_failing_rank_fails_the_step_and_stops_the_others(proj: Project) -> None:
    proj.copy("mpi")
    proj.write_config({"ranks": {
        "type": "MpiStep", "name": "failing ranks", "script": "report.py", "source_directory": "src/",
        "processes_per_node": 3, "outputs": ["ranks"], "compute": {"vm_size": "Standard_D4s_v3"},
        "arguments": ["--out", "${{outputs.ranks}}", "--fail_rank", "1", "--sleep", "60"]}})
    started = time.monotonic()
    run = proj.run()
    assert time.monotonic() - started < 30
    step = run.step("ranks")
    assert step.status == "Failed" and step.outputs == {}
    assert "rank 1 fails on purpose" in Path(step.log).read_text()
    assert leftover(step.step_run_id) == []


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.skipif(not LOOPBACK, reason="torchrun needs the loopback interface up")
def test_torchrun_fallback_gives_what_an_azureml_mpi_job_gives(proj: Project,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun starts the ranks, but they see Open MPI's names only, as on AzureML."""
    monkeypatch.setenv("AZML_MPI_LAUNCHER", "torchrun")
    proj.copy("mpi")
    proj.script("src/requirements.txt", "torch==2.13.0\n")  # torchrun runs from the step's environment
    config = json.loads((proj.root / "pipeline_config.json").read_text())
    for step in config.values():
        step["requirements"] = "src/requirements.txt"
    (proj.root / "pipeline_config.json").write_text(json.dumps(config))
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    ranks = _ranks(run, "nodes")
    assert sorted(ranks) == [0, 1, 2, 3]
    for rank, seen in ranks.items():
        env = seen["env"]
        assert env["OMPI_COMM_WORLD_RANK"] == str(rank) and env["OMPI_COMM_WORLD_SIZE"] == "4"
        assert env["OMPI_COMM_WORLD_LOCAL_RANK"] == str(rank % 2)
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            assert name not in env, name
    assert "[rank 3] rank 3 of 4" in Path(run.step("nodes").log).read_text()


@needs_mpirun
@pytest.mark.skipif(not LOOPBACK, reason="mpirun needs the loopback interface up")
def test_logs_of_a_running_mpi_step(proj: Project) -> None:
    import io

    from azml.settings import load_settings
    from azml.targets.local import stream_logs
    from tests.e2e.conftest import wait_for

    proj.script("src/slow.py", "import os, time\n"
                "r = os.environ['OMPI_COMM_WORLD_RANK']\n"
                "print('hello from', r, end='', flush=True)\n"
                "time.sleep(0.5)\n"
                "print(' and bye', flush=True)\n")
    proj.write_config({"s": {"type": "MpiStep", "name": "s", "script": "slow.py", "source_directory": "src",
                             "processes_per_node": 2, "inputs": {},
                             "compute": {"vm_size": "Standard_D4s_v3"}}})
    orchestrator = proj.spawn("run", "pipeline_config.json")
    try:
        run_id = wait_for(lambda: proj.status() and proj.status()[0]["run_id"])
        text = io.StringIO()
        stream_logs(load_settings(), run_id, step="s", follow=True, out=text)
        assert orchestrator.wait(timeout=30) == 0
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    lines = text.getvalue().splitlines()
    assert sorted(lines) == ["[rank 0] hello from 0 and bye", "[rank 1] hello from 1 and bye"]


def test_too_many_local_ranks_refused_before_anything_runs(proj: Project, monkeypatch) -> None:
    import os

    from azml.errors import LaunchError

    proj.copy("mpi")
    config = json.loads((proj.root / "pipeline_config.json").read_text())
    config["ranks"]["processes_per_node"] = 3
    config["ranks"]["node_count"] = 8 * (os.cpu_count() or 1)
    del config["nodes"]
    (proj.root / "pipeline_config.json").write_text(json.dumps(config))
    with pytest.raises(LaunchError, match="AZML_MAX_LOCAL_RANKS"):
        proj.run()
    assert proj.status() == []  # nothing was recorded, nothing started
