"""The executor: starts, polls and stops step processes. No DAG logic lives here.

Each step process starts in a session of its own (so a Ctrl-C at the terminal
reaches only azml, which then stops the steps), with stdout and stderr written
straight to the step's log file (no pipes, so a step never blocks on azml), and
with a parent-death signal so it stops if azml is killed. A finished leader is
not reaped until the rest of its process group and every process carrying its
marker are killed: a step leaves nothing behind, as on AzureML, where the
container goes away with the job.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from azml.errors import LaunchError
from azml.targets.local import procs


@dataclass
class Job:
    """A step process to start.

    Attributes:
        step_id: the config step id.
        marker: the step run id, also the value of ``AZUREML_RUN_ID``.
        slots: how many of ``max_parallel`` the step occupies.
    """

    step_id: str
    marker: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log_path: Path
    slots: int = 1


@dataclass
class Handle:
    """A started step process."""

    job: Job
    pid: int
    start: str | None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pidfd: int | None = None
    stop_deadline: float | None = None
    exit_code: int | None = None


class Executor(Protocol):
    """What the scheduler needs from an executor."""

    def start(self, job: Job) -> Handle: ...

    def poll(self, handle: Handle) -> int | None: ...

    def stop(self, handle: Handle) -> None: ...

    def wait(self, handles: Sequence[Handle], timeout: float) -> None: ...


class ProcessExecutor:
    """Runs jobs as real processes."""

    def __init__(self, grace: float = procs.GRACE_SECONDS) -> None:
        self.grace = grace
        self._preexec = procs.parent_death_signal()

    def start(self, job: Job) -> Handle:
        """Start ``job``; LaunchError if the program cannot be started."""
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(job.log_path, "ab") as log:
            try:
                popen = subprocess.Popen(
                    job.argv, cwd=job.cwd, env=job.env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=self._preexec, close_fds=True)  # noqa: PLW1509 (no threads)
            except OSError as exc:
                raise LaunchError(job.step_id, f"{job.argv[0]}: {exc.strerror or exc}") from None
        pidfd = None
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(popen.pid)
            except OSError:
                pidfd = None
        return Handle(job, popen.pid, procs.start_time(popen.pid), popen, pidfd)

    def poll(self, handle: Handle) -> int | None:
        """The exit code once the step's process has ended and been cleaned up, else None."""
        if handle.exit_code is not None:
            return handle.exit_code
        if not _exited(handle.pid):
            if handle.stop_deadline is not None and time.monotonic() >= handle.stop_deadline:
                self._kill(handle)
            return None
        self._kill(handle)
        assert handle.popen is not None
        handle.exit_code = handle.popen.wait()
        if handle.pidfd is not None:
            os.close(handle.pidfd)
            handle.pidfd = None
        return handle.exit_code

    def stop(self, handle: Handle) -> None:
        """Ask the step to stop (SIGTERM); :meth:`poll` escalates to SIGKILL after the grace."""
        if handle.exit_code is not None or handle.stop_deadline is not None:
            return
        handle.stop_deadline = time.monotonic() + self.grace
        _signal_group(handle.pid, signal.SIGTERM)
        procs.signal_pids(procs.marked_pids(handle.job.marker), signal.SIGTERM)

    def wait(self, handles: Sequence[Handle], timeout: float) -> None:
        """Block until one of ``handles`` may have ended, or ``timeout`` seconds."""
        fds = [h.pidfd for h in handles if h.pidfd is not None]
        if fds and len(fds) == len(handles):
            select.select(fds, [], [], timeout)
        else:
            time.sleep(min(timeout, 0.01))

    def _kill(self, handle: Handle) -> None:
        """SIGKILL the process group and every marked process (leader not yet reaped)."""
        _signal_group(handle.pid, signal.SIGKILL)
        for _ in range(50):
            left = procs.marked_pids(handle.job.marker)
            left = [p for p in left if p != handle.pid]
            if not left:
                return
            procs.signal_pids(left, signal.SIGKILL)
            time.sleep(0.02)


def _exited(pid: int) -> bool:
    """True when child ``pid`` has ended; it stays a zombie (not reaped) until waited for."""
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return result is not None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
