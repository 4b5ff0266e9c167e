"""``azml data pull`` and ``azml data push``: a container path <-> the local datastore folder.

Datastore ``NAME`` path ``P`` is blob prefix ``P`` in the configured container (see
:mod:`azml.data.storage`) and the folder ``$AZML_DATASTORE_ROOT/NAME/P`` here, the
folder a local run gives a step for that data reference. A prefix names a folder
(``raw`` means ``raw/...``) or a single blob (``raw/labels.npy``), as AzureML's
``path_on_datastore`` does.

Both directions list the remote side once, decide per file from the sync state
(:mod:`azml.data.state`) whether anything changed, and move the rest with a pool of
threads, one file per thread at a time. Unchanged means same size and same MD5 (the
blob's Content-MD5 against the local file's, hashed only when its size or mtime moved
since it was recorded), or, for a blob without Content-MD5, the ETag recorded when we
last wrote the file. Neither side deletes anything. Ctrl-C stops every thread at its
next chunk, saves what finished and raises TransferInterruptedError; the next run
skips finished files and continues partial downloads.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from azml.data import storage
from azml.data.paths import check_datastore, normalize_path
from azml.data.progress import Progress, mb
from azml.data.state import Entry, SyncState
from azml.data.transfer import (
    PARTIAL,
    Cancelled,
    RemoteFile,
    TransferFailed,
    download,
    file_md5,
    partials_under,
    upload,
)
from azml.errors import AzmlError, StorageError, TransferInterruptedError, UsageError
from azml.settings import Settings

DEFAULT_WORKERS = 8
SAVE_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class SyncResult:
    """What one pull or push did."""

    action: str          # "pull" or "push"
    remote: str          # account/container/prefix
    local: Path
    files: int           # files in scope
    transferred: int
    skipped: int
    resumed: int         # downloads continued from a partial file
    bytes: int           # bytes moved this time
    seconds: float

    def summary(self) -> str:
        arrow = "->" if self.action == "push" else "<-"
        rate = f", {mb(int(self.bytes / max(self.seconds, 1e-6)))}/s" if self.bytes else ""
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        return (f"{self.action}: {self.local} {arrow} {self.remote}: {self.files} files, "
                f"{self.transferred} transferred{resumed}, {self.skipped} unchanged, "
                f"{mb(self.bytes)} in {self.seconds:.2f} s{rate}")


def pull(settings: Settings, datastore: str, path: str = "", *, workers: int = DEFAULT_WORKERS,
         verify: bool = False, out: TextIO | None = sys.stderr) -> SyncResult:
    """Bring blob prefix ``path`` of ``datastore``'s container into the local datastore folder.

    ``verify`` also hashes every downloaded file against the blob's Content-MD5 (as
    azcopy does; over https TLS already protects the bytes in transit, so it is off by
    default: it costs about 1.6 s of CPU per GB).
    """
    check_datastore(datastore)
    prefix = normalize_path(path)
    location = storage.blob_location(settings)
    local_root = settings.datastore_root / datastore
    state = SyncState.load(settings.azml_home, url=location.url, container=location.container,
                           local=local_root, prefix="", warn=_warner(out))
    remote_label = f"{location.label}/{prefix}"
    started = time.monotonic()
    with state.locked(f"{datastore} ({local_root})"):
        client = storage.container_client(settings, location, workers=workers)
        blobs = _list(client, settings, location, prefix)
        if not blobs:
            raise StorageError(location.account, location.container, f"no blobs under '{prefix}' "
                               f"(datastore '{datastore}')", "Check the path; `azml data push` uploads")
        todo = [b for b in blobs if not _unchanged_by_etag(b, local_root / b.name, state.get(b.name))]
        progress = Progress(out, f"pull {datastore}/{prefix}", len(todo), sum(b.size for b in todo))
        partials = partials_under(local_root / prefix) if todo else {}

        def work(blob: RemoteFile, cancel: threading.Event) -> tuple[str, Entry, str]:
            target = local_root / blob.name
            return _pull_one(client, blob, target, state.get(blob.name), cancel, progress,
                             partials.get(target, ()), verify)

        counts = _run_pool(todo, work, workers, state, progress, settings, location, "pull")
    return SyncResult("pull", remote_label, local_root / prefix, len(blobs), counts["sent"],
                      len(blobs) - counts["sent"], counts["resumed"], progress.bytes_done,
                      time.monotonic() - started)


def push(settings: Settings, datastore: str, path: str = "", *, source: Path | None = None,
         workers: int = DEFAULT_WORKERS, out: TextIO | None = sys.stderr) -> SyncResult:
    """Upload the local datastore folder ``datastore/path`` (or ``source``) to blob prefix ``path``."""
    check_datastore(datastore)
    prefix = normalize_path(path)
    location = storage.blob_location(settings)
    base, remote_base, files = _push_scope(settings, datastore, prefix, source)
    state = SyncState.load(settings.azml_home, url=location.url, container=location.container,
                           local=base, prefix=remote_base, warn=_warner(out))
    started = time.monotonic()
    with state.locked(str(base)):
        client = storage.container_client(settings, location, workers=workers)
        listing_prefix = prefix if source is None else remote_base
        remote = {b.name: b for b in _list(client, settings, location, listing_prefix)}
        todo = []
        for rel in files:
            st = os.stat(base / rel)
            if not _remote_matches(remote.get(remote_base + rel), st, state.get(rel)):
                todo.append(rel)
        progress = Progress(out, f"push {datastore}/{prefix}", len(todo),
                            sum(os.stat(base / r).st_size for r in todo))

        def work(rel: str, cancel: threading.Event) -> tuple[str, Entry, str]:
            return _push_one(client, base / rel, rel, remote_base + rel, remote.get(remote_base + rel),
                             state.get(rel), cancel, progress)

        counts = _run_pool(todo, work, workers, state, progress, settings, location, "push")
    target = f"{location.label}/{remote_base or prefix}"
    return SyncResult("push", target, base / prefix if source is None else source, len(files), counts["sent"],
                      len(files) - counts["sent"], 0, progress.bytes_done, time.monotonic() - started)


def pull_missing(settings: Settings, inputs: Iterable[tuple[str, str]], *,
                 workers: int = DEFAULT_WORKERS, out: TextIO | None = sys.stderr) -> list[SyncResult]:
    """Pull each ``(datastore, path)`` input (what ``azml run --pull`` calls before a run).

    Duplicates are pulled once; already complete inputs cost one listing each.
    """
    seen: list[tuple[str, str]] = []
    for datastore, path in inputs:
        key = (datastore, normalize_path(path))
        if all((d, p.rstrip("/")) != (key[0], key[1].rstrip("/")) for d, p in seen):
            seen.append(key)
    return [pull(settings, ds, p, workers=workers, out=out) for ds, p in seen]


def _list(client: Any, settings: Settings, location: storage.BlobLocation, prefix: str) -> list[RemoteFile]:
    """Every file blob under ``prefix`` (folder markers left out), checked as local paths."""
    scope = prefix.rstrip("/")
    found: list[RemoteFile] = []
    try:
        for item in client.list_blobs(name_starts_with=scope or None, include=["metadata"]):
            name = str(item.name)
            if scope and not prefix.endswith("/") and name != scope and not name.startswith(scope + "/"):
                continue
            if name.endswith("/") or (item.metadata or {}).get("hdi_isfolder") == "true":
                continue
            md5 = item.content_settings.content_md5
            found.append(RemoteFile(name, int(item.size), str(item.etag), bytes(md5).hex() if md5 else ""))
    except AzmlError:
        raise
    except Exception as exc:  # noqa: BLE001 (every SDK error becomes one StorageError line)
        storage.raise_storage_error(exc, settings, location, f"listing '{prefix or '/'}'")
    _check_names(found, location)
    return found


def _check_names(blobs: list[RemoteFile], location: storage.BlobLocation) -> None:
    """Blob names that cannot be local paths, or that are both a file and a folder, stop here."""
    names = {b.name for b in blobs}
    for blob in blobs:
        parts = blob.name.split("/")
        if any(p in ("", ".", "..") for p in parts) or blob.name.endswith(PARTIAL):
            raise StorageError(location.account, location.container,
                               f"blob '{blob.name}' cannot be stored as a local file")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in names:
                raise StorageError(location.account, location.container,
                                   f"'{'/'.join(parts[:i])}' is both a blob and a folder of "
                                   f"blob '{blob.name}'; a local folder cannot hold both")


def _stat(path: Path) -> os.stat_result | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    if not os.path.isfile(path):
        raise UsageError(f"{path} is in the way of a blob of that name (it is not a file)")
    return st


def _unchanged_by_etag(blob: RemoteFile, target: Path, entry: Entry | None) -> bool:
    """The fast check: we wrote this very blob version here and nobody touched the file since."""
    if entry is None or entry.etag != blob.etag:
        return False
    st = _stat(target)
    return st is not None and entry.matches_stat(st)


def _pull_one(client: Any, blob: RemoteFile, target: Path, entry: Entry | None,
              cancel: threading.Event, progress: Progress,
              partials: Sequence[Path], verify: bool) -> tuple[str, Entry, str]:
    """Skip a local file whose MD5 equals the blob's Content-MD5; else download it."""
    st = _stat(target)
    if st is not None and st.st_size == blob.size and blob.md5:
        known = entry.md5 if entry is not None and entry.matches_stat(st) else ""
        local = known or file_md5(target).hexdigest()
        if local == blob.md5:
            progress.file_done()
            return blob.name, Entry(blob.etag, blob.size, local, st.st_mtime_ns), "skipped"
    new_entry, resumed_from = download(client, blob, target, cancel, progress, partials, verify)
    progress.file_done()
    return blob.name, new_entry, "resumed" if resumed_from else "sent"


