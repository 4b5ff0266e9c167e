"""Content digests of files and trees, remembered in a size-and-mtime index.

A file is read and hashed only when its size, mtime, ctime or inode differ from
what the index recorded (ctime catches an edit whose mtime was put back, which
``utime`` cannot fake), or when the record is "racy": taken less than
:data:`RACY_NS` after the file's last change, when a later same-size edit within
the same clock tick could go unseen. A tree's content is its
*manifest*: relative path to file digest; the manifest's own digest stands for
the whole tree in content keys, and the manifest is stored so that a later run
can say which file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from azml.targets.local.store import IndexEntry, Store

RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileInfo:
    """A file found in a tree."""

    rel: str
    path: Path
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


@dataclass(frozen=True)
class Manifest:
    """A tree's content: ``files`` maps relative path to digest."""

    digest: str
    files: dict[str, str]


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_json(value: object) -> str:
    return digest_text(json.dumps(value, sort_keys=True, separators=(",", ":")))


def list_files(
    root: Path,
    *,
    exclude: Callable[[str], bool] | None = None,
    skip: tuple[Path, ...] = (),
) -> Iterator[FileInfo]:
    """Every regular file under ``root`` (or ``root`` itself when it is a file).

    Directory symlinks are not followed (as AzureML's snapshot walk); file
    symlinks count as the file they point to. ``exclude`` gets the ``/``-separated
    relative path; directories in ``skip`` are not entered.
    """
    if root.is_file():
        st = root.stat()
        yield FileInfo("", root, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        return
    skipped = {str(p) for p in skip}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if os.path.join(dirpath, d) not in skipped)
        rel_dir = os.path.relpath(dirpath, root)
        prefix = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        for name in sorted(filenames):
            rel = prefix + name
            if exclude is not None and exclude(rel):
                continue
            path = Path(dirpath, name)
            try:
                st = path.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield FileInfo(rel, path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Hasher:
    """Digests files through the store's index, queueing index updates on the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, dict[str, IndexEntry]] = {}
        self._manifests: dict[str, Manifest] = {}

    def manifest(self, root: Path, files: list[FileInfo]) -> Manifest:
        """The manifest of ``files`` found under ``root``; saved in the store."""
        key = str(root)
        known = self._known.get(key)
        if known is None:
            known = self.store.index_under(key)
            self._known[key] = known
        body = {f.rel: self._digest(f, known) for f in files}
        digest = digest_json(body)
        if digest not in self._manifests:
            self.store.save_manifest(digest, body)
            self._manifests[digest] = Manifest(digest, body)
        return self._manifests[digest]

    def lookup(self, digest: str) -> dict[str, str] | None:
        """The files of a manifest by digest: made in this run, or stored earlier."""
        if digest in self._manifests:
            return self._manifests[digest].files
        return self.store.manifest(digest)

    def _digest(self, info: FileInfo, known: dict[str, IndexEntry]) -> str:
        path = str(info.path)
        entry = known.get(path)
        if (entry is not None and entry.size == info.size and entry.mtime_ns == info.mtime_ns
                and entry.ctime_ns == info.ctime_ns and entry.ino == info.ino
                and entry.indexed_ns - max(entry.mtime_ns, entry.ctime_ns) >= RACY_NS):
            return entry.digest
        digest = file_digest(info.path)
        fresh = IndexEntry(info.size, info.mtime_ns, info.ctime_ns, info.ino, digest, time.time_ns())
        known[path] = fresh
        self.store.remember_file(path, fresh)
        return digest


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with open(path, "rb") as handle:
        if hasattr(hashlib, "file_digest"):
            return hashlib.file_digest(handle, "sha256").hexdigest()
        h = hashlib.sha256()
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
        return h.hexdigest()
