"""What the last pull or push left in sync: one small JSON file per (container, local folder).

The state lives under ``$AZML_HOME/data/sync/``, never beside the data, so a step that
reads its input folder sees exactly the blobs and nothing of ours. For each file it
records the blob's ETag and size, the content MD5 and the local file's size and mtime
as written; a file whose stat still matches need not be hashed again, and a blob whose
ETag still matches has not changed. A missing or corrupt state file only costs time
(files are hashed, or fetched again), never correctness; it is replaced atomically.

One pull or push at a time per state file: an exclusive ``flock`` on a lock file
beside it, taken without waiting.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from azml.errors import UsageError

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    """One file known to be in sync. ``md5`` is hex, ``""`` when unknown."""

    etag: str
    size: int
    md5: str
    mtime_ns: int

    def matches_stat(self, st: os.stat_result) -> bool:
        """True when the local file is, by size and mtime, the one this entry recorded."""
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


class SyncState:
    """Entries keyed by path relative to the local folder (``/``-separated)."""

    def __init__(self, path: Path, header: dict[str, str], entries: dict[str, Entry]) -> None:
        self.path = path
        self.header = header
        self.entries = entries
        self.dirty = False

    @classmethod
    def load(cls, home: Path, *, url: str, container: str, local: Path, prefix: str,
             warn: Callable[[str], None]) -> SyncState:
        """The state for this pairing; empty (with a warning if it was corrupt) when unreadable."""
        header = {"url": url, "container": container, "local": str(local), "prefix": prefix}
        digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode()).hexdigest()[:24]
        path = home / "data" / "sync" / f"{digest}.json"
        return cls(path, header, _read(path, header, warn))

    def get(self, rel: str) -> Entry | None:
        return self.entries.get(rel)

    def put(self, rel: str, entry: Entry) -> None:
        self.entries[rel] = entry
        self.dirty = True

    def save(self) -> None:
        """Write atomically (temporary file in the same folder, then ``os.replace``)."""
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": FORMAT, **self.header,
               "entries": {k: [e.etag, e.size, e.md5, e.mtime_ns] for k, e in self.entries.items()}}
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            _unlink(tmp)
            raise
        self.dirty = False

    @contextmanager
    def locked(self, what: str) -> Iterator[None]:
        """Hold the exclusive lock for this pairing; UsageError if another process has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(".lock")
        with open(lock_path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"another azml data pull or push is working on {what} "
                                 f"(lock {lock_path}); wait for it to finish") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path, header: dict[str, str], warn: Callable[[str], None]) -> dict[str, Entry]:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        warn(f"sync state {path} unreadable ({exc.__class__.__name__}); checking every file")
        return {}
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT or any(doc.get(k) != v for k, v in header.items()):
            raise ValueError("written for another folder or by another version")
        return {str(k): Entry(str(v[0]), int(v[1]), str(v[2]), int(v[3]))
                for k, v in doc["entries"].items()}
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        warn(f"sync state {path} is corrupt ({exc}); checking every file")
        return {}


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
