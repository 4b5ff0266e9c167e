"""``azml store repair``: rebuild a damaged run store without losing the history of runs.

Steps, under the store's lock:

1. If the store passes SQLite's ``quick_check``, nothing is done.
2. The damaged file (with its ``-wal`` and ``-shm``) is moved aside as
   ``azml.db.damaged-<time>``; it is never deleted.
3. What SQLite can still read of it is salvaged: runs and step runs read in
   rowid ranges, skipping unreadable stretches, and the stored manifests.
4. A fresh store is created; the salvaged rows go in, then every run folder
   under ``runs/`` adds what the salvage missed: its ``run.json`` (written when
   the run ended) or, without one, what the folder shows (steps, logs, outputs).

The file index is a cache and is rebuilt by the next run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from azml.targets.local import store as store_module
from azml.targets.local.model import Status
from azml.targets.local.store import DB_NAME, RUN_RECORD, Store
from azml.targets.local.workspace import PUBLISHED, STEP_LOG

Rows = list[dict[str, Any]]


def repair_store(home: Path) -> str:
    """Repair the store under ``home``; a sentence says what was done."""
    path = home / DB_NAME
    if store_module.is_healthy(path):
        return f"the run store {path} is healthy; nothing to repair"
    with store_module.init_lock(home):  # no other azml may open it meanwhile
        aside = _move_aside(path)
    runs, steps, manifests = store_module.salvage(aside) if aside is not None else ([], [], [])
    fresh = Store(home)
    try:
        fresh.import_rows(runs, steps, manifests)
        known = {r["run_id"] for r in runs}
        from_folders = [record for record in folder_records(home / "runs")
                        if record[0]["run_id"] not in known]
        fresh.import_rows([r for r, _ in from_folders], [s for _, ss in from_folders for s in ss])
        total = len(fresh.runs())
    finally:
        fresh.close()
    kept = f"; the damaged file is kept as {aside}" if aside is not None else ""
    return (f"repaired the run store {path}: {len(runs)} runs salvaged from the damaged file, "
            f"{len(from_folders)} rebuilt from run folders, {total} runs listed now{kept}")


def _move_aside(path: Path) -> Path | None:
    if not path.exists():
        return None
    aside = path.with_name(f"{DB_NAME}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            part.rename(Path(str(aside) + suffix))
    return aside


def folder_records(runs_root: Path) -> list[tuple[dict[str, Any], Rows]]:
    """``(run row, step rows)`` for every run folder: from ``run.json``, else from the files."""
    records: list[tuple[dict[str, Any], Rows]] = []
    if not runs_root.is_dir():
        return records
    for run_dir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
        record = _read_record(run_dir / RUN_RECORD)
        records.append(record if record is not None else _infer(run_dir))
    return records


def _read_record(path: Path) -> tuple[dict[str, Any], Rows] | None:
    try:
        data = json.loads(path.read_text())
        return dict(data["run"]), [dict(s) for s in data["steps"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _infer(run_dir: Path) -> tuple[dict[str, Any], Rows]:
    """A run without a record (it never ended): Failed, each step as its folder shows it."""
    run_id = run_dir.name
    reason = "rebuilt from its run folder by azml store repair; how it ended was not recorded"
    started = run_dir.stat().st_mtime
    steps: Rows = []
    for position, step_dir in enumerate(sorted(p for p in run_dir.iterdir() if p.is_dir())):
        published = step_dir / PUBLISHED
        outputs = {p.name: str(p) for p in sorted(published.iterdir())} if published.is_dir() else {}
        log = step_dir / STEP_LOG
        steps.append({
            "step_run_id": f"{run_id}.{step_dir.name}", "run_id": run_id, "step_id": step_dir.name,
            "name": step_dir.name, "position": position,
            "status": Status.COMPLETED if published.is_dir() else Status.FAILED,
            "reason": "" if published.is_dir() else reason, "log": str(log) if log.exists() else None,
            "outputs": json.dumps(outputs)})
    run = {"run_id": run_id, "experiment": "", "config": "", "status": Status.FAILED,
           "reason": reason, "started": started, "ended": started, "run_dir": str(run_dir)}
    return run, steps
