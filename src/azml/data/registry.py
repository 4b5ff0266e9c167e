"""The local dataset registry: ``azml data register NAME PATH`` and ``azml data list``.

A local stand-in for AzureML's registered file datasets (v1) and ``uri_folder`` data
assets (v2): a name and an integer version point at data. The data is either a local
file or folder (referenced in place, by absolute path) or a datastore path written as
AzureML v2 writes it, ``azureml://datastores/<NAME>/paths/<PATH>``, which resolves to the
local datastore folder ``$AZML_DATASTORE_ROOT/<NAME>/<PATH>`` and can be pulled from blob.

As on AzureML, a version once registered never changes: registering the same version
again with another source is an error, and without ``--version`` the next free number
is taken. Stored as one JSON file, ``$AZML_HOME/datasets.json``, read-modify-written under
an exclusive lock and replaced atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from azml.data.paths import check_datastore, normalize_path
from azml.errors import DatasetNotFoundError, UsageError
from azml.settings import Settings

FORMAT = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
DATASTORE_URI = re.compile(r"azureml://datastores/([^/]+)/paths/(.*)")


@dataclass(frozen=True)
class DatasetVersion:
    """One registered version: a local ``path``, or a ``datastore`` and ``datastore_path``."""

    name: str
    version: int
    path: str | None = None
    datastore: str | None = None
    datastore_path: str | None = None
    registered: str = ""

    @property
    def source(self) -> str:
        """The source as given to ``register`` (absolute path, or the azureml:// URI)."""
        if self.datastore is not None:
            return f"azureml://datastores/{self.datastore}/paths/{self.datastore_path or ''}"
        return self.path or ""

    def local_path(self, settings: Settings) -> Path:
        """Where the data is on this machine (it may be missing: see resolve_dataset)."""
        if self.datastore is not None:
            return settings.datastore_root / self.datastore / (self.datastore_path or "")
        return Path(self.path or "")


def registry_path(settings: Settings) -> Path:
    return settings.azml_home / "datasets.json"


def register(settings: Settings, name: str, source: str, *, version: int | None = None) -> DatasetVersion:
    """Register ``source`` as ``name`` (next version, or ``version``); the version recorded.

    A local source must exist (relative paths resolve against the settings' base
    directory, the folder azml runs in). Re-registering an existing version with the
    same source is a no-op; with another source, a UsageError.
    """
    if not NAME.fullmatch(name):
        raise UsageError(f"dataset name {name!r}: expected letters, digits, '-', '_' or '.', "
                         "starting with a letter or digit")
    if version is not None and version < 1:
        raise UsageError(f"dataset '{name}': expected a version >= 1, got {version}")
    fields = _source_fields(settings, source)
    with _locked(registry_path(settings)):
        doc = _load(registry_path(settings))
        versions = doc["datasets"].setdefault(name, [])
        number = version if version is not None else max((v["version"] for v in versions), default=0) + 1
        for existing in versions:
            if existing["version"] == number:
                found = _version(name, existing)
                if (found.path, found.datastore, found.datastore_path) == (
                        fields.get("path"), fields.get("datastore"), fields.get("datastore_path")):
                    return found
                raise UsageError(f"dataset '{name}' version {number} is already registered with "
                                 f"{found.source}; versions never change: register without --version "
                                 "for a new one")
        entry = {"version": number, **fields,
                 "registered": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        versions.append(entry)
        versions.sort(key=lambda v: v["version"])
        _save(registry_path(settings), doc)
    return _version(name, entry)


def list_datasets(settings: Settings) -> list[DatasetVersion]:
    """Every registered version, by name then version."""
    doc = _load(registry_path(settings))
    return [_version(name, v) for name in sorted(doc["datasets"]) for v in doc["datasets"][name]]


def get_dataset(settings: Settings, name: str, version: int | None = None) -> DatasetVersion:
    """One version (the latest when ``version`` is None); DatasetNotFoundError listing what exists."""
    doc = _load(registry_path(settings))
    versions = doc["datasets"].get(name, [])
    if not versions:
        raise DatasetNotFoundError(name, version, sorted(doc["datasets"]))
    if version is None:
        return _version(name, max(versions, key=lambda v: v["version"]))
    for entry in versions:
        if entry["version"] == version:
            return _version(name, entry)
    raise DatasetNotFoundError(name, version, [f"{name}:{v['version']}" for v in versions])


def resolve_dataset(settings: Settings, name: str, version: int | None = None) -> Path:
    """The local folder (or file) of dataset ``name`` at ``version`` (latest when None).

    What the local target calls for an ``input_dataset``. Errors: DatasetNotFoundError
    for an unknown name or version; UsageError when the data is not on this machine
    (for a datastore-backed version, the message says how to pull it).
    """
    found = get_dataset(settings, name, version)
    path = found.local_path(settings)
    if not path.exists():
        if found.datastore is not None:
            raise UsageError(f"dataset '{name}' version {found.version} is {found.source}, not on this "
                             f"machine yet ({path}); run `azml data pull {found.datastore}/"
                             f"{found.datastore_path or ''}` or `azml run --pull`")
        raise UsageError(f"dataset '{name}' version {found.version}: {path} no longer exists; "
                         "register the data again under a new version")
    return path


def _source_fields(settings: Settings, source: str) -> dict[str, str]:
    match = DATASTORE_URI.fullmatch(source.strip())
    if match:
        check_datastore(match.group(1))
        return {"datastore": match.group(1), "datastore_path": normalize_path(match.group(2))}
    if source.startswith("azureml:"):
        raise UsageError(f"{source!r}: expected azureml://datastores/<NAME>/paths/<PATH> or a local path")
    path = Path(os.path.expanduser(source))
    path = (path if path.is_absolute() else settings.base_dir / path).resolve()
    if not path.exists():
        raise UsageError(f"cannot register {path}: it does not exist")
    return {"path": str(path)}


def _version(name: str, entry: dict[str, Any]) -> DatasetVersion:
    return DatasetVersion(name=name, version=int(entry["version"]), path=entry.get("path"),
                          datastore=entry.get("datastore"), datastore_path=entry.get("datastore_path"),
                          registered=str(entry.get("registered", "")))


def _load(path: Path) -> dict[str, Any]:
    """The registry document; an unreadable one is an error naming the file (never silently empty)."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {"format": FORMAT, "datasets": {}}
    except (OSError, ValueError) as exc:
        raise UsageError(f"dataset registry {path} is unreadable ({exc.__class__.__name__}); "
                         "fix or remove it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("datasets"), dict):
        raise UsageError(f"dataset registry {path} is not a format-{FORMAT} registry; fix or remove it")
    return doc


def _save(path: Path, doc: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".datasets-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class _locked:
    """Exclusive lock on ``<registry>.lock`` for a read-modify-write."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_suffix(".lock")

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a")
        fcntl.flock(self.fh, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def as_dict(found: DatasetVersion) -> dict[str, Any]:
    """JSON-ready form (for ``azml data list --json``)."""
    return {**{k: v for k, v in asdict(found).items() if v is not None}, "source": found.source}