def _push_scope(settings: Settings, datastore: str, prefix: str,
                source: Path | None) -> tuple[Path, str, list[str]]:
    """``(local base, remote base, files relative to the base)`` of a push."""
    if source is None:
        base, remote_base = settings.datastore_root / datastore, ""
        top = base / prefix
    else:
        source = source.resolve()
        if source.is_file():
            name = prefix if prefix and not prefix.endswith("/") else prefix + source.name
            parent, _, leaf = name.rpartition("/")
            if leaf != source.name:
                raise UsageError(f"pushing the file {source} as '{name}' would rename it; give the "
                                 "folder (DATASTORE/FOLDER/) or the same file name")
            return source.parent, parent + "/" if parent else "", [source.name]
        base, remote_base, top = source, (prefix.rstrip("/") + "/" if prefix else ""), source
    if top.is_file():
        return base, remote_base, [top.relative_to(base).as_posix()]
    if not top.is_dir():
        raise UsageError(f"nothing to push: {top} does not exist")
    files = sorted(_walk(base, top))
    if not files:
        raise UsageError(f"nothing to push: {top} holds no files")
    return base, remote_base, files


def _walk(base: Path, top: Path) -> Iterable[str]:
    for folder, _dirs, names in os.walk(top, followlinks=True):
        for name in names:
            path = Path(folder) / name
            if name.endswith(PARTIAL) or not path.is_file():
                continue
            yield path.relative_to(base).as_posix()


