"""Operating-system helpers: process identity, finding and stopping step processes.

A pid alone is not an identity, since pids are reused. Where ``/proc`` exists
(Linux) a process is identified by its pid *and* its start time (field 22 of
``/proc/<pid>/stat``), so a recorded pid that now belongs to another program is
never mistaken for the original.

Every process of a step run carries ``AZUREML_RUN_ID=<step run id>`` in its
environment (AzureML sets that variable too). Launchers put ranks in process
groups or sessions of their own (Open MPI gives each rank its own group,
torchrun its own session), so stopping a step signals its process group *and*
every process whose environment carries the marker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")
MARKER_VARIABLE = "AZUREML_RUN_ID"
#: Seconds between SIGTERM and SIGKILL when stopping a step.
GRACE_SECONDS = 2.0


def start_time(pid: int) -> str | None:
    """The start time of live process ``pid`` as text, None if it is gone or a zombie.

    On systems without ``/proc`` it is ``""`` for any existing process.
    """
    if not PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else ""


def is_alive(pid: int | None, started: str | None) -> bool:
    """True when ``pid`` runs and is the same process that started at ``started``."""
    if not pid:
        return False
    now = start_time(pid)
    if now is None:
        return False
    return not started or not now or now == started


def marked_pids(marker: str) -> list[int]:
    """Pids of live processes whose environment has ``AZUREML_RUN_ID=<marker>``."""
    if not PROC.is_dir():
        return []
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    own = os.getpid()
    found: list[int] = []
    for entry in os.scandir(PROC):
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            with open(f"{entry.path}/environ", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if needle in data.split(b"\0") and start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


def signal_group(pid: int | None, started: str | None, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` if that process is still ours."""
    if pid and (started is None or is_alive(pid, started)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def signal_pids(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_step_processes(
    marker: str,
    leader: int | None = None,
    leader_start: str | None = None,
    *,
    grace: float = GRACE_SECONDS,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Stop every process of a step run: SIGTERM, then SIGKILL after ``grace`` seconds.

    Args:
        marker: the step run id carried in ``AZUREML_RUN_ID``.
        leader: pid of the step's first process (its process group leader), if known.
        leader_start: that process's start time, to guard against pid reuse.
        alive: extra liveness check for the leader, for callers that own it
            (its zombie keeps ``/proc`` entries until reaped).

    Returns:
        True when no process of the step is left.
    """
    signal_group(leader, leader_start, signal.SIGTERM)
    signal_pids(marked_pids(marker), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not marked_pids(marker) and not (alive() if alive else is_alive(leader, leader_start)):
            return True
        time.sleep(0.05)
    signal_group(leader, leader_start, signal.SIGKILL)
    for _ in range(20):
        left = marked_pids(marker)
        if not left:
            return True
        signal_pids(left, signal.SIGKILL)
        time.sleep(0.05)
    return not marked_pids(marker)


def parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when this process dies.

    If the orchestrator is killed outright, its direct children (the step's
    interpreter or launcher) are told to stop; stragglers are found through the
    marker when the dead run is next read.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def loopback_works() -> bool:
    """True when a TCP connection to 127.0.0.1 succeeds (MPI launchers need one)."""
    import socket

    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=2):
                return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
