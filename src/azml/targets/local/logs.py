"""Step logs: the launcher's tagged output split per rank, tails, and ``azml logs``.

A PythonScriptStep's log is its own stdout and stderr. An MpiStep's launcher
output is kept raw in ``launcher.log``: mpirun ``--tag-output`` starts every
chunk a rank writes with ``[job,rank]<stdout>:`` (a chunk may end mid-line, so
lines of different ranks can be cut into each other), torchrun ``--tee`` starts
every line with ``[defaultN]:``. :func:`demux` puts each rank's lines back
together; the step log then shows every line as ``[rank N] text`` and each rank
also gets ``rank.N.log``. Untagged lines come from the launcher itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

TAG = re.compile(r"\[\d+,(\d+)\]<(stdout|stderr|stddiag)>:|\[default(\d+)\]:")
LAUNCHER = -1
Stream = tuple[int, str]


def demux(text: str, unfinished: bool = True) -> Iterator[tuple[int, str]]:
    """``(rank, line)`` pairs in order of completion; rank -1 for launcher lines.

    Pieces of one rank's stdout (or stderr) are joined until a newline ends them.
    Ranks' unfinished last lines are yielded at the end, unless ``unfinished`` is
    False: then the result for a prefix of a log is a prefix of the result for
    the whole log (what following a growing log needs).
    """
    partial: dict[Stream, str] = {}
    for physical in text.splitlines(keepends=True):
        ended = physical.endswith("\n")
        pieces = _split_tags(physical.rstrip("\n"))
        for index, (stream, piece) in enumerate(pieces):
            partial[stream] = partial.get(stream, "") + piece
            if ended and index == len(pieces) - 1:
                yield stream[0], partial.pop(stream)
    if not unfinished:
        return
    for stream, rest in partial.items():
        if rest:
            yield stream[0], rest


def _split_tags(line: str) -> list[tuple[Stream, str]]:
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


def render(pairs: Iterable[tuple[int, str]]) -> str:
    """Demuxed lines as the combined step log, ``[rank N] `` before each rank line."""
    out = []
    for rank, line in pairs:
        out.append(f"[rank {rank}] {line}\n" if rank >= 0 else f"[launcher] {line}\n")
    return "".join(out)


def split_launcher_log(raw: Path, step_log: Path) -> list[Path]:
    """Write the combined step log and one ``rank.N.log`` per rank from a launcher log."""
    text = raw.read_text(encoding="utf-8", errors="replace") if raw.exists() else ""
    pairs = list(demux(text))
    step_log.write_text(render(pairs), encoding="utf-8")
    per_rank: dict[int, list[str]] = {}
    for rank, line in pairs:
        if rank >= 0:
            per_rank.setdefault(rank, []).append(line + "\n")
    written = []
    for rank, lines in sorted(per_rank.items()):
        path = step_log.with_name(f"rank.{rank}.log")
        path.write_text("".join(lines), encoding="utf-8")
        written.append(path)
    return written


def read_log(log: Path, launcher_log: Path | None, growing: bool = False) -> str:
    """A step's combined log so far (demuxed on the fly while an MPI step runs).

    With ``growing``, ranks' unfinished lines are left out, so that each read
    extends the previous one.
    """
    if log.exists():
        return log.read_text(encoding="utf-8", errors="replace")
    if launcher_log is not None and launcher_log.exists():
        text = launcher_log.read_text(encoding="utf-8", errors="replace")
        return render(demux(text, unfinished=not growing))
    return ""


def last_line(path: Path, tagged: bool = False, window: int = 4096) -> str:
    """The last non-empty line of a log file (rank-prefixed for a tagged launcher log)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - window))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    if tagged:
        lines = [f"[rank {r}] {t}" if r >= 0 else t for r, t in demux(data) if t.strip()]
    else:
        lines = [ln for ln in data.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def follow(
    read: Callable[[], str],
    finished: Callable[[], bool],
    out: TextIO,
    redact: Callable[[str], str],
    interval: float = 0.25,
) -> None:
    """Write what ``read`` returns, then whatever it adds, until ``finished`` is true."""
    shown = 0
    while True:
        done = finished()
        text = read()
        if len(text) > shown:
            out.write(redact(text[shown:]))
            out.flush()
            shown = len(text)
        if done:
            return
        time.sleep(interval)
