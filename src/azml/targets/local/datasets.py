"""Registered dataset inputs of a local run: each resolved once, before anything runs.

A step input ``{"dataset": NAME, "version": N}`` is, on AzureML, the registered
dataset's files mounted or downloaded. Locally it is the folder (or file) the
local dataset registry (``azml data register``) records for that version: a local
path, or a datastore path standing for ``$AZML_DATASTORE_ROOT/<datastore>/<path>``,
which ``azml run --pull`` pulls from blob storage when it is not here yet.

Errors come before any step runs: an unknown name or version is a
DatasetNotFoundError (exit 3) naming it and listing what is registered; data that
is not on this machine is a UsageError saying how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from azml.data.registry import DatasetVersion, get_dataset, resolve_dataset
from azml.plan import Plan
from azml.settings import Settings


@dataclass(frozen=True)
class ResolvedDataset:
    """A dataset input as this run reads it: the registered version and its local path."""

    found: DatasetVersion
    path: Path


def resolve_inputs(plan: Plan, settings: Settings, *, pull: bool = False,
                   out: TextIO | None = None) -> dict[tuple[str, str], ResolvedDataset]:
    """Every dataset input of ``plan`` by ``(step id, input name)``.

    With ``pull``, datastore-backed versions whose folder is missing are pulled first
    (each distinct datastore path once).
    """
    wanted: dict[tuple[str, str], DatasetVersion] = {}
    for sid, step in plan.steps.items():
        for name, binding in step.inputs.items():
            if binding.kind == "dataset":
                wanted[(sid, name)] = get_dataset(settings, str(binding.dataset), binding.version)
    if pull:
        missing = [(v.datastore, v.datastore_path or "") for v in wanted.values()
                   if v.datastore is not None and not v.local_path(settings).exists()]
        if missing:
            from azml.data.blob import pull_missing

            pull_missing(settings, [(str(d), p) for d, p in missing], out=out)
    return {key: ResolvedDataset(found, resolve_dataset(settings, found.name, found.version))
            for key, found in wanted.items()}
