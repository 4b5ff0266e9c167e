"""Worker processes: start, feed, watch, kill and replace them.

Each worker is ``python worker.py TASK_FD RESULT_FD`` in a session of its own
(so that a kill reaches anything it started), with two pipes to the driver and its
stdout/stderr in its log files. The driver keeps a few mini-batches queued at each
ready worker (see ``Job.depth``) so that a worker never waits for the next one; the
``run_invocation_timeout`` clock of a mini-batch starts when the worker is done with
the one before it (see :attr:`Slot.running`).
"""

from __future__ import annotations

import marshal
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .layout import Layout

WORKER = Path(__file__).resolve().parent / "worker.py"
SHIM = Path(__file__).resolve().parent / "shim"


def parent_death_signal() -> Any:
    """A ``preexec_fn`` asking Linux to SIGKILL a worker when the driver dies (None elsewhere).

    A driver stopped with SIGTERM kills its workers itself (see driver.py); this
    covers a driver killed outright, whose workers would otherwise finish their
    mini-batch (or hang) with nobody to report to.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def frame(message: dict[str, Any]) -> bytes:
    """One message on a pipe: 4-byte little-endian length, then marshal data (see worker.py)."""
    data = marshal.dumps(message)
    return len(data).to_bytes(4, "little") + data


class Slot:
    """One worker process and what it has been given (mini-batch ids, oldest first)."""

    def __init__(self, node: str, name: str, process: subprocess.Popen[bytes], task_fd: int,
                 result_fd: int, sys_log: Path) -> None:
        self.node = node
        self.name = name
        self.process = process
        self.task_fd = task_fd
        self.result_fd = result_fd
        self.sys_log = sys_log
        self.spawned = time.monotonic()
        self.ready = False
        self.finished = False
        self.stop_sent = False
        self.init_failed = False
        self.restarting = False
        self.assigned: deque[int] = deque()
        self.run_started = 0.0
        self.buffer = b""
        self.rows_path: Path | None = None

    @property
    def running(self) -> int | None:
        """The mini-batch the worker is on: the first one sent and not yet done.

        A worker takes its mini-batches in the order sent, so the first starts when it
        is sent to an idle worker or when the one before it is done; the driver times
        ``run_invocation_timeout`` from there, without a message per start.
        """
        return self.assigned[0] if self.assigned else None


class Pool:
    """Starts workers with one configuration and multiplexes their result pipes."""

    def __init__(self, layout: Layout, base_config: dict[str, Any], temp_root: Path,
                 environ: dict[str, str]) -> None:
        self.layout = layout
        self.base_config = base_config
        self.temp_root = temp_root
        self.environ = environ
        self.selector = selectors.DefaultSelector()
        self.slots: list[Slot] = []
        self.counters: dict[str, int] = {}
        self.preexec = parent_death_signal()

    def spawn(self, node: str) -> Slot:
        """Start a new worker on simulated node ``node`` and send it its configuration."""
        number = self.counters.get(node, 0)
        self.counters[node] = number + 1
        name = f"process{number:03d}"
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        out = self._log(self.layout.process_file("stdout", node, name))
        err = self._log(self.layout.process_file("stderr", node, name))
        try:
            process = subprocess.Popen(
                [sys.executable, str(WORKER), str(task_r), str(result_w)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.environ,
                pass_fds=(task_r, result_w), start_new_session=True,
                preexec_fn=self.preexec)  # noqa: PLW1509 - the driver starts no threads
        finally:
            out.close()
            err.close()
            os.close(task_r)
            os.close(result_w)
        slot = Slot(node, name, process, task_w, result_r, self.layout.process_file("sys", node, name))
        self.selector.register(result_r, selectors.EVENT_READ, slot)
        self.slots.append(slot)
        config = dict(self.base_config, node=node, process=name,
                      temp_dir=str(self.temp_root / f"{node}_{name}"),
                      error_log=str(self.layout.process_file("error", node, name)),
                      entry_log_dir=str(self.layout.entry_log_dir(node)), shim=str(SHIM))
        self.send(slot, config)
        return slot

    @staticmethod
    def _log(path: Path) -> Any:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("ab")

    def send(self, slot: Slot, *messages: dict[str, Any]) -> bool:
        """Write one line per message to a worker, in one write; False if it is gone."""
        data = b"".join(frame(message) for message in messages)
        try:
            while data:
                data = data[os.write(slot.task_fd, data):]
        except OSError:
            return False
        return True

    def poll(self, timeout: float) -> Iterator[tuple[Slot, dict[str, Any] | None]]:
        """Messages that arrived within ``timeout`` seconds; ``None`` means the worker's pipe closed."""
        for key, _ in self.selector.select(max(timeout, 0.0)):
            slot: Slot = key.data
            try:
                chunk = os.read(slot.result_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                yield slot, None
                continue
            slot.buffer += chunk
            while len(slot.buffer) >= 4:
                end = 4 + int.from_bytes(slot.buffer[:4], "little")
                if len(slot.buffer) < end:
                    break
                message, slot.buffer = marshal.loads(slot.buffer[4:end]), slot.buffer[end:]
                yield slot, message

    def retire(self, slot: Slot, kill: bool) -> int | None:
        """Close a worker's pipes (killing it first if asked) and reap it; its exit code."""
        if kill and slot.process.poll() is None:
            try:
                os.killpg(slot.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                slot.process.kill()
        if slot in self.slots:
            self.slots.remove(slot)
            self.selector.unregister(slot.result_fd)
            for fd in (slot.task_fd, slot.result_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            return slot.process.wait(timeout=None if kill else 30)
        except subprocess.TimeoutExpired:
            slot.process.kill()
            return slot.process.wait()

    def close(self) -> None:
        """Kill every worker still running (used when the job stops early)."""
        for slot in list(self.slots):
            self.retire(slot, kill=True)
        self.selector.close()