def _remote_matches(blob: RemoteFile | None, st: os.stat_result, entry: Entry | None) -> bool:
    """The fast check for a push, from recorded facts only (no hashing)."""
    if blob is None or entry is None or not entry.matches_stat(st) or blob.size != st.st_size:
        return False
    return blob.md5 == entry.md5 if blob.md5 else blob.etag == entry.etag


def _push_one(client: Any, source: Path, rel: str, name: str, blob: RemoteFile | None,
              entry: Entry | None, cancel: threading.Event, progress: Progress) -> tuple[str, Entry, str]:
    st = source.stat()
    known = entry.md5 if entry is not None and entry.matches_stat(st) else ""
    md5 = known or file_md5(source).hexdigest()
    if blob is not None and blob.size == st.st_size and blob.md5 == md5:
        progress.file_done()
        return rel, Entry(blob.etag, blob.size, md5, st.st_mtime_ns), "skipped"
    new_entry = upload(client, source, name, md5, cancel, progress)
    progress.file_done()
    return rel, new_entry, "sent"


def _run_pool(items: list[Any], work: Callable[[Any, threading.Event], tuple[str, Entry, str]],
              workers: int, state: SyncState, progress: Progress, settings: Settings,
              location: storage.BlobLocation, action: str) -> dict[str, int]:
    """Run ``work`` over ``items`` on ``workers`` threads; stop all on the first error or Ctrl-C.

    Finished transfers come back through a queue (constant cost per file, unlike waiting
    on a set of futures) and are recorded in the sync state, saved every few seconds.
    """
    counts = {"sent": 0, "resumed": 0, "done": 0}
    if not items:
        return counts
    cancel = threading.Event()
    finished: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

    def run(item: Any) -> None:
        try:
            finished.put((True, work(item, cancel)))
        except BaseException as exc:  # noqa: BLE001 (handed to the main thread, which decides)
            finished.put((False, exc))

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="azml-data")
    for item in items:
        pool.submit(run, item)
    failure: BaseException | None = None
    last_save = time.monotonic()
    try:
        while counts["done"] + counts.get("failed", 0) < len(items) and failure is None:
            try:
                failure = _record(finished.get(timeout=0.25), state, counts)
            except queue.Empty:
                pass
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                state.save()
                last_save = time.monotonic()
    except KeyboardInterrupt:
        failure = KeyboardInterrupt()
    finally:
        if failure is not None:
            cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        while not finished.empty():  # transfers that completed while stopping
            _record(finished.get(), state, counts)
        state.save()
        progress.close()
    if isinstance(failure, KeyboardInterrupt):
        raise TransferInterruptedError(f"azml data {action}", counts["done"], len(items))
    if failure is not None:
        raise _as_azml(failure, settings, location, action)
    return counts


def _record(outcome: tuple[bool, Any], state: SyncState, counts: dict[str, int]) -> BaseException | None:
    """Record one finished transfer in the state; its error, unless it was a cancellation."""
    ok, value = outcome
    if not ok:
        counts["failed"] = counts.get("failed", 0) + 1
        return None if isinstance(value, Cancelled) else value
    rel, entry, how = value
    state.put(rel, entry)
    counts["done"] += 1
    if how != "skipped":
        counts["sent"] += 1
    if how == "resumed":
        counts["resumed"] += 1
    return None


def _as_azml(exc: BaseException, settings: Settings, location: storage.BlobLocation,
             action: str) -> AzmlError:
    if isinstance(exc, AzmlError):
        return exc
    if isinstance(exc, TransferFailed):
        return StorageError(location.account, location.container, settings.redact(str(exc)))
    if isinstance(exc, OSError) and not type(exc).__module__.startswith("azure"):
        return UsageError(f"{action}: {exc.strerror or exc} ({exc.filename})")
    return storage.translate(exc, settings, location, f"{action}ing data")


def _warner(out: TextIO | None) -> Callable[[str], None]:
    def warn(message: str) -> None:
        if out is not None:
            print(f"warning: {message}", file=out)
    return warn
