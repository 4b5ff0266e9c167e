"""Reading the local MLflow store's SQLite file directly (read-only, no server, no MLflow).

``azml status``, ``azml metrics`` and ``azml models`` must answer in well under a
second; starting the tracking server (or importing MLflow) takes seconds. The
tables read here (``experiments``, ``runs``, ``tags``, ``metrics``,
``latest_metrics``, ``registered_models``, ``model_versions``, ``model_version_tags``)
and their columns are those of MLflow's SQLAlchemy store; tests create the file
with the installed MLflow and read it back through this module, so a schema change
fails the suite rather than a user's command.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from azml.errors import TrackingUnavailable

STEP_RUN_TAG = "azml.step_run_id"
AZML_RUN_TAG = "azml.run_id"
PARENT_TAG = "mlflow.parentRunId"


def _query(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    if not db.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)) as conn:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, args))
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return []
        raise TrackingUnavailable(f"tracking store {db} cannot be read: {exc}") from None


def latest_metrics(db: Path, step_run_id: str) -> dict[str, float]:
    """Latest value of each metric of the step run ``step_run_id`` (azml's id)."""
    rows = _query(db, "SELECT m.key, m.value FROM latest_metrics m JOIN tags t ON "
                      "t.run_uuid = m.run_uuid WHERE t.key = ? AND t.value = ? ORDER BY m.key",
                  (STEP_RUN_TAG, step_run_id))
    return {r["key"]: float(r["value"]) for r in rows}


def step_runs(db: Path, local_run_id: str) -> list[dict[str, Any]]:
    """The step (child) runs of local run ``local_run_id``, in start order, with metrics."""
    rows = _query(db, "SELECT r.run_uuid, r.name, r.status, r.start_time, "
                      "(SELECT value FROM tags WHERE run_uuid = r.run_uuid AND key = 'azml.step_id') "
                      "AS step_id, (SELECT value FROM tags WHERE run_uuid = r.run_uuid AND key = ?) "
                      "AS step_run_id FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                      "WHERE t.key = ? AND t.value = ? AND EXISTS (SELECT 1 FROM tags p WHERE "
                      "p.run_uuid = r.run_uuid AND p.key = ?) ORDER BY r.start_time",
                  (STEP_RUN_TAG, AZML_RUN_TAG, local_run_id, PARENT_TAG))
    out = []
    for row in rows:
        out.append({"mlflow_run_id": row["run_uuid"], "name": row["name"],
                    "status": row["status"], "step_id": row["step_id"],
                    "step_run_id": row["step_run_id"],
                    "metrics": _latest_of(db, row["run_uuid"])})
    return out


def pipeline_run(db: Path, local_run_id: str) -> dict[str, Any] | None:
    """The parent run of ``local_run_id``: MLflow id, experiment name, status."""
    rows = _query(db, "SELECT r.run_uuid, r.status, e.name AS experiment FROM runs r "
                      "JOIN experiments e ON e.experiment_id = r.experiment_id "
                      "JOIN tags t ON t.run_uuid = r.run_uuid WHERE t.key = ? AND t.value = ? "
                      "AND NOT EXISTS (SELECT 1 FROM tags p WHERE p.run_uuid = r.run_uuid "
                      "AND p.key = ?)", (AZML_RUN_TAG, local_run_id, PARENT_TAG))
    return dict(rows[0]) if rows else None


def _latest_of(db: Path, run_uuid: str) -> dict[str, float]:
    rows = _query(db, "SELECT key, value FROM latest_metrics WHERE run_uuid = ? ORDER BY key",
                  (run_uuid,))
    return {r["key"]: float(r["value"]) for r in rows}


def history(db: Path, run_uuid: str) -> dict[str, list[tuple[int, float]]]:
    """Every logged value of every metric of an MLflow run: ``{key: [(step, value), ...]}``."""
    rows = _query(db, "SELECT key, step, value FROM metrics WHERE run_uuid = ? "
                      "ORDER BY key, step, timestamp", (run_uuid,))
    out: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        out.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
    return out


def models(db: Path) -> list[dict[str, Any]]:
    """Registered models and versions, newest version first per model."""
    rows = _query(db, "SELECT v.name, v.version, v.run_id, v.source, v.creation_time, "
                      "(SELECT value FROM model_version_tags g WHERE g.name = v.name AND "
                      "g.version = v.version AND g.key = ?) AS step_run_id "
                      "FROM model_versions v ORDER BY v.name, v.version DESC", (STEP_RUN_TAG,))
    return [dict(r) for r in rows]


def model_sources(db: Path, name: str) -> dict[int, str]:
    """``{version: source URI}`` of every version of registered model ``name``."""
    rows = _query(db, "SELECT version, source FROM model_versions WHERE name = ?", (name,))
    return {int(r["version"]): str(r["source"]) for r in rows}


def model_tags(db: Path, name: str, version: int) -> dict[str, str]:
    rows = _query(db, "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                  (name, version))
    return {r["key"]: r["value"] for r in rows}
