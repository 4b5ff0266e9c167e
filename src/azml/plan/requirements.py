"""A pip requirements file, read once, as AzureML will receive it.

AzureML builds a step's image from a conda specification whose ``pip:`` list conda
writes out as a requirements file and hands to ``pip install -r``. Every line of
that list therefore means what it means in a requirements file: several
``--extra-index-url`` lines, environment markers and hashes all survive, as long
as the list is sent verbatim (the SDK's ``CondaDependencies.create`` /
``add_pip_package`` / ``set_pip_option`` would deduplicate them; see
:mod:`azml.targets.azureml_v1.builder`).

What cannot be sent is refused here, naming the file and the line: a line the
compute cannot resolve (a local path, an editable install, a ``${VAR}`` from your
shell), a constraints file (``-c``), an unknown option. ``-r`` includes are
followed and inlined, because the included file is not on the compute either.
Comments are dropped and continuation lines joined, as pip reads them.
Standard library only: no azureml import.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azml.errors import ConfigError, ConfigProblem

#: Options that mean the same on the compute, with whether they take a value.
PASSED_OPTIONS: dict[str, bool] = {
    "--index-url": True,
    "--extra-index-url": True,
    "--find-links": True,
    "--trusted-host": True,
    "--pre": False,
    "--prefer-binary": False,
    "--no-binary": True,
    "--only-binary": True,
    "--no-index": False,
}
_LONG = {"-i": "--index-url", "-f": "--find-links", "-r": "--requirement", "-c": "--constraint",
         "-e": "--editable"}
_REFUSED = {
    "--editable": "an editable install needs a local checkout the compute does not have; "
                  "list the package, or a VCS URL without -e",
    "--constraint": "AzureML cannot carry a constraints file; pin the versions in the "
                    "requirements file itself",
}
_INLINE_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_REFERENCE = re.compile(r"\$\{[A-Z0-9_]+\}")
_LOCAL_PREFIXES = ("./", "../", "/", "~", ".\\", "file:")
_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class Requirements:
    """A requirements file as sent.

    Attributes:
        path: the file the step names.
        lines: every requirement and option line in order, ``-r`` files inlined,
            without comments; exactly the ``pip:`` list AzureML gets.
        files: every file read (the given one first) with the SHA-256 of its bytes.
    """

    path: Path
    lines: tuple[str, ...]
    files: tuple[tuple[Path, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "lines": list(self.lines),
                "files": [{"path": str(p), "sha256": d} for p, d in self.files]}


def read_requirements(path: str | Path) -> Requirements:
    """Parse ``path``; ConfigError naming every line AzureML could not carry."""
    start = Path(path).resolve()
    lines: list[str] = []
    files: list[tuple[Path, str]] = []
    problems: list[ConfigProblem] = []
    _read_into(start, lines, files, problems, chain=())
    if problems:
        raise ConfigError(problems)
    return Requirements(start, tuple(lines), tuple(files))


def _read_into(path: Path, lines: list[str], files: list[tuple[Path, str]],
               problems: list[ConfigProblem], chain: tuple[Path, ...]) -> None:
    if path in chain:
        problems.append(ConfigProblem(str(chain[-1]), "", f"-r {path.name}: requirements files "
                                      "include each other (a -r cycle)"))
        return
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        where = str(chain[-1]) if chain else str(path)
        problems.append(ConfigProblem(where, "", f"cannot read requirements file {path} ({reason})"))
        return
    files.append((path, hashlib.sha256(data).hexdigest()))
    for number, line in logical_lines(text):
        where = f"line {number}"
        if not line.startswith("-"):
            problem = _requirement_problem(line)
            if problem:
                problems.append(ConfigProblem(str(path), where, f"'{line}': {problem}"))
            else:
                lines.append(line)
            continue
        try:
            name, value = _split_option(line)
        except ValueError as exc:
            problems.append(ConfigProblem(str(path), where, f"'{line}': {exc}"))
            continue
        if name == "--requirement":
            _read_into((path.parent / value).resolve(), lines, files, problems, chain + (path,))
        else:
            lines.append(f"{name} {value}" if value else name)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, content) with continuations joined and comments removed."""
    result: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        line = _INLINE_COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            result.append((start, line))
    if pending.strip():
        result.append((start, pending.strip()))
    return result


def _requirement_problem(line: str) -> str:
    """Why a requirement line cannot be installed on the compute, or empty."""
    if _ENV_REFERENCE.search(line):
        return ("refers to an environment variable; AzureML builds the image without "
                "your shell's variables, write the value instead")
    spec = line.split(";", 1)[0].strip()
    target = spec.split("@", 1)[1].strip() if "@" in spec and not _URL.match(spec) else spec
    if target.startswith(_LOCAL_PREFIXES) or target in (".", ".."):
        return ("a local path is not on the compute; publish the package to an index "
                "or install it from a URL")
    if not _URL.match(target) and target.lower().endswith(_ARCHIVES):
        return "a local archive is not on the compute; install it from an index or a URL"
    return ""


def _split_option(line: str) -> tuple[str, str]:
    """``(long option name, value)``; ValueError saying what is wrong."""
    try:
        parts = shlex.split(line)
    except ValueError:
        raise ValueError("cannot parse this option line") from None
    head, _, inline_value = parts[0].partition("=")
    name = _LONG.get(head, head)
    value = inline_value or " ".join(parts[1:])
    if name in _REFUSED:
        raise ValueError(_REFUSED[name])
    if name == "--requirement":
        if not value:
            raise ValueError("-r needs a file name")
        return name, value
    if name not in PASSED_OPTIONS:
        known = ", ".join(sorted(PASSED_OPTIONS))
        raise ValueError(f"pip option {head} cannot be carried to AzureML (supported: {known}, -r FILE)")
    takes_value = PASSED_OPTIONS[name]
    if takes_value and not value:
        raise ValueError(f"{name} needs a value")
    if not takes_value and value:
        raise ValueError(f"{name} takes no value")
    if name in ("--index-url", "--extra-index-url", "--find-links") and not _URL.match(value):
        raise ValueError(f"{name} names a local path, which is not on the compute; use an "
                         "http(s) URL")
    return name, value
