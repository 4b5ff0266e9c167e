"""Timing whole commands as subprocesses, and the outcome of a measured case.

Every measurement is ``time.perf_counter()`` around ``subprocess.run`` of a whole
command. A command that fails raises :class:`CaseError` with its exit code and the
end of its stderr, so a broken case shows as failed, never as a fast number.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

#: Longest any single timed command may take before the case is called failed.
COMMAND_TIMEOUT = 120.0


class CaseError(Exception):
    """A command of a case failed or its result was wrong; the case is aborted."""


@dataclass
class Timing:
    """Wall-clock seconds of the repetitions of one command."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def describe(self) -> str:
        """``1.23 s (1.20–1.31, n=5)``."""
        if len(self.samples) == 1:
            return f"{fmt_seconds(self.median)} (n=1)"
        return (f"{fmt_seconds(self.median)} ({fmt_seconds(self.low, unit=False)}–"
                f"{fmt_seconds(self.high, unit=False)}, n={len(self.samples)})")


@dataclass
class Megabytes(Timing):
    """Peak resident memory (MB) of the repetitions of one command, not seconds."""

    def describe(self) -> str:
        """``85 MB (80–90, n=2)``."""
        if len(self.samples) == 1:
            return f"{self.median:.0f} MB peak RSS (n=1)"
        return (f"{self.median:.0f} MB peak RSS ({self.low:.0f}–{self.high:.0f}, "
                f"n={len(self.samples)})")


@dataclass(frozen=True)
class Unavailable:
    """A measurement that could not be made here, and why (``n/a (reason)``)."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """A measurement aborted by a failing command."""

    message: str


@dataclass(frozen=True)
class Pending:
    """A measurement waiting for something not in the repository yet."""

    reason: str


Outcome = Union[Timing, Unavailable, Failed, Pending]
#: Does one timed run (its argument is the round index) and returns its seconds.
Runner = Callable[[int], float]


def fmt_seconds(seconds: float, unit: bool = True) -> str:
    """Seconds with 3 significant digits (``0.123``, ``1.23``, ``12.3``)."""
    if seconds >= 100:
        text = f"{seconds:.0f}"
    elif seconds >= 10:
        text = f"{seconds:.1f}"
    elif seconds >= 1:
        text = f"{seconds:.2f}"
    else:
        text = f"{seconds:.3f}"
    return f"{text} s" if unit else text


def describe(outcome: Outcome | None) -> str:
    """How an outcome reads in the results table."""
    if outcome is None:
        return "—"
    if isinstance(outcome, Timing):
        return outcome.describe()
    if isinstance(outcome, Unavailable):
        return f"n/a ({outcome.reason})"
    if isinstance(outcome, Pending):
        return f"pending ({outcome.reason})"
    return f"**failed**: {outcome.message}"


def run_command(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    label: str,
    timeout: float = COMMAND_TIMEOUT,
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``argv`` to completion; return its wall time and result.

    Raises:
        CaseError: the command could not start, timed out or exited non-zero.
    """
    args = [str(a) for a in argv]
    start = time.perf_counter()
    try:
        proc = subprocess.run(args, cwd=cwd, env=dict(env), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise CaseError(f"{label}: cannot start `{args[0]}` ({exc.strerror})") from None
    except subprocess.TimeoutExpired:
        raise CaseError(f"{label}: `{short_command(args)}` took over {timeout:.0f} s") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise CaseError(f"{label}: `{short_command(args)}` exited {proc.returncode}: "
                        f"{last_lines(proc.stderr or proc.stdout)}")
    return elapsed, proc


def short_command(args: Sequence[str], limit: int = 120) -> str:
    """The command line, shortened for a message."""
    text = shlex.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(args))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def last_lines(text: str, lines: int = 2, limit: int = 300) -> str:
    """The last non-empty lines of ``text``, on one line, for a table cell."""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    joined = " / ".join(kept) or "(no output)"
    joined = joined.replace("|", "\\|")
    return joined if len(joined) <= limit else "…" + joined[-(limit - 1):]


def measure_interleaved(
    repetitions: int,
    runners: Mapping[str, Callable[[int], float]],
) -> dict[str, Outcome]:
    """Run each runner ``repetitions`` times, alternating between them.

    Alternating (A, B, C, A, B, C...) spreads any drift of the machine over all
    contenders. A runner that raises :class:`CaseError` is dropped from later
    rounds and reported as :class:`Failed`; the others go on.

    Args:
        repetitions: rounds to run.
        runners: name -> function of the round index returning seconds.
    """
    timings: dict[str, Timing] = {name: Timing() for name in runners}
    failed: dict[str, Failed] = {}
    for index in range(repetitions):
        for name, runner in runners.items():
            if name in failed:
                continue
            try:
                timings[name].samples.append(runner(index))
            except CaseError as exc:
                failed[name] = Failed(str(exc))
    return {name: failed.get(name, timings[name]) for name in runners}


def measure(repetitions: int, runners: Mapping[str, Runner | Outcome],
            warmup: bool = False) -> dict[str, Outcome]:
    """Measure the runners, interleaved; entries that are already outcomes pass through.

    Args:
        repetitions: timed rounds.
        runners: name -> runner, or an outcome decided beforehand (n/a, pending).
        warmup: run every runner once untimed first (one failing then is reported
            failed and not timed).
    """
    live = {k: v for k, v in runners.items() if callable(v)}
    results: dict[str, Outcome] = {k: v for k, v in runners.items() if not callable(v)}
    if warmup and live:
        for name, outcome in measure_interleaved(1, live).items():
            if isinstance(outcome, Failed):
                results[name] = outcome
                del live[name]
    if live:
        results.update(measure_interleaved(repetitions, live))
    return {k: results[k] for k in runners}
