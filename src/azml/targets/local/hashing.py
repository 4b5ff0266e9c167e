"""Content digests of files and trees, remembered in a size-and-mtime index.

A file is read and hashed only when its size, mtime, ctime or inode differ from
what the index recorded (ctime catches an edit whose mtime was put back, which
``utime`` cannot fake), or when the record is "racy": taken less than
:data:`RACY_NS` after the file's last change, when a later same-size edit within
the same clock tick could go unseen. A tree's content is its
*manifest*: relative path to file digest; the manifest's own digest stands for
the whole tree in content keys, and the manifest is stored so that a later run
can say which file changed.

A large input folder (100,000 files) must not cost a per-file index lookup and a
manifest rebuild on every run: :meth:`Hasher.tree_digest` first walks the folder
with ``os.scandir`` and digests every file's (path, size, mtime_ns, ctime_ns,
inode) into a *stat fingerprint*. The store maps a folder's fingerprint to its
manifest digest; when the fingerprint is unchanged (and was not taken within
:data:`RACY_NS` of the newest change in the folder) the digest is reused without
reading the index, any file, or the manifest. Otherwise the per-file path runs.
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


@dataclass(frozen=True)
class TreeStat:
    """A folder's stat fingerprint: see the module doc."""

    fingerprint: str
    newest_ns: int
    files: int


def stat_fingerprint(root: Path) -> TreeStat:
    """The stat fingerprint of the regular files :func:`list_files` would list under ``root``.

    Same selection as :func:`list_files` with no ``exclude`` or ``skip``: real
    directories are entered (directory symlinks are not), file symlinks count as
    their target, anything but a regular file is left out, unreadable folders are
    skipped. Folders are visited in sorted order, so the fingerprint is stable.
    """
    h = hashlib.sha256()
    newest = 0
    count = 0
    stack: list[tuple[str, str]] = [("", str(root))]
    while stack:
        prefix, top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = sorted(it, key=_entry_name)
        except OSError:
            continue
        rows = []
        below = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                below.append((f"{prefix}{entry.name}/", entry.path))
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
            newest = max(newest, mtime, ctime)
            rows.append((entry.name, st.st_size, mtime, ctime, st.st_ino))
        count += len(rows)
        h.update(repr((prefix, rows)).encode("utf-8", "surrogateescape"))
        stack.extend(reversed(below))
    return TreeStat(h.hexdigest(), newest, count)


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


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

    def tree_digest(self, root: Path) -> str:
        """The manifest digest of every file under ``root``, through the folder stat cache.

        An unchanged, non-racy folder costs one ``os.scandir`` walk and one store
        read. Otherwise the files are digested through the per-file index
        (:meth:`manifest`) and the folder's fingerprint is recorded. The
        fingerprint is taken before any file is read, so a change made while
        hashing shows as a different fingerprint next time.
        """
        if not root.is_dir():
            return self.manifest(root, list(list_files(root))).digest
        started = time.time_ns()
        seen = stat_fingerprint(root)
        key = str(root)
        row = self.store.tree_stat(key)
        if (row is not None and row["fingerprint"] == seen.fingerprint
                and row["indexed_ns"] - row["newest_ns"] >= RACY_NS):
            return str(row["manifest"])
        digest = self.manifest(root, list(list_files(root))).digest
        self.store.remember_tree(key, seen.fingerprint, digest, seen.newest_ns, started, seen.files)
        return digest

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
