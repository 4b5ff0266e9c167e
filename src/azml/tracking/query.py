"""What the CLI asks of the local store: metrics of a run, models, the UI address."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from azml.errors import ModelNotFoundError, StepNotFoundError
from azml.tracking import reads, server
from azml.tracking.views import Histories


def db_of(home: str | os.PathLike[str]) -> Path:
    return server.Layout.of(home).db


def step_metrics(home: str | os.PathLike[str], local_run_id: str) -> dict[str, dict[str, float]]:
    """Latest value of each metric, per step id, of a local run (for ``azml status --json``).

    Empty when the run recorded no metrics (or tracking was off). Fast: one read of
    the SQLite file, no server.
    """
    return {s["step_id"]: s["metrics"] for s in reads.step_runs(db_of(home), local_run_id)}


def local_histories(home: str | os.PathLike[str], local_run_id: str,
                    step: str | None = None) -> Histories | None:
    """Every metric value per step of a local run; None when the store has no such run."""
    db = db_of(home)
    if reads.pipeline_run(db, local_run_id) is None:
        return None
    steps = reads.step_runs(db, local_run_id)
    if step is not None:
        chosen = [s for s in steps if step in (s["step_id"], s["name"], s["step_run_id"])]
        if not chosen:
            raise StepNotFoundError(local_run_id, step, [s["step_id"] for s in steps])
        steps = chosen
    return {s["step_id"]: reads.history(db, s["mlflow_run_id"]) for s in steps}


def models(home: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return reads.models(db_of(home))


def model_folder(home: str | os.PathLike[str], step: str, name: str,
                 version: int | None) -> tuple[int, Path]:
    """The version (the latest when ``version`` is None) and files of a registered model.

    A version's source is ``<run artifact URI>/model/<name>``, stored under the
    tracking folder's ``artifacts/`` (:meth:`azml.tracking.store.Tracking.register_model`).
    Raises ModelNotFoundError for an unknown name or version, or files that are gone.
    """
    layout = server.Layout.of(home)
    sources = reads.model_sources(layout.db, name)
    chosen = version if version is not None else max(sources, default=None)
    if chosen is None or chosen not in sources:
        raise ModelNotFoundError(step, name, version, sorted(sources))
    folder = layout.artifacts / sources[chosen].split(":", 1)[-1].lstrip("/")
    if not folder.exists():
        raise ModelNotFoundError(step, name, chosen, gone=str(folder))
    return chosen, folder


def ui(home: str | os.PathLike[str], idle: str | None = None) -> str:
    """Start (or find) the tracking server of ``home``, wait until it answers; its address."""
    info = server.ensure_server(home, idle)
    server.wait_ready(info, server.Layout.of(home))
    return info.uri
