"""The ``.amlignore`` / ``.gitignore`` rules AzureML applies to a snapshot.

AzureML v1 reads one ignore file at the root of the source directory: ``.amlignore``
if it exists, else ``.gitignore``; nested ignore files are not read and nothing is
excluded by default. Patterns use git's wildmatch syntax and are tested against
each file's path relative to the source directory; the last pattern that matches
decides. As in AzureML (which evaluates patterns per file, through the pathspec
library), a ``!pattern`` can re-include a file under an excluded directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

AMLIGNORE = ".amlignore"
GITIGNORE = ".gitignore"


class IgnorePatternError(ValueError):
    """A line of an ignore file is not a valid pattern."""

    def __init__(self, line_number: int, line: str, problem: str) -> None:
        self.line_number = line_number
        self.line = line
        super().__init__(f"line {line_number} ({line.strip()!r}): {problem}")


@dataclass(frozen=True)
class IgnoreRules:
    """Compiled rules of one ignore file; ``file`` is None when there is none."""

    file: Path | None
    rules: tuple[tuple[re.Pattern[str], bool], ...] = ()

    def excluded(self, relpath: str) -> bool:
        """True when the file at ``relpath`` (``/``-separated) is left out of the snapshot."""
        verdict = False
        for regex, excludes in self.rules:
            if regex.match(relpath):
                verdict = excludes
        return verdict


def load_rules(source_directory: Path) -> IgnoreRules:
    """The rules for ``source_directory``: ``.amlignore``, else ``.gitignore``, else none.

    Raises:
        IgnorePatternError: for a line that is not a valid pattern (AzureML refuses it too).
    """
    for name in (AMLIGNORE, GITIGNORE):
        candidate = source_directory / name
        if candidate.exists():
            text = candidate.read_text(encoding="utf-8", errors="replace")
            return IgnoreRules(candidate, compile_lines(text.splitlines()))
    return IgnoreRules(None)


def compile_lines(lines: list[str]) -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Each meaningful line as ``(regex, excludes)``; comments and blanks are dropped."""
    rules = []
    for number, line in enumerate(lines, start=1):
        try:
            rule = compile_pattern(line)
        except ValueError as exc:
            raise IgnorePatternError(number, line, str(exc)) from None
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def compile_pattern(line: str) -> tuple[re.Pattern[str], bool] | None:
    """One wildmatch line as ``(regex over the relative path, excludes)``, or None."""
    text = line.lstrip() if line.endswith("\\ ") else line.strip()
    if not text or text.startswith("#") or text == "/":
        return None
    excludes = True
    if text.startswith("!"):
        excludes, text = False, text[1:]
    segments = _normalise(text.split("/"))
    if segments is None:
        return re.compile(r"^.+/.*$"), excludes
    return re.compile(_segments_regex(segments)), excludes


def _normalise(segments: list[str]) -> list[str] | None:
    """Segments rewritten so that every pattern is anchored at the root.

    Returns None for the lone ``**/``, which matches anything below the root.
    """
    directory_only = segments[-1] == ""
    collapsed: list[str] = []
    for seg in segments:
        if not (seg == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(seg)
    if collapsed == ["**", ""]:
        return None
    if collapsed[0] == "":
        collapsed = collapsed[1:]
    elif (len(collapsed) == 1 or (len(collapsed) == 2 and directory_only)) and collapsed[0] != "**":
        collapsed.insert(0, "**")
    if not collapsed:
        raise ValueError("the pattern matches nothing")
    if directory_only and len(collapsed) > 1:
        collapsed[-1] = "**"
    return collapsed


def _segments_regex(segments: list[str]) -> str:
    last = len(segments) - 1
    out = ["^"]
    slash = False
    for index, seg in enumerate(segments):
        if seg == "**":
            if last == 0:
                out.append(r"[^/]+(?:/.*)?")
            elif index == 0:
                out.append(r"(?:.+/)?")
                slash = False
            elif index == last:
                out.append(r"/.*")
            else:
                out.append(r"(?:/.+)?")
                slash = True
            continue
        if slash:
            out.append("/")
        out.append(r"[^/]+" if seg == "*" else glob_to_regex(seg))
        if index == last:
            out.append(r"(?:/.*)?")
        slash = True
    out.append("$")
    return "".join(out)


def glob_to_regex(glob: str) -> str:
    """One path segment's glob as a regex (``*`` and ``?`` never cross ``/``)."""
    out: list[str] = []
    i, end = 0, len(glob)
    while i < end:
        char = glob[i]
        i += 1
        if char == "\\":
            if i >= end:
                raise ValueError("a backslash at the end escapes nothing")
            out.append(re.escape(glob[i]))
            i += 1
        elif char == "*":
            out.append(r"[^/]*")
        elif char == "?":
            out.append(r"[^/]")
        elif char == "[":
            closing = _bracket_end(glob, i)
            if closing < 0:
                out.append(r"\[")
            else:
                out.append(_bracket(glob[i:closing]))
                i = closing + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


def _bracket_end(glob: str, start: int) -> int:
    """Index of the ``]`` closing a bracket opened just before ``start``, or -1."""
    j = start
    if j < len(glob) and glob[j] in "!^":
        j += 1
    if j < len(glob) and glob[j] == "]":
        j += 1
    closing = glob.find("]", j)
    return closing


def _bracket(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    return "[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]"
