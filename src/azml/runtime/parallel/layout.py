"""Where the driver and its workers write logs: AzureML's ``logs/`` layout, locally.

Following "Troubleshooting the ParallelRunStep" (Azure docs, v1):

- ``job_progress_overview.txt``: mini-batches scheduled and processed, then the result;
- ``job_result.txt``: the job's outcome and where to look first;
- ``sys/master_role.txt``: the driver's own account (workers started, killed, retried);
- ``sys/node/<node>/<process>.txt``: every mini-batch a worker picked and finished;
- ``user/stdout/<node>/<process>.stdout.txt`` and ``user/stderr/...``: the worker's
  output, including the root logger;
- ``user/entry_script_log/<node>/<process>.log.txt``: ``EntryScript().logger``;
- ``user/error/<node>/<process>.txt``: tracebacks, with the items of the mini-batch;
- ``user/error.txt``: one line per failure, pointing at the file above.

Nodes are simulated on one machine and named ``0``, ``1``...; worker processes are
``process000``, ``process001``... per node, a replacement taking the next number.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO


class Layout:
    """The logs folder of one job."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.handles: dict[Path, TextIO] = {}

    def process_file(self, kind: str, node: str, process: str) -> Path:
        """``kind`` is stdout, stderr, error, entry or sys."""
        if kind == "sys":
            return self.root / "sys" / "node" / node / f"{process}.txt"
        if kind == "entry":
            return self.root / "user" / "entry_script_log" / node / f"{process}.log.txt"
        if kind == "error":
            return self.root / "user" / "error" / node / f"{process}.txt"
        return self.root / "user" / kind / node / f"{process}.{kind}.txt"

    def entry_log_dir(self, node: str) -> Path:
        return self.root / "user" / "entry_script_log" / node

    @property
    def master(self) -> Path:
        return self.root / "sys" / "master_role.txt"

    @property
    def overview(self) -> Path:
        return self.root / "job_progress_overview.txt"

    @property
    def result(self) -> Path:
        return self.root / "job_result.txt"

    @property
    def errors(self) -> Path:
        return self.root / "user" / "error.txt"

    def prepare(self) -> None:
        for folder in (self.root / "sys" / "node", self.root / "user"):
            folder.mkdir(parents=True, exist_ok=True)

    def append(self, path: Path, line: str) -> None:
        """Add a time-stamped line to ``path`` (kept open until :meth:`close`)."""
        handle = self.handles.get(path)
        if handle is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.handles[path] = path.open("a", encoding="utf-8")
        handle.write(f"{stamp()} {line}\n")

    def flush(self) -> None:
        for handle in self.handles.values():
            handle.flush()

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


_LAST: list[object] = [0, ""]


def stamp() -> str:
    """The current UTC time to the second (formatted once per second)."""
    now = int(time.time())
    if _LAST[0] != now:
        _LAST[:] = [now, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + " UTC"]
    return str(_LAST[1])
