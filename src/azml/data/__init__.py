"""Data that moves between blob storage and this machine, and the local dataset registry.

- :mod:`azml.data.blob`: ``pull`` / ``push`` between the configured container and the
  local datastore folder, and ``pull_missing`` for ``azml run --pull``.
- :mod:`azml.data.registry`: ``register`` / ``list_datasets`` / ``resolve_dataset``.

``azure.storage.blob`` (the ``data`` extra) is imported only inside the functions that
talk to storage, so the registry and this package import without it.
"""

from __future__ import annotations

from azml.data.blob import DEFAULT_WORKERS, SyncResult, pull, pull_missing, push
from azml.data.paths import split_spec
from azml.data.registry import DatasetVersion, get_dataset, list_datasets, register, resolve_dataset

__all__ = [
    "DEFAULT_WORKERS", "DatasetVersion", "SyncResult", "get_dataset", "list_datasets", "pull",
    "pull_missing", "push", "register", "resolve_dataset", "split_spec",
]
