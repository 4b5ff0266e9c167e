"""The process executor with real (tiny) processes: exit codes, stopping, leftovers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from azml.errors import LaunchError
from azml.targets.local import procs
from azml.targets.local.executor import Job, ProcessExecutor
from tests.local.executing import python_job, wait_for_exit


def _job(tmp_path: Path, code: str, marker: str) -> Job:
    return python_job(tmp_path, code, marker, os.environ)


def _wait(executor: ProcessExecutor, handle: object, timeout: float = 10.0) -> int:
    return wait_for_exit(executor, handle, timeout)


def test_exit_code_and_log(tmp_path: Path) -> None:
    executor = ProcessExecutor()
    handle = executor.start(_job(tmp_path, "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
                                 "t.exit"))
    assert handle.start is not None
    assert _wait(executor, handle) == 3
    assert (tmp_path / "log.txt").read_text().split() == ["out", "err"]


def test_stop_escalates_to_sigkill_for_a_step_ignoring_sigterm(tmp_path: Path) -> None:
    executor = ProcessExecutor(grace=0.5)
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)")
    handle = executor.start(_job(tmp_path, code, "t.stubborn"))
    while "ready" not in (tmp_path / "log.txt").read_text():
        time.sleep(0.02)
    started = time.monotonic()
    executor.stop(handle)
    assert _wait(executor, handle) == -signal.SIGKILL
    assert time.monotonic() - started < 3.0


def test_nothing_is_left_behind_when_a_step_ends(tmp_path: Path) -> None:
    code = ("import subprocess, sys; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
            "print('spawned', flush=True)")
    executor = ProcessExecutor()
    handle = executor.start(_job(tmp_path, code, "t.leftovers"))
    assert _wait(executor, handle) == 0
    assert procs.marked_pids("t.leftovers") == []


def test_a_missing_program_is_a_launch_error(tmp_path: Path) -> None:
    job = Job("s", "t.missing", [str(tmp_path / "nope")], tmp_path, {}, tmp_path / "log.txt")
    with pytest.raises(LaunchError, match="could not start"):
        ProcessExecutor().start(job)
