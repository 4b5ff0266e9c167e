"""What ``azml run`` shows while it runs: a live table on a terminal, plain lines elsewhere.

On a terminal (``out.isatty()``) one row per step (status, elapsed time, last
log line) is redrawn in place with ANSI cursor movements; anywhere else (CI,
files) every change is one plain line with a timestamp. Both end with the same
summary. Every line passes through the settings' redaction, so no secret value
is ever printed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from azml.targets.local.model import OK, LocalRun, Status, StepRun

REDRAW_SECONDS = 0.2
_SYMBOL: dict[str, str] = {Status.NOT_STARTED: "·", Status.QUEUED: "…", Status.RUNNING: "▶",
           Status.COMPLETED: "✔", Status.REUSED: "↺", Status.FAILED: "✘", Status.CANCELED: "■"}


class Display:
    """Progress output of one run."""

    def __init__(self, out: TextIO, redact: Callable[[str], str], steps: list[StepRun]) -> None:
        self.out = out
        self.redact = redact
        self.steps = steps
        self.live = _isatty(out)
        self._drawn = 0
        self._last_draw = 0.0
        self.tails: dict[str, Callable[[], str]] = {}
        self.broken = False
        #: sentences for the run summary's end (each once)
        self.notes: list[str] = []

    def write(self, text: str) -> None:
        self._clear()
        self._emit(self.redact(text) + "\n")
        self._draw(force=True)

    def _emit(self, text: str) -> None:
        """Write to ``out``; a closed or broken output never stops the run."""
        if self.broken:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            self.broken = True

    def header(self, run: LocalRun, run_dir: str) -> None:
        self.write(f"azml: local run {run.run_id} (experiment {run.experiment}), "
                   f"{len(run.steps)} step{'s' if len(run.steps) != 1 else ''}; files in {run_dir}")

    def event(self, step: StepRun, detail: str = "") -> None:
        """A step changed status."""
        live_only = (Status.COMPLETED, Status.NOT_STARTED)
        if step.status == Status.QUEUED or (self.live and step.status in live_only):
            self._draw(force=True)
            return
        stamp = time.strftime("%H:%M:%S")
        text = f"{stamp} {step.id}: {step.status}"
        extra = detail or step.reason
        if extra:
            text += f" ({extra})"
        if step.status == Status.FAILED and step.log:
            text += f"; log: {step.log}"
        self.write(text)

    def warn(self, message: str) -> None:
        self.write(f"warning: {message}")

    def note(self, message: str) -> None:
        """A sentence the run summary ends with."""
        if message not in self.notes:
            self.notes.append(message)

    def tick(self) -> None:
        self._draw(force=False)

    def summary(self, run: LocalRun) -> None:
        self._draw(force=True)
        self._drawn = 0
        took = f" in {run.ended - run.started:.1f}s" if run.started and run.ended else ""
        counts: dict[str, int] = {}
        for step in run.steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        tally = ", ".join(f"{n} {s}" for s, n in counts.items())
        lines = [f"Run {run.run_id} {run.status}{took} ({tally})"]
        for step in run.steps:
            lines.append(f"  {step.id:<16} {step.status:<10} {step.step_run_id}")
            if step.status not in OK and step.reason:
                lines.append(f"      {step.reason}")
            for name, path in step.outputs.items():
                lines.append(f"      output {name}: {path}")
        lines.append(f"Logs: azml logs {run.run_id} [--step STEP]")
        lines += [f"Note: {note}" for note in self.notes]
        self._emit(self.redact("\n".join(lines)) + "\n")

    # -- live table ----------------------------------------------------------------

    def _rows(self) -> list[str]:
        """One row per step, or, for more steps than the terminal has lines, the active
        and failed steps and a tally of the rest (a redraw costs the same at any size)."""
        size = shutil.get_terminal_size((100, 20))
        width, room = size.columns, max(4, size.lines - 2)
        steps = self.steps
        if len(steps) > room:
            active = [s for s in steps if s.status in (Status.RUNNING, Status.QUEUED, Status.FAILED)]
            steps = active[: room - 1]
        now = time.time()
        rows = []
        for step in steps:
            elapsed = ""
            if step.started:
                elapsed = _clock((step.ended or now) - step.started)
            tail = self.tails[step.id]() if step.status == Status.RUNNING and step.id in self.tails else ""
            tail = tail or (step.reason if step.status != Status.RUNNING else "")
            row = f" {_SYMBOL.get(step.status, '?')} {step.id:<16} {step.status:<10} {elapsed:>6}  {tail}"
            rows.append(self.redact(row)[: max(20, width - 1)])
        if len(steps) < len(self.steps):
            counts: dict[str, int] = {}
            for step in self.steps:
                counts[step.status] = counts.get(step.status, 0) + 1
            tally = ", ".join(f"{n} {status}" for status, n in counts.items())
            rows.append(f"   {len(self.steps)} steps: {tally}"[: max(20, width - 1)])
        return rows

    def _draw(self, force: bool) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_SECONDS:
            return
        self._last_draw = now
        self._clear()
        rows = self._rows()
        self._emit("".join(f"\x1b[2K{row}\n" for row in rows))
        self._drawn = len(rows)

    def _clear(self) -> None:
        if self.live and self._drawn:
            self._emit(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _isatty(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False
