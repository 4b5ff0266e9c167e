"""Records of local runs as callers see them, and their JSON shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3


class Status(StrEnum):
    """The status of a run or a step run (AzureML's names); stored as its text."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    REUSED = "Reused"
    FAILED = "Failed"
    CANCELED = "Canceled"


#: Not yet ended.
ACTIVE = (Status.NOT_STARTED, Status.QUEUED, Status.RUNNING)
#: Ended.
FINAL = (Status.COMPLETED, Status.REUSED, Status.FAILED, Status.CANCELED)
#: Ended well: what downstream steps need.
OK = (Status.COMPLETED, Status.REUSED)


def iso(timestamp: float | None) -> str | None:
    """Seconds since the epoch as local ISO 8601 time with offset; None stays None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


@dataclass
class StepRun:
    """One step of a local run.

    Attributes:
        id: the step id in the config.
        step_run_id: this run of the step (also its ``AZUREML_RUN_ID``).
        outputs: output name to local path (a reused step shows the reused paths).
        log: the step's combined log file, once it has one.
    """

    id: str
    step_run_id: str
    name: str
    status: str = Status.NOT_STARTED
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    log: str | None = None
    exit_code: int | None = None
    started: float | None = None
    ended: float | None = None
    reused_from: str | None = None
    type: str = "PythonScriptStep"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step_run_id": self.step_run_id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "outputs": dict(self.outputs),
            "log": self.log,
            "exit_code": self.exit_code,
            "started": iso(self.started),
            "ended": iso(self.ended),
            "reused_from": self.reused_from,
        }


@dataclass
class LocalRun:
    """A local pipeline run: ``status`` is Running, Completed, Failed or Canceled."""

    run_id: str
    status: str
    experiment: str
    steps: list[StepRun]
    started: float | None = None
    ended: float | None = None
    config: str = ""
    reason: str = ""

    def step(self, step_id: str) -> StepRun:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "experiment": self.experiment,
            "config": self.config,
            "reason": self.reason,
            "started": iso(self.started),
            "ended": iso(self.ended),
            "steps": [s.to_dict() for s in self.steps],
        }


def from_rows(run: sqlite3.Row, steps: Sequence[sqlite3.Row]) -> LocalRun:
    """A :class:`LocalRun` from store rows."""
    return LocalRun(
        run_id=run["run_id"],
        status=run["status"],
        experiment=run["experiment"] or "",
        config=run["config"] or "",
        reason=run["reason"] or "",
        started=run["started"],
        ended=run["ended"],
        steps=[
            StepRun(
                id=s["step_id"], step_run_id=s["step_run_id"], name=s["name"] or s["step_id"],
                status=s["status"], reason=s["reason"] or "",
                outputs=json.loads(s["outputs"]) if s["outputs"] else {},
                log=s["log"], exit_code=s["exit_code"], started=s["started"], ended=s["ended"],
                reused_from=s["reused_from"], type=s["type"] or "PythonScriptStep",
            )
            for s in steps
        ],
    )
