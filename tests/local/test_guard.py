"""The step guard with real processes: daemons that escape process groups and markers,
an orchestrator killed outright, and the log files it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from azml.targets.local.executor import Job, ProcessExecutor
from azml.targets.local.logsink import LogSink
from tests.local.executing import python_job, wait_for_exit

REPO_SRC = Path(__file__).resolve().parents[2] / "src"


def _with(token: str) -> list[int]:
    """Live processes whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def _gone(token: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _with(token):
            return True
        time.sleep(0.05)
    return False


def _daemon_script(token: str, then: str) -> str:
    """A step that leaves a daemon: double fork, setsid, empty environment.

    Only the daemon's command line carries ``token`` (the script has it reversed).
    """
    return textwrap.dedent(f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execve(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)',
                                           '{token[::-1]}'[::-1]], {{}})
            os._exit(0)
        os.wait()
        print('ready', flush=True)
        {then}
    """)


def _job(tmp_path: Path, code: str, marker: str) -> Job:
    return python_job(tmp_path, code, marker, {"PATH": os.environ.get("PATH", "")})


_wait = wait_for_exit


def test_a_setsid_daemon_without_environment_is_ended_when_the_step_is_stopped(tmp_path: Path) -> None:
    token = f"daemon-{uuid.uuid4().hex}"
    executor = ProcessExecutor(grace=0.5)
    handle = executor.start(_job(tmp_path, _daemon_script(token, "time.sleep(300)"), "g.stop"))
    deadline = time.monotonic() + 20
    while not _with(token) and time.monotonic() < deadline:  # the daemon has exec'd
        time.sleep(0.02)
    assert len(_with(token)) == 1
    executor.stop(handle)
    assert _wait(executor, handle) == -signal.SIGTERM
    assert _with(token) == []


def test_a_daemon_left_by_a_finished_step_is_ended(tmp_path: Path) -> None:
    token = f"daemon-{uuid.uuid4().hex}"
    executor = ProcessExecutor()
    handle = executor.start(_job(tmp_path, _daemon_script(token, "print('bye')"), "g.leftover"))
    assert _wait(executor, handle) == 0
    assert _with(token) == []
    assert (tmp_path / "log.txt").read_text().split() == ["ready", "bye"]


def test_the_tree_ends_when_the_orchestrator_is_killed(tmp_path: Path) -> None:
    token = f"daemon-{uuid.uuid4().hex}"
    step = _daemon_script(token, "time.sleep(300)")
    driver = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from azml.targets.local.executor import Job, ProcessExecutor
        job = Job("s", "g.killed", [sys.executable, "-c", {step!r}], Path({str(tmp_path)!r}),
                  {{"PATH": "/usr/bin:/bin"}}, Path({str(tmp_path / 'log.txt')!r}))
        handle = ProcessExecutor().start(job)
        print(handle.pid, flush=True)
        time.sleep(300)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO_SRC)}
    proc = subprocess.Popen([sys.executable, "-c", driver], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        guard_pid = int(proc.stdout.readline())
        deadline = time.monotonic() + 20
        while not _with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_with(token)) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        started = time.monotonic()
        assert _gone(token, timeout=5.0), _with(token)
        while _state(guard_pid) not in ("Z", "X", "") and time.monotonic() - started < 5.0:
            time.sleep(0.05)
        assert _state(guard_pid) in ("Z", "X", "")  # the guard ended too
    finally:
        if proc.poll() is None:
            proc.kill()


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def test_log_sink_splits_ranks_and_redacts(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "step.log", True, lambda t: t.replace("hunter2", "***"))
    for chunk in (b"[1,0]<stdout>:pass hunter2\n[1,1]<stdout>:ra", b"nk 1\n[1,1]<stdout>: ok\n",
                  b"mpirun: done\n[1,0]<stdout>:unfinished"):
        sink.feed(chunk)
    sink.close()
    assert (tmp_path / "step.log").read_text().splitlines() == [
        "[rank 0] pass ***", "[rank 1] rank 1", "[rank 1]  ok", "[launcher] mpirun: done",
        "[rank 0] unfinished"]
    assert (tmp_path / "rank.0.log").read_text() == "pass ***\nunfinished\n"
    assert (tmp_path / "rank.1.log").read_text() == "rank 1\n ok\n"


def test_the_step_starts_with_default_signal_dispositions(tmp_path: Path) -> None:
    code = ("import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
            "signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)")
    executor = ProcessExecutor()
    handle = executor.start(_job(tmp_path, code, "g.signals"))
    assert _wait(executor, handle) == 0
    assert (tmp_path / "log.txt").read_text().split() == ["True", "True"]
