"""One progress line per environment being built: which steps, what is installed, elapsed.

On a terminal the line is rewritten in place twice a second with the elapsed
time; elsewhere (CI, a file) one line when the build starts and one when it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TextIO

SHOWN_PACKAGES = 4
TICK_SECONDS = 0.5


def describe(key: str, steps: Sequence[str], packages: Sequence[str]) -> str:
    """``environment 3fa2c1d0 for prepare, train: installing 12 packages (torch 2.13.0+cpu, ...)``."""
    users = f" for {', '.join(steps)}" if steps else ""
    shown = ", ".join(packages[:SHOWN_PACKAGES])
    more = ", ..." if len(packages) > SHOWN_PACKAGES else ""
    count = f"{len(packages)} package{'s' if len(packages) != 1 else ''}"
    what = f"{count} ({shown}{more})" if packages else count
    return f"environment {key}{users}: installing {what}"


class Progress:
    """Shows the build of one environment on ``out``."""

    def __init__(self, out: TextIO, key: str, steps: Sequence[str], packages: Sequence[str]) -> None:
        self.out = out
        self.text = describe(key, steps, packages)
        self.start = time.monotonic()
        self._stop = threading.Event()
        self._live = _is_terminal(out)
        self._thread: threading.Thread | None = None
        if self._live:
            self._write(f"{self.text} ...")
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        else:
            self._write(f"{self.text} ...\n")

    def done(self, seconds: float) -> None:
        self._finish(f"{self.text}: ready in {seconds:.1f}s")

    def fail(self) -> None:
        self._finish(f"{self.text}: failed after {time.monotonic() - self.start:.1f}s")

    def _finish(self, line: str) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._write(f"\r\033[K{line}\n")
        else:
            self._write(f"{line}\n")

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self._write(f"\r\033[K{self.text} ... {time.monotonic() - self.start:.0f}s")

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            pass


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
