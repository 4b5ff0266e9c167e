"""Limits on what a config file may be, checked before anything else reads it.

A config is a small regular file of JSON. These checks turn hostile or broken
input into config errors with a JSON path, where Python would otherwise hang (a
FIFO), exhaust memory (``/dev/zero``), recurse too deep, or fail much later in a
step (a NUL byte in an argument, a lone surrogate that cannot be encoded):

* only regular files, of at most :data:`MAX_CONFIG_BYTES`;
* nesting at most :data:`MAX_DEPTH` deep;
* no NUL character and no unpaired surrogate in any key or string;
* numbers finite, integers within 64 bits (what AzureML's services store).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azml.errors import ConfigError, ConfigProblem

#: A pipeline of 10,000 steps is about 2.5 MB of JSON.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_INT = 2**63 - 1


def read_limited(file: Path) -> bytes:
    """The bytes of ``file`` if it is a regular file within the size limit; else ConfigError."""
    try:
        info = os.stat(file)
    except FileNotFoundError:
        raise ConfigError.single(file, "", "file not found") from None
    except OSError as exc:
        raise ConfigError.single(file, "", f"cannot read the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError.single(file, "", "expected a JSON file, found a directory")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError.single(file, "", "expected a regular file (not a pipe, socket or device)")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError.single(file, "", f"the file is {info.st_size} bytes; a config may have at "
                                 f"most {MAX_CONFIG_BYTES} bytes")
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError.single(file, "", f"cannot read the file ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError.single(file, "", f"a config may have at most {MAX_CONFIG_BYTES} bytes")
    return data


def value_problems(document: Any, file: str) -> list[ConfigProblem]:
    """Every key or value of ``document`` that breaks a limit, with its JSON path."""
    return [ConfigProblem(file, path, message) for path, message in _walk(document)]


def _walk(document: Any) -> Iterator[tuple[str, str]]:
    """(path, problem) for each offending node; iterative, so depth cannot blow the stack."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            yield path, f"nested more than {MAX_DEPTH} levels deep"
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                problem = _text_problem(str(key))
                if problem:
                    yield path, f"a key {problem}"
                    continue
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        else:
            problem = _scalar_problem(value)
            if problem:
                yield path, problem


def _scalar_problem(value: Any) -> str:
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        return "expected an integer that fits in 64 bits"
    if isinstance(value, float) and not math.isfinite(value):
        return "expected a finite number"
    return ""


def _text_problem(text: str) -> str:
    if "\x00" in text:
        return "contains a NUL character, which no command line or environment can carry"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not valid Unicode"
    return ""


def decode(data: bytes, file: Path) -> str:
    """``data`` as UTF-8 text; ConfigError naming the offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError.single(file, "", f"not UTF-8 text (byte {exc.start} cannot be decoded)") from None
