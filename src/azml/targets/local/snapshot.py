"""Snapshots of a step's ``source_directory``, as AzureML takes them, cached by content.

What goes in: every file under the source directory except those excluded by
its ``.amlignore`` (else ``.gitignore``); over AzureML's limits (300 MB, 2000
files unless ``AML_SNAPSHOT_NO_FILE_LIMIT`` is set) the step is refused with
AzureML's advice. azml's own folders (``AZML_HOME``, the datastore root) are
always left out.

How it is stored: ``<AZML_HOME>/cache/snapshots/<content digest>/tree`` holds one
copy per distinct content, built in a temporary folder and renamed into place.
Each step run's working directory is a fresh folder of hard links to that copy
(a copy where links are impossible), so unchanged sources are never copied
again, and files a step creates stay private to its run. A cache entry whose
files no longer match their recorded size and mtime (a step wrote through a
link) is treated as a miss: rebuilt, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from azml.errors import SnapshotError
from azml.targets.local.hashing import FileInfo, Hasher, Manifest, list_files
from azml.targets.local.ignore import IgnorePatternError, IgnoreRules, load_rules

ONE_MB = 1024 * 1024
#: AzureML v1's snapshot limits (azureml._restclient.constants).
SNAPSHOT_MAX_SIZE_BYTES = 300 * ONE_MB
SNAPSHOT_MAX_FILES = 2000
NO_FILE_LIMIT_VARIABLE = "AML_SNAPSHOT_NO_FILE_LIMIT"
LARGE_FILES_ADVICE = (
    "Please see http://aka.ms/aml-largefiles on how to work with large files: keep data "
    "on a datastore, or exclude it with a .amlignore (or .gitignore) file in the source directory"
)
STAT_FILE = "stat.json"


@dataclass(frozen=True)
class Snapshot:
    """The content of one source directory."""

    source: Path
    rules: IgnoreRules
    files: tuple[FileInfo, ...]
    manifest: Manifest
    size: int

    @property
    def digest(self) -> str:
        return self.manifest.digest


def scan(
    step_id: str,
    source: Path,
    hasher: Hasher,
    *,
    skip: tuple[Path, ...] = (),
    no_file_limit: bool = False,
) -> Snapshot:
    """List, check and hash the snapshot of ``source``.

    Raises:
        SnapshotError: for an invalid ignore pattern or a snapshot over AzureML's limits.
    """
    try:
        rules = load_rules(source)
    except IgnorePatternError as exc:
        raise SnapshotError(step_id, str(source), f"{rules_file(source)}: invalid pattern at {exc}",
                            "AzureML refuses it too; fix or remove the line") from None
    except OSError as exc:
        raise SnapshotError(step_id, str(source), f"cannot read its ignore file ({exc.strerror})") from None
    files = tuple(list_files(source, exclude=rules.excluded, skip=skip))
    size = sum(f.size for f in files)
    if size > SNAPSHOT_MAX_SIZE_BYTES:
        raise SnapshotError(
            step_id, str(source),
            f"your total snapshot size ({size / ONE_MB:.1f} MB) exceeds the limit of "
            f"{SNAPSHOT_MAX_SIZE_BYTES / ONE_MB} MB", LARGE_FILES_ADVICE)
    if len(files) > SNAPSHOT_MAX_FILES and not no_file_limit:
        raise SnapshotError(
            step_id, str(source),
            f"your project ({len(files)} files) exceeds the file limit of {SNAPSHOT_MAX_FILES}",
            f"Exclude files with a .amlignore (or .gitignore) file, or set {NO_FILE_LIMIT_VARIABLE}=1 "
            "as AzureML allows")
    return Snapshot(source, rules, files, hasher.manifest(source, list(files)), size)


def rules_file(source: Path) -> str:
    for name in (".amlignore", ".gitignore"):
        if (source / name).exists():
            return name
    return ".amlignore"


def cached_tree(
    step_id: str, snapshot: Snapshot, cache_root: Path, warn: Callable[[str], None]
) -> Path:
    """The cached copy of ``snapshot``'s files, built on first use (or when corrupt)."""
    entry = cache_root / snapshot.digest
    tree = entry / "tree"
    problem = _check_entry(entry, snapshot)
    if problem is None:
        return tree
    if problem != "missing":
        warn(f"snapshot cache entry {entry} is corrupt ({problem}); rebuilding it")
        _discard(entry)
    _build_entry(step_id, entry, snapshot)
    return tree


def _check_entry(entry: Path, snapshot: Snapshot) -> str | None:
    try:
        recorded = json.loads((entry / STAT_FILE).read_text())
    except FileNotFoundError:
        return "missing" if not entry.exists() else "no stat record"
    except (OSError, ValueError):
        return "unreadable stat record"
    if set(recorded) != set(snapshot.manifest.files):
        return "wrong file list"
    tree = entry / "tree"
    for rel, (size, mtime_ns) in recorded.items():
        try:
            st = os.stat(tree / rel)
        except OSError:
            return f"{rel} is missing"
        if st.st_size != size or st.st_mtime_ns != mtime_ns:
            return f"{rel} was modified"
    return None


def _build_entry(step_id: str, entry: Path, snapshot: Snapshot) -> None:
    cache_root = entry.parent
    cache_root.mkdir(parents=True, exist_ok=True)
    temp = cache_root / f".tmp-{uuid.uuid4().hex}"
    tree = temp / "tree"
    record: dict[str, tuple[int, int]] = {}
    try:
        tree.mkdir(parents=True)
        for info in snapshot.files:
            target = tree / info.rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _copy_checked(info, target, snapshot.manifest.files[info.rel]):
                raise SnapshotError(step_id, str(snapshot.source),
                                    f"{info.rel} changed while it was being snapshotted",
                                    "Run again once it stops changing")
            st = target.stat()
            record[info.rel] = (st.st_size, st.st_mtime_ns)
        (temp / STAT_FILE).write_text(json.dumps(record))
        try:
            os.rename(temp, entry)
        except OSError:
            if not entry.exists():
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


def _copy_checked(info: FileInfo, target: Path, expected: str) -> bool:
    """Copy one file; False if its content is no longer the one hashed earlier."""
    h = hashlib.sha256()
    with open(info.path, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk)
            dst.write(chunk)
    if h.hexdigest() != expected:
        return False
    shutil.copymode(info.path, target)
    os.utime(target, ns=(info.mtime_ns, info.mtime_ns))
    return True


def _discard(entry: Path) -> None:
    aside = entry.with_name(f".bad-{uuid.uuid4().hex}")
    try:
        os.rename(entry, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def link_tree(tree: Path, files: dict[str, str], dest: Path) -> None:
    """Fill the new folder ``dest`` with hard links to ``tree``'s files (copies if linking fails)."""
    dest.mkdir(parents=True)
    made: set[Path] = {dest}
    for rel in files:
        target = dest / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        try:
            os.link(tree / rel, target)
        except OSError:
            shutil.copy2(tree / rel, target)
