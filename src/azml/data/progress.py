"""A one-line progress display for pulls and pushes: files, bytes, MB/s.

On a terminal the line is redrawn in place at most five times a second; anywhere
else (CI, a log file, a pipe) nothing is shown while transferring, and the caller
prints one summary line at the end. Thread-safe: transfer threads report bytes.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

REDRAW_SECONDS = 0.2


class Progress:
    """Counts files and bytes done out of a known total."""

    def __init__(self, out: TextIO | None, label: str, files: int, total_bytes: int) -> None:
        self.out = out
        self.label = label
        self.files = files
        self.total_bytes = total_bytes
        self.files_done = 0
        self.bytes_done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._last = 0.0
        self._drawn = False
        self.live = bool(out is not None and _isatty(out))

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes_done += count
        self._maybe_draw()

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1
        self._maybe_draw()

    def close(self) -> None:
        """Erase the live line, so the caller's summary starts on a clean line."""
        if self.live and self._drawn and self.out is not None:
            self._write("\r\033[K")

    def rate(self) -> float:
        """Bytes per second since the start."""
        return self.bytes_done / max(time.monotonic() - self.started, 1e-6)

    def _maybe_draw(self) -> None:
        if not self.live:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < REDRAW_SECONDS:
                return
            self._last = now
            line = (f"{self.label}: {self.files_done}/{self.files} files, "
                    f"{mb(self.bytes_done)}/{mb(self.total_bytes)}, {mb(int(self.rate()))}/s")
        self._drawn = True
        self._write("\r\033[K" + line)

    def _write(self, text: str) -> None:
        assert self.out is not None
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            self.live = False


def mb(count: int) -> str:
    """Bytes as MB with one decimal (decimal megabytes, as storage tools show them)."""
    return f"{count / 1e6:.1f} MB"


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
