"""Where things live on disk, and the file work around a step run.

Layout under ``AZML_HOME`` (``.azml`` by default)::

    azml.db                              the run store
    cache/snapshots/<digest>/tree/       one copy of each distinct snapshot
    runs/<run id>/<step id>/work/        the step's working directory (links to the snapshot)
    runs/<run id>/<step id>/inputs/NAME  private copies of ``download`` inputs
    runs/<run id>/<step id>/outputs.partial/NAME   outputs while the step runs
    runs/<run id>/<step id>/outputs/NAME           outputs once published
    runs/<run id>/<step id>/step.log     the combined log (ranks prefixed for MPI)
    runs/<run id>/<step id>/rank.N.log   an MpiStep's rank N

Outputs are published by renaming ``outputs.partial`` to ``outputs`` in one step,
and only after the step exited with 0; a failed or canceled step's partial
outputs stay where they are, never referenced by the store, so nothing can
reuse them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from azml.plan import InputBinding, Plan

PARTIAL = "outputs.partial"
PUBLISHED = "outputs"
STEP_LOG = "step.log"


@dataclass(frozen=True)
class Layout:
    """Paths under one AZML_HOME."""

    home: Path

    @property
    def snapshot_cache(self) -> Path:
        return self.home / "cache" / "snapshots"

    def run_dir(self, run_id: str) -> Path:
        return self.home / "runs" / run_id

    def step_dir(self, run_id: str, step_id: str) -> Path:
        return self.run_dir(run_id) / step_id


def datastore_folder(root: Path, spec: InputBinding) -> Path:
    """The local folder (or file) standing for a datastore input's path."""
    return root / str(spec.datastore) / str(spec.path).lstrip("/")


def missing_inputs(plan: Plan, root: Path) -> list[tuple[str, str, str, str]]:
    """``(step, datastore, path, expected folder)`` for every datastore input not found."""
    missing = []
    for sid, step in plan.steps.items():
        for spec in step.inputs.values():
            if spec.kind != "datastore":
                continue
            folder = datastore_folder(root, spec)
            store_dir = (root / str(spec.datastore)).resolve()
            resolved = folder.resolve()
            if not resolved.is_relative_to(store_dir) or not folder.exists():
                missing.append((sid, str(spec.datastore), str(spec.path), str(folder)))
    return missing


def private_copy(source: Path, dest: Path) -> Path:
    """A private copy of a ``download`` input (a folder or a single file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=False)
    else:
        shutil.copy2(source, dest)
    return dest


def output_paths(step_dir: Path, names: Iterable[str]) -> dict[str, Path]:
    """Where the step writes each output while it runs (the folders are not created)."""
    partial = step_dir / PARTIAL
    partial.mkdir(parents=True, exist_ok=True)
    return {name: partial / name for name in names}


def publish_outputs(step_dir: Path, names: Iterable[str]) -> dict[str, str]:
    """Publish a finished step's outputs at once; an output it did not write is an empty folder."""
    partial, final = step_dir / PARTIAL, step_dir / PUBLISHED
    partial.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not os.path.lexists(partial / name):
            (partial / name).mkdir()
    os.rename(partial, final)
    return {name: str(final / name) for name in names}


def outputs_exist(outputs: Mapping[str, str]) -> bool:
    return all(os.path.exists(path) for path in outputs.values())
