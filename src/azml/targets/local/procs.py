"""Operating-system helpers: process identity, finding and stopping step processes.

A pid alone is not an identity, since pids are reused. Where ``/proc`` exists
(Linux) a process is identified by its pid *and* its start time (field 22 of
``/proc/<pid>/stat``), so a recorded pid that now belongs to another program is
never mistaken for the original.

A step's processes are owned by its guard (:mod:`azml.targets.local.guard`),
whose pid the store records for the step. Every process of a step run also
carries ``AZUREML_RUN_ID=<step run id>`` in its environment (AzureML sets that
variable too), which finds what is left should the guard itself be killed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from azml.targets.local import guard

PROC = Path("/proc")
MARKER_VARIABLE = "AZUREML_RUN_ID"
#: Seconds between SIGTERM and SIGKILL when stopping a step.
GRACE_SECONDS = guard.GRACE_SECONDS


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


def stop_step(marker: str, guard_pid: int | None, guard_start: str | None,
              grace: float = GRACE_SECONDS) -> bool:
    """End a step run from any process: its guard first, then whatever carries its marker.

    The guard (SIGTERM) ends the step's whole tree, re-parented daemons included,
    within its grace period; what still carries ``AZUREML_RUN_ID=<marker>``
    afterwards (the guard itself was killed, say) goes through the same
    :func:`~azml.targets.local.guard.terminate`. Returns True when nothing is left.
    """
    if is_alive(guard_pid, guard_start):
        assert guard_pid is not None
        guard.signal_pids([guard_pid], signal.SIGTERM)
        deadline = time.monotonic() + grace + 2.0
        while time.monotonic() < deadline and is_alive(guard_pid, guard_start):
            time.sleep(0.02)

    def find() -> list[int]:
        left = marked_pids(marker)
        if is_alive(guard_pid, guard_start):
            assert guard_pid is not None
            left.append(guard_pid)
        return left

    return guard.terminate(find, grace)


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
