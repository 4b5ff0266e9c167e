"""Logging set-up, input errors and the ``main`` wrapper used by every step."""

from __future__ import annotations

import logging
import logging.config
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

#: The fileConfig-style logging configuration shipped next to the scripts.
LOGGING_CONF = Path(__file__).resolve().parent.parent / "logging.conf"


class InputError(Exception):
    """Bad input given to a step: a missing file, a wrong shape, a bad option."""


def setup_logging(level: int | None = None) -> None:
    """Load ``logging.conf`` (stdout handler), falling back to ``basicConfig``.

    Args:
        level: if given, the root logger's level after loading (used to quiet
            non-zero ranks).
    """
    if LOGGING_CONF.is_file():
        logging.config.fileConfig(LOGGING_CONF, disable_existing_loggers=False)
    else:  # pragma: no cover - the file ships with the scripts
        logging.basicConfig(stream=sys.stdout, level=logging.INFO)
    if level is not None:
        logging.getLogger().setLevel(level)


def run_main(name: str, body: Callable[[Sequence[str] | None], int],
             argv: Sequence[str] | None = None) -> int:
    """Run a step's body, turning input errors into a logged message and exit code 2.

    Args:
        name: logger name used for the error message.
        body: the step's real ``main``; returns the exit code.
        argv: arguments (without the program name); ``None`` means ``sys.argv[1:]``.

    Returns:
        The process exit code: the body's, or 2 on :class:`InputError`.
    """
    try:
        return body(argv)
    except InputError as exc:
        logging.getLogger(name).error("error: %s", exc)
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is an existing directory, else raise :class:`InputError`."""
    if not path.is_dir():
        raise InputError(f"{what} directory not found: {path}")
    return path


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is an existing file, else raise :class:`InputError`."""
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    return path
