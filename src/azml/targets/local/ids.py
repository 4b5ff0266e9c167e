"""Identifiers of local runs and step runs.

A run id reads ``local_YYYYmmddTHHMMSS_xxxxxx``: the ``local_`` prefix keeps it
apart from AzureML ids (``azml cancel`` tries local ids first), the UTC time makes
ids sort by age, and six random hex digits keep two runs started in the same
second apart. A step run id is ``<run id>.<step id>``; step ids cannot contain a
dot, so the pair can always be split again.
"""

from __future__ import annotations

import os
import time

RUN_PREFIX = "local_"


def new_run_id(now: float | None = None) -> str:
    """A fresh run id for a run started at ``now`` (seconds since the epoch)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{RUN_PREFIX}{stamp}_{os.urandom(3).hex()}"


def step_run_id(run_id: str, step_id: str) -> str:
    """The id of step ``step_id``'s run within run ``run_id``."""
    return f"{run_id}.{step_id}"


def split_step_run_id(text: str) -> tuple[str, str] | None:
    """``(run_id, step_id)`` for a step run id, or None if ``text`` is not one."""
    if not text.startswith(RUN_PREFIX) or "." not in text:
        return None
    run_id, _, step_id = text.partition(".")
    return (run_id, step_id) if step_id else None
