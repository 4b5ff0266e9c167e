"""Reading step logs: tails for the display, and ``azml logs`` (whole, ``--tail N``, ``--follow``).

The guard writes each step's combined log as the output arrives (see
:mod:`azml.targets.local.logsink`), so a log is read the same way while the
step runs and after it ended. Everything here streams in blocks: memory does not
depend on the log's size. Every line shown passes through redaction again (the
stored log was redacted with the secrets known when the step ran).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from azml.targets.local.logsink import Demuxer, combined_line

BLOCK = 1 << 16


def demux(text: str, unfinished: bool = True) -> Iterator[tuple[int, str]]:
    """``(rank, line)`` pairs of a launcher's tagged output, in order of completion.

    Rank -1 is the launcher's own lines. Ranks' unfinished last lines come at
    the end, unless ``unfinished`` is False.
    """
    demuxer = Demuxer()
    for physical in text.splitlines(keepends=True):
        yield from demuxer.feed(physical)
    if unfinished:
        yield from demuxer.rest()


def render(pairs: Iterable[tuple[int, str]]) -> str:
    """Demuxed lines as the combined step log reads them."""
    return "".join(combined_line(rank, line) for rank, line in pairs)


def last_line(path: Path, window: int = 4096) -> str:
    """The last non-empty line of a log file ("" if there is none)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - window))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln for ln in data.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last ``lines`` lines of ``path`` begin."""
    if lines <= 0:
        return os.path.getsize(path)
    with open(path, "rb") as handle:
        end = handle.seek(0, 2)
        position, seen = end, 0
        if end and _byte_at(handle, end - 1) == b"\n":
            position -= 1  # the final newline ends the last line; it does not start one
        while position > 0:
            start = max(0, position - BLOCK)
            handle.seek(start)
            block = handle.read(position - start)
            cut = len(block)
            while True:
                cut = block.rfind(b"\n", 0, cut)
                if cut < 0:
                    break
                seen += 1
                if seen == lines:
                    return start + cut + 1
            position = start
    return 0


def _byte_at(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.read(1)


def copy_log(path: Path, out: TextIO, redact: Callable[[str], str], start: int = 0) -> int:
    """Write ``path`` from byte ``start`` to ``out``, redacted, in blocks; returns the end offset."""
    reader = _LineReader(path, start)
    out.writelines(redact(text) for text in reader.complete(final=True))
    out.flush()
    return reader.offset


def follow_log(
    path: Path,
    finished: Callable[[], bool],
    out: TextIO,
    redact: Callable[[str], str],
    start: int = 0,
    interval: float = 0.25,
) -> None:
    """Write ``path`` and then what is appended to it, until ``finished`` is true.

    Only whole lines are written while the step runs; the rest once it ended.
    """
    reader = _LineReader(path, start)
    while True:
        done = finished()
        out.writelines(redact(text) for text in reader.complete(final=done))
        out.flush()
        if done:
            return
        time.sleep(interval)


class _LineReader:
    """Reads a growing file from an offset, yielding whole lines in blocks."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.pending = b""

    def complete(self, final: bool) -> Iterator[str]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 (closed by the with below)
        except OSError:
            return
        with handle:
            handle.seek(self.offset)
            while True:
                block = handle.read(BLOCK)
                if not block:
                    break
                self.offset += len(block)
                data = self.pending + block
                cut = data.rfind(b"\n") + 1
                if cut == 0 and len(data) > BLOCK * 16:
                    cut = len(data)  # an endless line: show it in pieces
                self.pending = data[cut:]
                if cut:
                    yield data[:cut].decode("utf-8", errors="replace")
        if final and self.pending:
            yield self.pending.decode("utf-8", errors="replace")
            self.pending = b""
