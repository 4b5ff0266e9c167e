"""The progress display: plain lines for logs and CI, a redrawn table on a terminal."""

from __future__ import annotations

import io

from azml.targets.local.display import Display
from azml.targets.local.model import LocalRun, StepRun


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _steps() -> list[StepRun]:
    return [StepRun("prep", "r.prep", "prep"), StepRun("train", "r.train", "train")]


def _redact(text: str) -> str:
    return text.replace("hunter2", "***")


def test_plain_lines_with_reasons_and_redaction() -> None:
    out = io.StringIO()
    steps = _steps()
    display = Display(out, _redact, steps)
    steps[0].status, steps[0].reason = "Running", "first run"
    display.event(steps[0])
    steps[0].status = "Queued"
    display.event(steps[0])  # not shown: too chatty
    steps[1].status, steps[1].reason, steps[1].log = "Failed", "exit code 1: bad hunter2", "/x/step.log"
    display.event(steps[1])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("prep: Running (first run)")
    assert lines[1].endswith("train: Failed (exit code 1: bad ***); log: /x/step.log")
    assert "\x1b[" not in out.getvalue()


def test_terminal_table_is_redrawn_in_place() -> None:
    out = Terminal()
    steps = _steps()
    display = Display(out, _redact, steps)
    steps[0].status, steps[0].started = "Running", 1.0
    display.tails["prep"] = lambda: "epoch 3 loss hunter2"
    display.event(steps[0])
    steps[0].status, steps[0].ended = "Completed", 5.0
    display.event(steps[0])
    text = out.getvalue()
    assert "\x1b[2F\x1b[J" in text  # cursor back up over the two rows, then redraw
    assert "epoch 3 loss ***" in text and "hunter2" not in text
    run = LocalRun("r", "Completed", "local", steps, started=0.0, ended=5.0)
    display.summary(run)
    assert out.getvalue().rstrip().endswith("Logs: azml logs r [--step STEP]")


def test_broken_output_never_stops_the_run() -> None:
    out = io.StringIO()
    display = Display(out, _redact, _steps())
    out.close()
    display.write("still fine")
    display.summary(LocalRun("r", "Completed", "local", _steps()))
    assert display.broken


def test_a_table_taller_than_the_terminal_shows_active_steps_and_a_tally(monkeypatch) -> None:
    import os

    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=None: os.terminal_size((100, 12)))
    steps = [StepRun(f"s{i}", f"r.s{i}", f"s{i}") for i in range(500)]
    for step in steps[:200]:
        step.status = "Completed"
    steps[200].status, steps[200].started = "Running", 1.0
    display = Display(Terminal(), _redact, steps)
    rows = display._rows()
    assert len(rows) <= 10
    assert "s200" in rows[0] and rows[-1].strip() == "500 steps: 200 Completed, 1 Running, 299 NotStarted"
