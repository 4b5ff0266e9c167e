"""The ``azml data`` commands: blob pull and push, the local dataset registry."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from azml.settings import load_settings


def data_pull(spec: str, *, workers: int | None = None, verify: bool = False,
              env_file: str | None = None, out: TextIO | None = sys.stderr) -> Any:
    """Pull ``DATASTORE[/PATH]`` from the configured blob container into the local datastore folder."""
    from azml.data import DEFAULT_WORKERS, pull, split_spec

    datastore, path = split_spec(spec)
    return pull(load_settings(env_file), datastore, path, workers=workers or DEFAULT_WORKERS,
                verify=verify, out=out)


def data_push(spec: str, *, source: str | None = None, workers: int | None = None,
              env_file: str | None = None, out: TextIO | None = sys.stderr) -> Any:
    """Push the local datastore folder ``DATASTORE[/PATH]`` (or ``source``) to the blob container."""
    from pathlib import Path

    from azml.data import DEFAULT_WORKERS, push, split_spec

    datastore, path = split_spec(spec)
    return push(load_settings(env_file), datastore, path, source=Path(source) if source else None,
                workers=workers or DEFAULT_WORKERS, out=out)


def data_register(name: str, source: str, *, version: int | None = None,
                  env_file: str | None = None) -> Any:
    """Register a local folder or file (or an azureml://datastores/... URI) as dataset ``name``."""
    from azml.data import register

    return register(load_settings(env_file), name, source, version=version)


def data_list(*, name: str | None = None, env_file: str | None = None) -> Any:
    """Registered datasets (every version), optionally of one name."""
    from azml.data import get_dataset, list_datasets

    settings = load_settings(env_file)
    if name is not None:
        get_dataset(settings, name)  # an unknown name is an error listing the known ones
    return [d for d in list_datasets(settings) if name is None or d.name == name]
