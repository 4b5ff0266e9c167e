"""What the sections share: settings of the run, fresh folders, result rows and goals."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from benchmarks.environment import Log, Tools, case_env
from benchmarks.generators import STEP_SCRIPT
from benchmarks.timing import Outcome, Timing, run_command

GoalKind = Literal["ratio_max", "seconds_max", "speedup_min", "value_max"]


@dataclass(frozen=True)
class Goal:
    """A target from issue #6, checked against a row's medians.

    Attributes:
        text: the goal as the table shows it.
        kind: ``ratio_max`` (azml ÷ other at most ``limit``), ``seconds_max``
            (azml's median under ``limit`` seconds) or ``speedup_min`` (other ÷ azml
            at least ``limit``).
        limit: the number.
    """

    text: str
    kind: GoalKind
    limit: float


@dataclass
class Row:
    """One line of the results table: azml's timing against one other timing."""

    section: str
    case: str
    azml_label: str
    azml: Outcome
    other_label: str | None = None
    other: Outcome | None = None
    goal: Goal | None = None
    key: str = ""  # names the case for profiling (see benchmarks.profiling)

    def ratio(self) -> float | None:
        """azml's median ÷ the other's, when both were measured."""
        if isinstance(self.azml, Timing) and isinstance(self.other, Timing) and self.other.median:
            return self.azml.median / self.other.median
        return None

    def goal_met(self) -> bool | None:
        """True/False against the goal; None if there is no goal or no number."""
        if self.goal is None or not isinstance(self.azml, Timing):
            return None
        if self.goal.kind == "seconds_max":
            return self.azml.median < self.goal.limit
        if self.goal.kind == "value_max":  # a measure other than time (Megabytes)
            return self.azml.median <= self.goal.limit
        ratio = self.ratio()
        if ratio is None:
            return None
        if self.goal.kind == "ratio_max":
            return ratio <= self.goal.limit
        return 1 / ratio >= self.goal.limit


@dataclass
class Context:
    """Settings and shared state of one harness run.

    Attributes:
        tools: the commands under test.
        work: this run's scratch folder (every case gets fresh folders inside it).
        fast_reps: repetitions of cases that take well under a second or two.
        slow_reps: repetitions of cases with real compute.
        work_per_second: busy-loop iterations making about 1 s of CPU work.
        log: progress output.
        notes: lines for the notes section of RESULTS.md.
    """

    tools: Tools
    work: Path
    fast_reps: int
    slow_reps: int
    work_per_second: int
    log: Log
    notes: list[str] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=itertools.count)
    _dvc_template: Path | None = None

    def folder(self, name: str) -> Path:
        """A new, empty folder for one run of one case."""
        path = self.work / f"{next(self._counter):03d}-{name}"
        path.mkdir(parents=True)
        return path

    def env(self, folder: Path) -> dict[str, str]:
        """The environment for commands run in ``folder`` (see :func:`case_env`)."""
        return case_env(self.tools, folder, self.work / "xdg-cache")

    def init_dvc(self, root: Path) -> None:
        """Make ``root`` a DVC workspace without git (a copy of one ``dvc init --no-scm``)."""
        if self._dvc_template is None:
            template = self.folder("dvc-template")
            env = self.env(template)
            assert self.tools.dvc is not None
            run_command([self.tools.dvc, "init", "--no-scm", "-q"], cwd=template, env=env,
                        label="dvc init")
            run_command([self.tools.dvc, "config", "core.analytics", "false"], cwd=template,
                        env=env, label="dvc config")
            self._dvc_template = template
        shutil.copytree(self._dvc_template / ".dvc", root / ".dvc")


def calibrate(tools: Tools, folder: Path) -> int:
    """Busy-loop iterations the step script does in one second here (best of 3 probes)."""
    script = folder / "calibrate_step.py"
    script.write_text(STEP_SCRIPT)
    rates = []
    for _ in range(3):
        _, proc = run_command([tools.python, script, "--calibrate", "0.25"], cwd=folder,
                              env=case_env(tools, folder), label="calibration")
        rates.append(int(proc.stdout.strip()))
    return max(rates)
