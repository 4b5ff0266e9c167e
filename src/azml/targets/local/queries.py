"""``azml status``, ``azml logs`` and ``azml cancel`` on local runs.

Each call first marks Failed the runs whose orchestrator died (and stops what
they left running), so a killed ``azml run`` never shows as Running forever.

Cancelling works across processes in two ways at once: the request is written
to the store, where the orchestrator polls for it (it stops the step, marks it
Canceled and leaves its dependents NotStarted), and the canceller itself stops
the step's processes through the step's guard, which ends the whole tree
(SIGTERM, SIGKILL after a grace period). If the orchestrator is gone, the
canceller records the outcome itself.

On a read-only checkout the store opens read-only: status and logs work,
nothing is written (dead runs are not marked).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, TextIO

from azml.errors import RunNotFoundError, StepNotFoundError
from azml.settings import Settings
from azml.targets.local import procs
from azml.targets.local.logs import copy_log, follow_log, tail_offset
from azml.targets.local.model import ACTIVE, Status, from_rows
from azml.targets.local.store import DB_NAME, Store
from azml.targets.parallel_logs import parallel_logs

SETTLE_SECONDS = 5.0


def _open(settings: Settings, run_id: str | None) -> Store | None:
    if not (settings.azml_home / DB_NAME).exists():
        if run_id is not None:
            raise RunNotFoundError(run_id, f"local runs ({settings.azml_home})")
        return None
    store = Store(settings.azml_home)
    store.reap_orphans()
    return store


def _run_row(store: Store, run_id: str, settings: Settings) -> sqlite3.Row:
    row = store.run(run_id)
    if row is None:
        raise RunNotFoundError(run_id, f"local runs ({settings.azml_home})")
    return row


def run_status(settings: Settings, run_id: str | None = None) -> list[dict[str, Any]] | dict[str, Any]:
    """All local runs, newest first, or the run ``run_id`` (RunNotFoundError if unknown)."""
    store = _open(settings, run_id)
    if store is None:
        return []
    try:
        if run_id is None:
            return [_redacted(from_rows(r, store.steps(r["run_id"])).to_dict(), settings)
                    for r in store.runs()]
        row = _run_row(store, run_id, settings)
        return _redacted(from_rows(row, store.steps(run_id)).to_dict(), settings)
    finally:
        store.close()


def _redacted(run: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The run with secret values masked in its free-text fields."""
    run["reason"] = settings.redact(run["reason"])
    for step in run["steps"]:
        step["reason"] = settings.redact(step["reason"])
    return run


def find_step(steps: list[sqlite3.Row], run_id: str, wanted: str) -> sqlite3.Row:
    """The step named by config id, step run id or display name."""
    for key in ("step_id", "step_run_id"):
        for row in steps:
            if row[key] == wanted:
                return row
    named = [row for row in steps if row["name"] == wanted]
    if len(named) == 1:
        return named[0]
    raise StepNotFoundError(run_id, wanted, [row["step_id"] for row in steps])


def stream_logs(
    settings: Settings, run_id: str, *, step: str | None = None, follow: bool = False,
    tail: int | None = None, all_logs: bool = False, out: TextIO,
) -> None:
    """Write the logs of one step, or of every step, of a local run to ``out``.

    ``tail`` keeps the last N lines of each log; ``follow`` goes on until the step ends.
    A parallel step's log is followed by its batch driver's logs, as on AzureML (see
    :func:`_write_parallel_logs`). Memory does not depend on the logs' size.
    """
    store = _open(settings, run_id)
    assert store is not None
    try:
        _run_row(store, run_id, settings)
        steps = store.steps(run_id)
        chosen = [find_step(steps, run_id, step)] if step else steps
        for row in chosen:
            if len(chosen) > 1:
                out.write(f"=== {row['step_id']} ({row['name']}) {row['status']} ===\n")
            row = _write_step_log(store, row, follow, tail, out, settings)
            if row["log"]:
                _write_parallel_logs(Path(row["log"]).parent, tail, all_logs, out, settings)
    finally:
        store.close()


