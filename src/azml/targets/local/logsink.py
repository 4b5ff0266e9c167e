"""Writing a step's output as it arrives: one combined log, one file per rank, redacted.

A PythonScriptStep's log is its own stdout and stderr. An MpiStep's output comes
from its launcher, tagged: mpirun ``--tag-output`` starts every chunk a rank
writes with ``[job,rank]<stdout>:`` (a chunk may end mid-line, so lines of
different ranks can be cut into each other), torchrun ``--tee`` starts every line
with ``[defaultN]:``. :class:`Demuxer` puts each rank's lines back together; the
step log shows every line as ``[rank N] text`` (``[launcher] text`` for the
launcher's own lines) and each rank also gets ``rank.N.log``.

Memory is bounded: only unfinished lines are held, and a line longer than
:data:`MAX_LINE` is written in pieces. Standard library only: this runs in the
step guard.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TAG = re.compile(r"\[\d+,(\d+)\]<(stdout|stderr|stddiag)>:|\[default(\d+)\]:")
#: A tag at the start of a line (group 1: mpirun's rank, group 2: torchrun's).
TAG_AT_START = re.compile(r"(?m)^(?:\[\d+,(\d+)\]<(?:stdout|stderr|stddiag)>:|\[default(\d+)\]:)")
MPI_AT_START = re.compile(r"(?m)^\[\d+,(\d+)\]<(?:stdout|stderr|stddiag)>:")
TEE_AT_START = re.compile(r"(?m)^\[default(\d+)\]:")
#: A line's own tag repeated inside it: mpirun starting the next chunk of the same stream.
CONTINUATION = re.compile(r"(?m)^((\[\d+,\d+\]<(?:stdout|stderr|stddiag)>:)[^\n\[]*)\2")
#: Ranks in one block up to which the block is split with one pass per rank.
FAST_RANKS = 16
LAUNCHER = -1
MAX_LINE = 1 << 20
#: Characters of the last line kept for the failure reason.
MAX_REPORTED = 500
Stream = tuple[int, str]


class Demuxer:
    """Joins the pieces of each rank's lines, fed one physical line at a time."""

    def __init__(self) -> None:
        self.partial: dict[Stream, str] = {}

    def feed(self, physical: str) -> Iterator[tuple[int, str]]:
        """``(rank, line)`` for every line this physical line completes; rank -1: launcher."""
        ended = physical.endswith("\n")
        line = physical[:-1] if ended else physical
        pieces = _one_piece(line) or split_tags(line)
        last = len(pieces) - 1
        partial = self.partial
        for index, (stream, piece) in enumerate(pieces):
            joined = partial.pop(stream, "") + piece
            if (ended and index == last) or len(joined) > MAX_LINE:
                yield stream[0], joined
            else:
                partial[stream] = joined

    def rest(self) -> Iterator[tuple[int, str]]:
        """Every rank's unfinished last line, once the output has ended."""
        for stream, text in self.partial.items():
            if text:
                yield stream[0], text
        self.partial = {}


def _one_piece(line: str) -> list[tuple[Stream, str]] | None:
    """The pieces of a line that starts with a tag and holds no other (the common case)."""
    match = TAG.match(line)
    if match is None or TAG.search(line, match.end()) is not None:
        return None
    rank, kind, tee = match.groups()
    stream: Stream = (int(rank), kind) if rank is not None else (int(tee), "tee")
    return [(stream, line[match.end():])]


def split_tags(line: str) -> list[tuple[Stream, str]]:
    """The pieces of one physical line, each with the stream whose tag precedes it."""
    pieces: list[tuple[Stream, str]] = []
    stream: Stream = (LAUNCHER, "")
    position = 0
    for match in TAG.finditer(line):
        if match.start() > position:
            pieces.append((stream, line[position:match.start()]))
        if match.group(1) is not None:
            stream = (int(match.group(1)), match.group(2))
        else:
            stream = (int(match.group(3)), "tee")
        position = match.end()
    pieces.append((stream, line[position:]))
    return pieces


def combined_line(rank: int, text: str) -> str:
    """How a demuxed line reads in the combined step log."""
    return f"[rank {rank}] {text}\n" if rank >= 0 else f"[launcher] {text}\n"


