"""Stopping runs from outside: cancel by id from another process, Ctrl-C, and a killed
orchestrator. Every process of a stopped step must be gone, grandchildren included."""

from __future__ import annotations

import io
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from azml.settings import load_settings
from azml.targets.local import procs, stream_logs
from tests.e2e.conftest import Project, leftover, processes_with, wait_for

pytestmark = pytest.mark.e2e

STEP = {"type": "PythonScriptStep", "source_directory": "src"}
LONG = ("import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
        " start_new_session=True)\n"
        "print('waiting, child', child.pid, flush=True)\n"
        "time.sleep(300)\n")


def _project(proj: Project) -> None:
    proj.script("src/long.py", LONG)
    proj.script("src/quick.py", "import time; time.sleep(0.5); print('quick done')\n")
    proj.write_config({
        "long": {**STEP, "name": "long step", "script": "long.py", "outputs": ["out"]},
        "after_long": {**STEP, "name": "after long", "script": "quick.py", "inputs": {"x": "long.out"}},
        "quick": {**STEP, "name": "independent", "script": "quick.py", "inputs": {}},
    })


def _running(proj: Project, step: str) -> dict[str, Any]:
    """The run (as status JSON) once ``step`` is Running and its process is up."""
    def ready() -> Any:
        runs = proj.status()
        if not runs:
            return None
        run = runs[0]
        for s in run["steps"]:
            if s["id"] == step and s["status"] == "Running":
                text = io.StringIO()
                stream_logs(load_settings(), run["run_id"], step=step, out=text)
                if "waiting" in text.getvalue():
                    return run
        return None
    return wait_for(ready, timeout=30)


def test_cancel_one_step_from_another_process(proj: Project) -> None:
    _project(proj)
    orchestrator = proj.spawn("run", "pipeline_config.json", "--max-parallel", "2")
    try:
        run = _running(proj, "long")
        marker = next(s["step_run_id"] for s in run["steps"] if s["id"] == "long")
        assert len(leftover(marker)) == 2  # the step and its grandchild in another session
        started = time.monotonic()
        result = proj.cli("cancel", run["run_id"], "--step", "long")
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 5.0
        assert "canceled step long" in result.stdout
        assert orchestrator.wait(timeout=30) == 1
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    final = proj.status(run["run_id"])
    statuses = {s["id"]: s["status"] for s in final["steps"]}
    assert statuses == {"long": "Canceled", "after_long": "NotStarted", "quick": "Completed"}
    assert final["status"] == "Canceled"
    assert leftover(marker) == []


def test_cancel_by_step_run_id_and_whole_run(proj: Project) -> None:
    _project(proj)
    orchestrator = proj.spawn("run", "pipeline_config.json", "--max-parallel", "1")
    try:
        run = _running(proj, "long")
        marker = next(s["step_run_id"] for s in run["steps"] if s["id"] == "long")
        unknown = proj.cli("cancel", run["run_id"], "--step", "nope")
        assert unknown.returncode == 3 and "has no step 'nope'" in unknown.stderr
        result = proj.cli("cancel", run["run_id"])
        assert result.returncode == 0, result.stderr
        assert orchestrator.wait(timeout=30) == 1
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    final = proj.status(run["run_id"])
    assert final["status"] == "Canceled"
    assert {s["id"]: s["status"] for s in final["steps"]} == {
        "long": "Canceled", "quick": "NotStarted", "after_long": "NotStarted"}
    assert leftover(marker) == []
    again = proj.cli("cancel", run["run_id"], "--step", marker)
    assert again.returncode == 0 and "already ended" in again.stdout


def test_ctrl_c_cancels_the_run(proj: Project) -> None:
    _project(proj)
    orchestrator = proj.spawn("run", "pipeline_config.json", "--max-parallel", "1")
    try:
        run = _running(proj, "long")
        marker = next(s["step_run_id"] for s in run["steps"] if s["id"] == "long")
        orchestrator.send_signal(signal.SIGINT)
        assert orchestrator.wait(timeout=15) == 130
        output = orchestrator.stdout.read()
        assert "interrupted" in output and "Traceback" not in output
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    final = proj.status(run["run_id"])
    assert final["status"] == "Canceled"
    assert final["steps"][0]["status"] == "Canceled"
    assert final["steps"][0]["reason"] == "interrupted (Ctrl-C)"
    assert leftover(marker) == []