def _write_step_log(store: Store, row: sqlite3.Row, follow: bool, tail: int | None,
                    out: TextIO, settings: Settings) -> sqlite3.Row:
    """Write one step's log; returns the step's row as last read (its log may have been
    unknown until the step started)."""
    while follow and not row["log"] and row["status"] in ACTIVE:
        time.sleep(0.25)  # following a step that has not started yet: wait for it
        store.reap_orphans()
        fresh = store.step(row["step_run_id"])
        if fresh is None:
            return row
        row = fresh
    if not row["log"]:
        out.write(f"(no log: step {row['status']}{': ' + row['reason'] if row['reason'] else ''})\n")
        return row
    log = Path(row["log"])
    if row["status"] == Status.REUSED:
        out.write(f"(reused {row['reused_from']}; its log follows)\n")
    start = tail_offset(log, tail) if tail is not None and log.exists() else 0
    if not follow:
        copy_log(log, out, settings.redact, start)
        return row

    def finished() -> bool:
        store.reap_orphans()
        fresh = store.step(row["step_run_id"])
        return fresh is None or fresh["status"] not in ACTIVE

    follow_log(log, finished, out, settings.redact, start)
    return row


def _write_parallel_logs(step_dir: Path, tail: int | None, everything: bool, out: TextIO,
                         settings: Settings) -> None:
    """The files of a parallel step's ``logs/`` folder that ``azml logs`` shows for it on
    AzureML, in the same order and under the same names (:func:`parallel_logs`): the local
    batch driver writes AzureML's layout there. Nothing for any other step."""
    folder = step_dir / "logs"
    if not folder.is_dir():
        return
    names = [path.relative_to(step_dir).as_posix() for path in folder.rglob("*") if path.is_file()]
    for name in parallel_logs(names, everything=everything):
        path = step_dir / name
        out.write(f"\n==> {name} <==\n")
        copy_log(path, out, settings.redact, tail_offset(path, tail) if tail is not None else 0)


def cancel_local(settings: Settings, run_id: str, *, step_id: str | None = None) -> str:
    """Cancel a local run, or one of its steps; a one-line sentence says what happened."""
    store = _open(settings, run_id)
    assert store is not None
    try:
        run = _run_row(store, run_id, settings)
        steps = store.steps(run_id)
        target = find_step(steps, run_id, step_id) if step_id else None
        if run["status"] not in ACTIVE:
            what = f"step {target['step_id']} of run {run_id}" if target else f"run {run_id}"
            return f"{what} already ended ({run['status']}); nothing to cancel"
        if target is not None and target["status"] not in ACTIVE:
            return (f"step {target['step_id']} of run {run_id} already ended "
                    f"({target['status']}); nothing to cancel")
        store.request_cancel(run_id, target["step_run_id"] if target is not None else None)
        victims = [target] if target is not None else steps
        _stop([v for v in victims if v["status"] == Status.RUNNING])
        _settle(store, run, target)
    finally:
        store.close()
    if target is not None:
        return (f"canceled step {target['step_id']} ({target['step_run_id']}) of run {run_id}; "
                "its dependents will not start")
    return f"canceled run {run_id}"


def _stop(rows: list[sqlite3.Row]) -> None:
    """End every process of the given step runs (through their guards)."""
    for row in rows:
        procs.stop_step(row["step_run_id"], row["pid"], row["pid_start"])


def _settle(store: Store, run: sqlite3.Row, target: sqlite3.Row | None) -> None:
    """Wait for the orchestrator to record the cancel; record it here if it is gone."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if not procs.is_alive(run["orchestrator_pid"], run["orchestrator_start"]):
            break
        if _recorded(store, run["run_id"], target):
            return
        time.sleep(0.05)
    if procs.is_alive(run["orchestrator_pid"], run["orchestrator_start"]):
        return
    store.record_cancel(run["run_id"], target["step_run_id"] if target is not None else None)


def _recorded(store: Store, run_id: str, target: sqlite3.Row | None) -> bool:
    if target is not None:
        status = store.step_status(target["step_run_id"])
    else:
        status = store.run_status(run_id)
    return status is not None and status not in ACTIVE
