"""Moving one file: a blob to a local file, or a local file to a blob.

A download goes to a hidden partial file beside its target,
``.<name>.<etag tag>.azml-partial``, written strictly in order, and is renamed onto
the target (``os.replace``) only once it is whole (and, with ``verify``, once its MD5
matches the blob's Content-MD5). So an interrupted download never leaves a partial
file under the final name, and the next attempt continues from the partial's length
with a ranged, ETag-conditioned request (a blob changed in between makes the old
partial useless: its tag no longer matches, and it is deleted).

An upload sends the file's MD5 as the blob's Content-MD5, so later pulls can compare
without downloading; a block blob only changes when its block list is committed, so an
interrupted upload leaves the previous blob (or none) in place.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azml.data.progress import Progress
from azml.data.state import Entry

HASH_BLOCK = 1024 * 1024
PARTIAL = ".azml-partial"
_PARTIAL_NAME = re.compile(r"\.(.+)\.[0-9a-f]{12}" + re.escape(PARTIAL))


class Cancelled(Exception):
    """The user interrupted; stop at the next chunk boundary."""


class TransferFailed(Exception):
    """One file could not be transferred correctly (the message names it)."""


@dataclass(frozen=True)
class RemoteFile:
    """A blob as listed: name, size, ETag and Content-MD5 (hex, ``""`` when it has none)."""

    name: str
    size: int
    etag: str
    md5: str


def partial_path(target: Path, etag: str) -> Path:
    """Where ``target``'s download of the blob version ``etag`` is written until whole."""
    tag = hashlib.sha256(etag.encode()).hexdigest()[:12]
    return target.with_name(f".{target.name}.{tag}{PARTIAL}")


def file_md5(path: Path, upto: int | None = None) -> Any:
    """The MD5 (a hashlib object) of ``path``, or of its first ``upto`` bytes."""
    digest = hashlib.md5()
    left = upto
    with open(path, "rb") as fh:
        while left is None or left > 0:
            block = fh.read(HASH_BLOCK if left is None else min(HASH_BLOCK, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest


def partials_under(top: Path) -> dict[Path, list[Path]]:
    """Partial downloads found under ``top``, by the target they are for (one walk)."""
    found: dict[Path, list[Path]] = {}
    for folder, _dirs, names in os.walk(top):
        for name in names:
            match = _PARTIAL_NAME.fullmatch(name)
            if match:
                found.setdefault(Path(folder) / match.group(1), []).append(Path(folder) / name)
    return found


def download(client: Any, blob: RemoteFile, target: Path, cancel: threading.Event,
             progress: Progress, partials: Sequence[Path] = (), verify: bool = False) -> tuple[Entry, int]:
    """Fetch ``blob`` onto ``target``; returns its sync entry and the offset resumed from.

    ``partials`` are the partial downloads of ``target`` found beforehand (see
    :func:`partials_under`); one for another blob version is deleted. If the blob
    changed since it was listed (412), its properties are read again and the download
    starts over once. ``verify`` hashes the bytes and compares them with the blob's
    Content-MD5 (when it has one); the size is always checked.
    """
    from azure.core.exceptions import ResourceModifiedError

    try:
        return _download(client, blob, target, cancel, progress, partials, verify)
    except ResourceModifiedError:
        props = client.get_blob_client(blob.name).get_blob_properties()
        md5 = props.content_settings.content_md5
        fresh = RemoteFile(blob.name, int(props.size), str(props.etag), bytes(md5).hex() if md5 else "")
        return _download(client, fresh, target, cancel, progress, [partial_path(target, blob.etag)],
                         verify)


def _download(client: Any, blob: RemoteFile, target: Path, cancel: threading.Event,
              progress: Progress, partials: Sequence[Path], verify: bool) -> tuple[Entry, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(target, blob.etag)
    for stale in partials:
        if stale != part:
            _unlink(stale)
    offset = part.stat().st_size if part.exists() else 0
    if offset > blob.size:
        part.unlink()
        offset = 0
    check = verify and bool(blob.md5)
    digest = (file_md5(part) if offset else hashlib.md5()) if check else None
    progress.add_bytes(offset)
    with open(part, "ab") as fh:
        if offset < blob.size:
            _fetch_into(client, blob, offset, fh, digest, cancel, progress)
    size = part.stat().st_size
    if size != blob.size:
        raise TransferFailed(f"blob '{blob.name}': got {size} bytes, expected {blob.size}")
    if digest is not None and digest.hexdigest() != blob.md5:
        part.unlink()
        raise TransferFailed(f"blob '{blob.name}': content does not match its Content-MD5; "
                             "the download was discarded")
    os.replace(part, target)
    st = target.stat()
    # the blob's Content-MD5 stands for the content: the file has its size and ETag-pinned bytes
    return Entry(blob.etag, blob.size, blob.md5, st.st_mtime_ns), offset


def _fetch_into(client: Any, blob: RemoteFile, offset: int, fh: Any, digest: Any,
                cancel: threading.Event, progress: Progress) -> None:
    """Append the blob from ``offset`` to ``fh``, in order, checking ``cancel`` per chunk."""
    from azure.core import MatchConditions

    if cancel.is_set():
        raise Cancelled()
    # decompress=False: the bytes as stored, as AzureML's mount and download give them
    stream = client.get_blob_client(blob.name).download_blob(
        offset=offset, etag=blob.etag, match_condition=MatchConditions.IfNotModified,
        max_concurrency=1, decompress=False)
    for chunk in stream.chunks():
        fh.write(chunk)
        if digest is not None:
            digest.update(chunk)
        progress.add_bytes(len(chunk))
        if cancel.is_set():
            fh.flush()
            raise Cancelled()


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def upload(client: Any, source: Path, name: str, md5_hex: str, cancel: threading.Event,
           progress: Progress) -> Entry:
    """Send ``source`` as blob ``name`` with Content-MD5 ``md5_hex``; its sync entry."""
    from azure.storage.blob import ContentSettings

    before = source.stat()
    sent = 0

    def hook(current: int, _total: int | None) -> None:
        nonlocal sent
        progress.add_bytes(current - sent)
        sent = current
        if cancel.is_set():
            raise Cancelled()

    if cancel.is_set():
        raise Cancelled()
    with open(source, "rb") as fh:
        result = client.get_blob_client(name).upload_blob(
            fh, length=before.st_size, overwrite=True, max_concurrency=1, progress_hook=hook,
            content_settings=ContentSettings(content_md5=bytearray.fromhex(md5_hex)))
    after = source.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise TransferFailed(f"{source} changed while it was uploaded; push again")
    return Entry(str(result["etag"]), before.st_size, md5_hex, before.st_mtime_ns)
