"""Read a pip requirements file the way pip does, for an AzureML environment.

The SDK's ``Environment.from_pip_requirements`` copies every line verbatim into
the conda specification, so comments, inline comments and option lines reach
pip in a form it rejects. This module separates packages from pip options:
packages become ``pip_packages``; index and link options become pip options
(``CondaDependencies.set_pip_option``); ``-r`` files are read in place;
options that cannot work on a remote compute are rejected with one message.
Pure Python: no azureml import.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from azml.errors import ConfigError

#: Options passed through to pip, with whether they take a value.
PIP_OPTIONS: dict[str, bool] = {
    "--index-url": True,
    "-i": True,
    "--extra-index-url": True,
    "--find-links": True,
    "-f": True,
    "--trusted-host": True,
    "--pre": False,
    "--prefer-binary": False,
    "--no-binary": True,
    "--only-binary": True,
    "--no-index": False,
}
#: Short option spellings, normalised to their long form.
_LONG = {"-i": "--index-url", "-f": "--find-links", "-r": "--requirement", "-c": "--constraint",
         "-e": "--editable"}
_REJECTED = {
    "--editable": "an editable install needs a local checkout the compute does not have; "
                  "list the package, or a VCS URL without -e",
    "--constraint": "constraint files are not supported by AzureML environments; "
                    "pin the versions in the requirements file itself",
}
_INLINE_COMMENT = re.compile(r"(^|\s+)#.*$")


@dataclass(frozen=True)
class PipRequirements:
    """What a requirements file asks pip for.

    Attributes:
        packages: requirement specifiers, in file order, without comments.
        pip_options: option lines for pip (``--extra-index-url URL``), deduplicated.
        files: every file read, the given one first, then ``-r`` includes.
    """

    packages: tuple[str, ...]
    pip_options: tuple[str, ...]
    files: tuple[Path, ...]


def read_requirements(path: str | Path) -> PipRequirements:
    """Parse ``path``; ConfigError naming file and line for anything pip-incompatible."""
    packages: list[str] = []
    options: list[str] = []
    files: list[Path] = []
    _read_into(Path(path).resolve(), packages, options, files, chain=())
    return PipRequirements(tuple(packages), tuple(dict.fromkeys(options)), tuple(files))


def _read_into(path: Path, packages: list[str], options: list[str], files: list[Path],
               chain: tuple[Path, ...]) -> None:
    if path in chain:
        raise ConfigError.single(path, "", "requirements files include each other (-r cycle)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError.single(path, "", f"cannot read requirements file ({exc.strerror or exc})") from None
    files.append(path)
    for number, line in _logical_lines(text):
        where = f"line {number}"
        if not line.startswith("-"):
            packages.append(line)
            continue
        name, value = _split_option(path, where, line)
        if name == "--requirement":
            _read_into((path.parent / value).resolve(), packages, options, files, chain + (path,))
        elif name in _REJECTED:
            raise ConfigError.single(path, where, f"'{line}': {_REJECTED[name]}")
        else:
            options.append(f"{name} {value}" if value else name)


def _logical_lines(text: str) -> list[tuple[int, str]]:
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


def _split_option(path: Path, where: str, line: str) -> tuple[str, str]:
    try:
        parts = shlex.split(line)
    except ValueError:
        raise ConfigError.single(path, where, f"cannot parse option line '{line}'") from None
    head, _, inline_value = parts[0].partition("=")
    name = _LONG.get(head, head)
    value = inline_value or " ".join(parts[1:])
    if name in ("--requirement", *_REJECTED):
        if name == "--requirement" and not value:
            raise ConfigError.single(path, where, f"'{line}': -r needs a file name")
        return name, value
    if name not in PIP_OPTIONS and head not in PIP_OPTIONS:
        known = ", ".join(sorted(k for k in PIP_OPTIONS if k.startswith("--")))
        raise ConfigError.single(
            path, where, f"'{line}': pip option {head} is not supported in an AzureML environment "
            f"(supported: {known}, -r FILE)")
    takes_value = PIP_OPTIONS.get(name, PIP_OPTIONS.get(head, False))
    if takes_value and not value:
        raise ConfigError.single(path, where, f"'{line}': {name} needs a value")
    if not takes_value and value:
        raise ConfigError.single(path, where, f"'{line}': {name} takes no value")
    return name, value
