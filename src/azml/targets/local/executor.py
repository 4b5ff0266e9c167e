"""The executor: starts, polls and stops step processes. No DAG logic lives here.

Every step runs under a guard (:mod:`azml.targets.local.guard`) in a session of
its own, so a Ctrl-C at the terminal reaches only azml, which then stops the
steps. The guard owns the step's whole process tree: it writes the output to the
log files, ends the tree when the step's first process exits, when it is asked
to stop, or when azml itself dies. A step leaves nothing behind, as on AzureML,
where the container goes away with the job.
"""

from __future__ import annotations

import select
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from azml.errors import LaunchError
from azml.targets.local import guard


def _unchanged(text: str) -> str:
    return text


@dataclass
class Job:
    """A step process to start.

    Attributes:
        step_id: the config step id.
        marker: the step run id, also the value of ``AZUREML_RUN_ID``.
        slots: how many of ``max_parallel`` the step occupies.
        log_path: the step's combined log.
        tagged: the output is a launcher's, tagged per rank (rank logs are written too).
    """

    step_id: str
    marker: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log_path: Path
    slots: int = 1
    tagged: bool = False


@dataclass
class Handle:
    """A started step: ``pid`` and ``start`` identify its guard."""

    job: Job
    pid: int
    start: str | None
    proc: guard.Guard | None = field(default=None, repr=False)
    stopping: bool = False
    exit_code: int | None = None


class Executor(Protocol):
    """What the scheduler needs from an executor."""

    def start(self, job: Job) -> Handle: ...

    def poll(self, handle: Handle) -> int | None: ...

    def stop(self, handle: Handle) -> None: ...

    def wait(self, handles: Sequence[Handle], timeout: float) -> None: ...


class ProcessExecutor:
    """Runs each job under a guard process (:mod:`azml.targets.local.guard`).

    ``Handle.pid`` is the guard's pid: signalling it (SIGTERM) ends the step's
    whole tree, from this process or from ``azml cancel``.
    """

    def __init__(self, grace: float = guard.GRACE_SECONDS,
                 redact: Callable[[str], str] = _unchanged) -> None:
        self.grace = grace
        self.redact = redact

    def start(self, job: Job) -> Handle:
        """Start ``job``; LaunchError if the program cannot be started."""
        spec = guard.GuardSpec(job.argv, job.cwd, job.env, job.log_path, tagged=job.tagged,
                               redact=self.redact, grace=self.grace)
        try:
            started = guard.spawn(spec)
        except OSError as exc:
            raise LaunchError(job.step_id, str(exc.strerror or exc)) from None
        return Handle(job, started.pid, started.start, started)

    def poll(self, handle: Handle) -> int | None:
        """The step's exit code once its guard has ended (its whole tree is gone), else None."""
        if handle.exit_code is None and handle.proc is not None:
            handle.exit_code = guard.exit_code(handle.proc)
        return handle.exit_code

    def stop(self, handle: Handle) -> None:
        """Ask the guard to end the step: SIGTERM, then SIGKILL after the grace period."""
        if handle.exit_code is not None or handle.stopping:
            return
        handle.stopping = True
        guard.signal_pids([handle.pid], signal.SIGTERM)

    def wait(self, handles: Sequence[Handle], timeout: float) -> None:
        """Block until one of ``handles`` may have ended, or ``timeout`` seconds."""
        fds = [h.proc.pidfd for h in handles if h.proc is not None and h.proc.pidfd is not None]
        if fds and len(fds) == len(handles):
            select.select(fds, [], [], timeout)
        else:
            time.sleep(min(timeout, 0.01))
