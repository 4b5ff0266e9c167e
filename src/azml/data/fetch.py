"""Fetch a blob prefix into a folder: what ``azml download`` does with a run's outputs.

Unlike ``pull``, the container is whichever one the output was written to (a
datastore of the workspace, often not the ``BLOB_*`` container), and the files land
under a folder of the user's choosing with the prefix stripped. Each file goes
through :func:`azml.data.transfer.download`: written to a hidden partial file and
renamed when whole, so an interrupted download never leaves a truncated file under
its final name; files already there with the blob's size and MD5 are skipped.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from azml.data import storage
from azml.data.paths import normalize_path
from azml.data.progress import Progress
from azml.data.transfer import Cancelled, RemoteFile, download, file_md5
from azml.errors import AzmlError, TransferInterruptedError
from azml.settings import Settings

WORKERS = 8


@dataclass(frozen=True)
class FetchResult:
    """Files in scope, files transferred, bytes moved."""

    files: int
    transferred: int
    bytes: int


def download_prefix(settings: Settings, location: storage.BlobLocation, prefix: str, dest: Path, *,
                    credential: Any = None, workers: int = WORKERS,
                    out: TextIO | None = sys.stderr) -> FetchResult:
    """Every blob under ``prefix`` (a folder, or one blob) into ``dest``, relative to the prefix.

    ``credential`` replaces the settings' (a datastore's own key or SAS). Errors are
    one StorageError line naming the container, never a credential.
    """
    from azml.data.blob import _list

    scope = normalize_path(prefix).rstrip("/")
    client = storage.container_client(settings, location, workers=workers, credential=credential)
    blobs = _list(client, settings, location, scope)
    if not blobs:  # an output the step left empty: nothing to fetch, as AzureML shows it
        dest.mkdir(parents=True, exist_ok=True)
        return FetchResult(0, 0, 0)
    single = len(blobs) == 1 and blobs[0].name == scope
    targets = {b.name: (dest / Path(b.name).name if single else
                        dest.joinpath(*b.name[len(scope):].lstrip("/").split("/"))) for b in blobs}
    todo = [b for b in blobs if not _same(b, targets[b.name])]
    progress = Progress(out, f"download {location.label}/{scope}", len(todo), sum(b.size for b in todo))
    cancel = threading.Event()

    def work(blob: RemoteFile) -> None:
        download(client, blob, targets[blob.name], cancel, progress)
        progress.file_done()

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1))) as pool:
            for future in [pool.submit(work, b) for b in todo]:
                future.result()
    except (KeyboardInterrupt, Cancelled):
        cancel.set()
        raise TransferInterruptedError("download", progress.files_done, len(todo)) from None
    except AzmlError:
        cancel.set()
        raise
    except Exception as exc:  # noqa: BLE001 (every SDK error becomes one StorageError line)
        cancel.set()
        storage.raise_storage_error(exc, settings, location, f"downloading '{scope}'")
    finally:
        progress.close()
    return FetchResult(len(blobs), len(todo), progress.bytes_done)


def _same(blob: RemoteFile, target: Path) -> bool:
    """A local file with the blob's size and (when the blob has one) its Content-MD5."""
    try:
        size = target.stat().st_size
    except OSError:
        return False
    return size == blob.size and bool(blob.md5) and file_md5(target).hexdigest() == blob.md5


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def datastore_location(settings: Settings, account: str, container: str, *, endpoint: str | None = None,
                       protocol: str | None = None, key: str | None = None,
                       sas: str | None = None) -> tuple[storage.BlobLocation, Any]:
    """Where a workspace's blob datastore is, and the credential to read it with.

    The ``BLOB_*`` account is reached as azml reaches it (``BLOB_ACCOUNT_URL``, its key,
    SAS or DefaultAzureCredential); another account at ``<protocol>://<account>.blob.
    <endpoint>`` with the datastore's own key or SAS when the service handed one out,
    else DefaultAzureCredential. The credential is None when the settings' one applies.
    """
    if account == settings.get("BLOB_ACCOUNT_NAME"):
        mine = storage.blob_location(settings)
        return storage.BlobLocation(account, container, mine.url, mine.auth), None
    url = f"{protocol or 'https'}://{account}.blob.{endpoint or 'core.windows.net'}"
    if key:
        return storage.BlobLocation(account, container, url, storage.KEY), \
            {"account_name": account, "account_key": key}
    if sas:
        from azure.core.credentials import AzureSasCredential

        return storage.BlobLocation(account, container, url, storage.SAS), AzureSasCredential(sas.lstrip("?"))
    return storage.BlobLocation(account, container, url, storage.DEFAULT), None