class LogSink:
    """Receives a step's raw output in chunks and writes the log files, redacted."""

    def __init__(self, path: Path, tagged: bool, redact: Callable[[str], str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.redact = redact
        self.log: BinaryIO = open(path, "ab")  # noqa: SIM115 (held until close())
        self.ranks: dict[int, BinaryIO] = {}
        self.demuxer = Demuxer() if tagged else None
        self.pending = b""
        self.failed = False
        #: the last non-empty line written (redacted), kept even when the disk is full
        self.last = ""

    def feed(self, data: bytes) -> None:
        """Take a chunk of output; complete lines are written and flushed at once."""
        data = self.pending + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > MAX_LINE:
            cut = len(data)
        self.pending = data[cut:]
        if cut:
            self._write(data[:cut].decode("utf-8", "replace"))
        self.flush()

    def finish(self) -> None:
        """The output has ended: write what is left."""
        if self.pending:
            self._write(self.pending.decode("utf-8", "replace"))
            self.pending = b""
        if self.demuxer is not None:
            self._ranked(list(self.demuxer.rest()))
        self.flush()

    def flush(self) -> None:
        for handle in (self.log, *self.ranks.values()):
            self._quietly(handle.flush)

    def close(self) -> None:
        self.finish()
        for handle in (self.log, *self.ranks.values()):
            self._quietly(handle.close)

    def _remember(self, text: str) -> None:
        stripped = text.rstrip()
        if stripped:
            self.last = stripped[stripped.rfind("\n") + 1:].strip()[:MAX_REPORTED]

    def _quietly(self, action: Callable[[], object]) -> None:
        """Run a file operation; a failure (disk full) loses output, never the step's outcome."""
        try:
            action()
        except OSError:
            self.failed = True

    def _write(self, text: str) -> None:
        if self.demuxer is None:
            shown = self.redact(text)
            self._remember(shown)
            data = shown.encode("utf-8")
            self._quietly(lambda: self.log.write(data))
            return
        if self._write_whole_lines(text):
            return
        pairs: list[tuple[int, str]] = []
        for physical in text.splitlines(keepends=True):
            pairs.extend(self.demuxer.feed(physical))
        self._ranked(pairs)

    def _write_whole_lines(self, text: str) -> bool:
        """The common case at C speed: every line is one rank's whole line, tagged once.

        Returns False (nothing written) when the block needs the general demuxer:
        a launcher line, a line cut by another rank's output, many ranks.
        """
        assert self.demuxer is not None
        if self.demuxer.partial or not text.endswith("\n"):
            return False
        for _ in range(64):  # a chunk of a stream cut and resumed within one line: join it
            text, joined = CONTINUATION.subn(r"\1", text)
            if not joined:
                break
        lines = text.count("\n")
        starts = TAG_AT_START.findall(text)
        if len(starts) != lines or len(TAG.findall(text)) != lines:
            return False
        ranks = sorted({int(mpi or tee) for mpi, tee in starts})
        if len(ranks) > FAST_RANKS:
            return False
        shown = self.redact(TEE_AT_START.sub(r"[rank \1] ", MPI_AT_START.sub(r"[rank \1] ", text)))
        self._remember(shown)
        combined = shown.encode("utf-8")
        self._quietly(lambda: self.log.write(combined))
        for rank in ranks:
            own = _rank_lines(rank).findall(text)
            self._to_rank(rank, self.redact("".join(own)))
        return True

    def _ranked(self, pairs: list[tuple[int, str]]) -> None:
        if not pairs:
            return
        shown = self.redact("".join(combined_line(r, t) for r, t in pairs))
        self._remember(shown)
        combined = shown.encode("utf-8")
        self._quietly(lambda: self.log.write(combined))
        per_rank: dict[int, list[str]] = {}
        for rank, line in pairs:
            if rank >= 0:
                per_rank.setdefault(rank, []).append(line + "\n")
        for rank, lines in per_rank.items():
            self._to_rank(rank, self.redact("".join(lines)))

    def _to_rank(self, rank: int, text: str) -> None:
        handle = self.ranks.get(rank)
        if handle is None:
            try:
                handle = self.ranks[rank] = open(self.path.with_name(f"rank.{rank}.log"), "ab")  # noqa: SIM115
            except OSError:
                self.failed = True
                return
        data = text.encode("utf-8")
        self._quietly(lambda: handle.write(data))


@functools.lru_cache(maxsize=256)
def _rank_lines(rank: int) -> re.Pattern[str]:
    """The lines of one rank in a block of whole tagged lines (tag removed)."""
    return re.compile(rf"(?m)^(?:\[\d+,{rank}\]<(?:stdout|stderr|stddiag)>:|\[default{rank}\]:)(.*\n)")