def test_killed_orchestrator_shows_failed_and_leaves_nothing(proj: Project) -> None:
    _project(proj)
    orchestrator = proj.spawn("run", "pipeline_config.json", "--max-parallel", "1")
    run = _running(proj, "long")
    marker = next(s["step_run_id"] for s in run["steps"] if s["id"] == "long")
    orchestrator.send_signal(signal.SIGKILL)
    orchestrator.wait(timeout=10)
    result = proj.cli("status", run["run_id"], "--json")
    assert result.returncode == 0
    final = proj.status(run["run_id"])
    assert final["status"] == "Failed"
    assert "orchestrator" in final["reason"]
    assert final["steps"][0]["status"] == "Failed"
    assert wait_for(lambda: leftover(marker) == [], timeout=5)


@pytest.mark.skipif(shutil.which("mpirun") is None or not procs.loopback_works(),
                    reason="needs mpirun and the loopback interface")
def test_cancel_stops_every_mpi_rank(proj: Project) -> None:
    proj.script("src/ranks.py", "import os, time\n"
                "print('waiting rank', os.environ['OMPI_COMM_WORLD_RANK'], flush=True)\n"
                "time.sleep(300)\n")
    proj.write_config({"ranks": {"type": "MpiStep", "name": "ranks", "script": "ranks.py",
                                 "source_directory": "src", "processes_per_node": 3, "inputs": {},
                                 "compute": {"vm_size": "Standard_D4s_v3"}}})
    orchestrator = proj.spawn("run", "pipeline_config.json")
    try:
        run = _running(proj, "ranks")
        marker = run["steps"][0]["step_run_id"]
        wait_for(lambda: len(leftover(marker)) >= 4)  # mpirun and three ranks
        started = time.monotonic()
        assert proj.cli("cancel", run["run_id"], "--step", "ranks").returncode == 0
        assert time.monotonic() - started < 5.0
        assert orchestrator.wait(timeout=30) == 1
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    assert leftover(marker) == []
    assert proj.status(run["run_id"])["steps"][0]["status"] == "Canceled"


def _gone_within(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return True
        time.sleep(0.05)
    return False


DAEMON = ("import os, sys, time\n"
          "if os.fork() == 0:\n"
          "    os.setsid()\n"
          "    if os.fork() == 0:\n"
          "        os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)',"
          " 'azml-test-' + 'daemon'], {})\n"
          "    os._exit(0)\n"
          "os.wait()\n"
          "print('waiting', flush=True)\n"
          "time.sleep(300)\n")


def test_cancel_ends_a_setsid_daemon_that_cleared_its_environment(proj: Project) -> None:
    unique = uuid.uuid4().hex[:12]
    proj.script("src/daemon.py", DAEMON.replace("azml-test-", f"azml-test-{unique}-"))
    token = f"azml-test-{unique}-daemon"
    proj.write_config({"d": {**STEP, "name": "daemon", "script": "daemon.py", "inputs": {}}})
    orchestrator = proj.spawn("run", "pipeline_config.json")
    try:
        run = _running(proj, "d")
        assert len(wait_for(lambda: processes_with(token))) == 1
        result = proj.cli("cancel", run["run_id"])
        assert result.returncode == 0, result.stderr
        assert orchestrator.wait(timeout=30) == 1
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
    assert _gone_within(lambda: processes_with(token), 5.0)


@pytest.mark.skipif(shutil.which("mpirun") is None or not procs.loopback_works(),
                    reason="needs mpirun and the loopback interface")
def test_killing_the_driver_mid_launch_leaves_nothing_without_another_command(proj: Project) -> None:
    unique = uuid.uuid4().hex[:12]
    script, config = f"ranks_{unique}.py", f"config_{unique}.json"
    proj.script(f"src/{script}", "import time\ntime.sleep(60)\n")
    # a size azml's table does not know (a warning, not a GPU check), and the local rank budget
    # raised on purpose: this test wants mpirun busy launching hundreds of ranks
    proj.write_config({"many": {"type": "MpiStep", "name": "many", "script": script,
                                "source_directory": "src", "processes_per_node": 300, "inputs": {},
                                "compute": {"vm_size": "Standard_Unlisted_Test"}}},
                      name=config)
    proj.env = {**proj.env, "AZML_MAX_LOCAL_RANKS": "300"}
    orchestrator = proj.spawn("run", config)
    try:
        wait_for(lambda: len(processes_with(script)) > 30, timeout=60, interval=0.02)
        orchestrator.send_signal(signal.SIGKILL)  # mpirun is still starting ranks
        orchestrator.wait(timeout=10)
        # mpirun and the ranks carry the script's name, the guard the config's
        assert _gone_within(lambda: processes_with(script) + processes_with(config), 5.0), _describe(processes_with(script) + processes_with(config))
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()


def _describe(pids: list[int]) -> str:
    """Pid, state, parent and command of each process, for a failure message."""
    lines = []
    for pid in pids[:10]:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        lines.append(f"{pid} {fields[0]} ppid={fields[1]} {cmd.decode(errors='replace')}")
    return f"{len(pids)} left: " + "; ".join(lines)
