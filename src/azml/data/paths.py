"""Datastore names and paths as typed on the command line and in registry URIs."""

from __future__ import annotations

from azml.errors import UsageError

__all__ = ["check_datastore", "normalize_path", "split_spec"]


def split_spec(spec: str) -> tuple[str, str]:
    """``"f3/raw/x"`` -> ``("f3", "raw/x")``; UsageError for an empty or unsafe datastore name."""
    datastore, _, path = spec.strip().lstrip("/").partition("/")
    check_datastore(datastore)
    return datastore, normalize_path(path)


def check_datastore(name: str) -> None:
    if not name or name in (".", "..") or "\\" in name or "/" in name:
        raise UsageError(f"expected a datastore name (as in DATASTORE/PATH), got {name!r}")


def normalize_path(path: str) -> str:
    """A datastore path as a blob prefix: no leading ``/``, no ``.``, never ``..``."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"datastore path {path!r} must not contain '..'")
    return "/".join(parts) + ("/" if path.endswith("/") and parts else "")
