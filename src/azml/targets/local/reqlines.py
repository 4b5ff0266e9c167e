"""Requirement lines: their project names, where each came from, which one an error is about.

A step environment is built from requirement lines as AzureML receives them
(comments stripped, continuations joined, ``-r`` includes inlined). To name "the
file and the line" in an error, each line is traced back to the requirements
files it was read from; to pick the line an installer's error is about, the
project names the error mentions are matched against the lines' names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_AT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@")
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class Origin:
    """Where a requirement line was written."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def normalize(name: str) -> str:
    """A project name as PEP 503 compares them (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_name(line: str) -> str | None:
    """The normalized project a requirement line installs; None for an option line.

    ``numpy>=1.24`` -> ``numpy``; ``pkg @ https://...`` -> ``pkg``;
    ``git+https://...#egg=pkg`` -> ``pkg``; ``--extra-index-url X`` -> None.
    """
    text = line.strip()
    if not text or text.startswith("-") and not text.startswith(("-e ", "--editable")):
        return None
    egg = _EGG.search(text)
    if egg:
        return normalize(egg.group(1))
    at = _AT_NAME.match(text)
    if at:
        return normalize(at.group(1))
    if "://" in text or text.startswith((".", "/", "-e", "--editable")):
        return None
    match = _NAME.match(text)
    return normalize(match.group(1)) if match else None


def logical_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(first physical line number, text)`` of each logical line of a requirements file.

    Comments are stripped and ``\\``-continued lines joined, as pip reads them.
    """
    try:
        physical = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    start, parts = 0, list[str]()
    for number, raw in enumerate(physical, start=1):
        if not parts:
            start = number
        text = _COMMENT.sub("", raw)
        if text.endswith("\\"):
            parts.append(text[:-1])
            continue
        parts.append(text)
        joined = " ".join(p.strip() for p in parts).strip()
        parts = []
        if joined:
            yield start, joined
    if parts:
        joined = " ".join(p.strip() for p in parts).strip()
        if joined:
            yield start, joined


def locate(line: str, files: Iterable[Path]) -> Origin | None:
    """The first place in ``files`` where ``line`` was written, if any."""
    wanted = " ".join(line.split())
    for path in files:
        for number, text in logical_lines(path):
            if " ".join(text.split()) == wanted:
                return Origin(path, number)
    return None


def culprit(message: str, lines: Sequence[str]) -> int | None:
    """Index of the line an installer's error message is about, if one can be told.

    The line whose project name the message mentions first wins (uv writes
    "Because there is no version of six==99 and you require six==99...").
    """
    text = normalize(message)
    best: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        name = project_name(line)
        if not name:
            continue
        found = re.search(rf"(?<![a-z0-9-]){re.escape(name)}(?![a-z0-9-])", text)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), index)
    return best[1] if best else None


def line_at_position(text: str, position: int) -> int:
    """0-based index of the line holding character ``position`` of ``text``."""
    return text.count("\n", 0, max(0, min(position, len(text))))
