"""The ``.amlignore`` / ``.gitignore`` rules AzureML applies to a snapshot.

AzureML v1 reads one ignore file at the root of the source directory: ``.amlignore``
if it exists, else ``.gitignore``; nested ignore files are not read and nothing is
excluded by default (``azureml/_project/ignore_file.py``: ``get_project_ignore_file``).
It matches each file's path relative to the source directory with
``pathspec.PathSpec.from_lines('gitwildmatch', lines).match_file(path)``; so does
this module, with the same library (pinned below 1.0, as azureml-core needs).
Evaluating per file, the last matching pattern decides, so a ``!pattern`` can
re-include a file under an excluded directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pathspec

AMLIGNORE = ".amlignore"
GITIGNORE = ".gitignore"
STYLE = "gitwildmatch"


class IgnorePatternError(ValueError):
    """A line of an ignore file is not a valid pattern."""

    def __init__(self, line_number: int, line: str, problem: str) -> None:
        self.line_number = line_number
        self.line = line
        super().__init__(f"line {line_number} ({line.strip()!r}): {problem}")


@dataclass(frozen=True)
class IgnoreRules:
    """The rules of one ignore file; ``file`` is None (and ``spec`` too) when there is none."""

    file: Path | None
    spec: pathspec.PathSpec | None = None

    def excluded(self, relpath: str) -> bool:
        """True when the file at ``relpath`` (``/``-separated) is left out of the snapshot."""
        return self.spec is not None and bool(self.spec.match_file(relpath))


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


def compile_lines(lines: list[str]) -> pathspec.PathSpec:
    """The lines as one spec; IgnorePatternError names the first invalid line."""
    import pathspec  # only when a source directory has an ignore file (it takes ~20 ms)

    try:
        return pathspec.PathSpec.from_lines(STYLE, lines)
    except ValueError:
        for number, line in enumerate(lines, start=1):
            try:
                compile_pattern(line)
            except ValueError as exc:
                raise IgnorePatternError(number, line, str(exc)) from None
        raise


def compile_pattern(line: str) -> pathspec.PathSpec:
    """One line as a spec (ValueError if it is not a valid pattern)."""
    import pathspec

    return pathspec.PathSpec.from_lines(STYLE, [line])
