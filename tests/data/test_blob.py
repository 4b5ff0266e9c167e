"""Pull and push against a real Azurite: what moves, what is skipped, what is refused."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from azml.data import pull, pull_missing, push
from azml.data.state import SyncState
from azml.data.transfer import PARTIAL
from azml.errors import SettingsError, StorageError, UsageError
from tests.azurite.server import ACCOUNT, KEY
from tests.data.conftest import Workspace


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _seed(ws: Workspace) -> dict[str, bytes]:
    data = {"raw/a.txt": b"alpha\n", "raw/sub/b.bin": os.urandom(300_000),
            "raw/sub/deeper/c.npy": os.urandom(5_000), "other/d.txt": b"not pulled\n"}
    for name, content in data.items():
        ws.upload(name, content)
    return data


def test_pull_fills_the_datastore_folder_with_the_prefix_only(ws: Workspace) -> None:
    data = _seed(ws)
    result = pull(ws.settings(), "f3", "raw", out=None)
    assert _files(ws.datastores / "f3") == {k: v for k, v in data.items() if k.startswith("raw/")}
    assert (result.files, result.transferred, result.skipped) == (3, 3, 0)
    assert result.bytes == sum(len(v) for k, v in data.items() if k.startswith("raw/"))
    assert not list(ws.datastores.rglob(f"*{PARTIAL}"))


def test_second_pull_moves_nothing_and_leaves_files_alone(ws: Workspace) -> None:
    _seed(ws)
    pull(ws.settings(), "f3", "raw", out=None)
    before = {p: p.stat().st_mtime_ns for p in (ws.datastores / "f3").rglob("*") if p.is_file()}
    again = pull(ws.settings(), "f3", "raw/", out=None)
    assert (again.transferred, again.skipped, again.bytes) == (0, 3, 0)
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_changed_blob_is_downloaded_again(ws: Workspace) -> None:
    _seed(ws)
    pull(ws.settings(), "f3", "raw", out=None)
    ws.upload("raw/a.txt", b"ALPHA\n")  # same size, new content
    result = pull(ws.settings(), "f3", "raw", out=None)
    assert (result.transferred, result.skipped) == (1, 2)
    assert (ws.datastores / "f3/raw/a.txt").read_bytes() == b"ALPHA\n"


def test_blob_without_content_md5_is_tracked_by_etag(ws: Workspace) -> None:
    big = os.urandom(9 * 1024 * 1024)
    # Uploaded in blocks (Put Block List), so the service stores no Content-MD5.
    ws.client.get_blob_client("raw/big.bin").upload_blob(io.BytesIO(big), length=len(big),
                                                           max_concurrency=1, overwrite=True)
    listed = next(iter(ws.client.list_blobs(name_starts_with="raw/big.bin")))
    if listed.content_settings.content_md5:  # the SDK sent it as one Put Blob: force blocks
        ws.client.get_blob_client("raw/big.bin").stage_block("YmxvY2sx", big)
        ws.client.get_blob_client("raw/big.bin").commit_block_list(["YmxvY2sx"])
        listed = next(iter(ws.client.list_blobs(name_starts_with="raw/big.bin")))
    assert listed.content_settings.content_md5 is None
    first = pull(ws.settings(), "f3", "raw", out=None)
    assert first.transferred == 1
    local = ws.datastores / "f3/raw/big.bin"
    assert hashlib.sha256(local.read_bytes()).digest() == hashlib.sha256(big).digest()
    assert pull(ws.settings(), "f3", "raw", out=None).transferred == 0  # same ETag, same stat
    os.utime(local, ns=(local.stat().st_atime_ns, local.stat().st_mtime_ns + 10**9))
    touched = pull(ws.settings(), "f3", "raw", out=None)  # cannot be confirmed without an MD5
    assert touched.transferred == 1


def test_local_file_with_the_blob_md5_is_kept_without_download(ws: Workspace) -> None:
    ws.upload("raw/a.txt", b"same bytes\n")
    target = ws.datastores / "f3/raw/a.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"same bytes\n")
    result = pull(ws.settings(), "f3", "raw", out=None)
    assert (result.transferred, result.skipped) == (0, 1)
    target.write_bytes(b"edited!!!!\n")  # same size, different content: the blob wins
    assert pull(ws.settings(), "f3", "raw", out=None).transferred == 1
    assert target.read_bytes() == b"same bytes\n"


def test_single_blob_path_and_prefix_boundaries(ws: Workspace) -> None:
    for name in ("raw/x.txt", "raw2/y.txt", "raw"[:3] + "/sub/z.txt"):
        ws.upload(name, name.encode())
    result = pull(ws.settings(), "f3", "raw/x.txt", out=None)
    assert result.files == 1 and (ws.datastores / "f3/raw/x.txt").read_bytes() == b"raw/x.txt"
    pull(ws.settings(), "f3", "raw", out=None)
    assert not (ws.datastores / "f3/raw2").exists()  # 'raw' is a folder, not a string prefix


def test_push_uploads_with_content_md5_and_skips_unchanged(ws: Workspace) -> None:
    folder = ws.datastores / "f3" / "results"
    (folder / "sub").mkdir(parents=True)
    (folder / "m.json").write_text('{"iou": 0.5}')
    (folder / "sub" / "w.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    first = push(ws.settings(), "f3", "results", out=None)
    assert (first.files, first.transferred) == (2, 2)
    blobs = {b.name: b for b in ws.client.list_blobs()}
    assert set(blobs) == {"results/m.json", "results/sub/w.bin"}
    for name, blob in blobs.items():
        local = (ws.datastores / "f3" / name).read_bytes()
        assert bytes(blob.content_settings.content_md5) == hashlib.md5(local).digest()
    assert push(ws.settings(), "f3", "results", out=None).transferred == 0
    assert pull(ws.settings(), "f3", "results", out=None).transferred == 0  # push recorded them
    (folder / "m.json").write_text('{"iou": 0.6}')
    assert push(ws.settings(), "f3", "results", out=None).transferred == 1
    assert ws.client.download_blob("results/m.json").readall() == b'{"iou": 0.6}'


def test_push_from_another_folder_to_a_path(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "step-output"
    out.mkdir()
    (out / "model.pt").write_bytes(b"weights")
    result = push(ws.settings(), "f3", "models/run1", source=out, out=None)
    assert result.transferred == 1
    assert ws.client.download_blob("models/run1/model.pt").readall() == b"weights"
    assert not (ws.datastores / "f3" / "models").exists()
    single = push(ws.settings(), "f3", "models/", source=out / "model.pt", out=None)
    assert single.transferred == 1 and ws.client.download_blob("models/model.pt").readall() == b"weights"


def test_nothing_to_push_and_nothing_to_pull_are_errors(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="nothing to push: .*f3/empty does not exist"):
        push(ws.settings(), "f3", "empty", out=None)
    with pytest.raises(StorageError, match=f"container '{ws.container}': no blobs under 'raw'"):
        pull(ws.settings(), "f3", "raw", out=None)


def test_blob_that_is_also_a_folder_is_refused(ws: Workspace) -> None:
    ws.upload("raw/x", b"file")
    ws.upload("raw/x/y", b"file below it")
    with pytest.raises(StorageError, match="'raw/x' is both a blob and a folder"):
        pull(ws.settings(), "f3", "raw", out=None)


def test_unsafe_datastore_paths_are_refused(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="must not contain '..'"):
        pull(ws.settings(), "f3", "raw/../../etc", out=None)
    with pytest.raises(UsageError, match="expected a datastore name"):
        pull(ws.settings(), "..", "raw", out=None)


def test_missing_container_names_it(ws: Workspace) -> None:
    settings = ws.settings(BLOB_CONTAINER_NAME="no-such-container")
    with pytest.raises(StorageError) as info:
        pull(settings, "f3", "raw", out=None)
    assert str(info.value) == (f"storage account '{ACCOUNT}', container 'no-such-container': the "
                               "container does not exist. Check BLOB_CONTAINER_NAME, or create the container")


def test_unknown_account_names_it(ws: Workspace) -> None:
    url = ws.azurite.url.rsplit("/", 1)[0] + "/otheraccount"
    with pytest.raises(StorageError, match="storage account 'otheraccount'.*(not found|refused)"):
        pull(ws.settings(BLOB_ACCOUNT_NAME="otheraccount", BLOB_ACCOUNT_URL=url), "f3", "raw", out=None)


def test_sas_token_pulls_and_a_read_only_one_cannot_push(ws: Workspace) -> None:
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    ws.upload("raw/a.txt", b"via sas")
    sas = generate_container_sas(ACCOUNT, ws.container, account_key=KEY,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    settings = ws.settings(BLOB_ACCOUNT_KEY="", BLOB_SAS_TOKEN=sas)
    assert pull(settings, "f3", "raw", out=None).transferred == 1
    (ws.datastores / "f3/raw/new.txt").write_text("new")
    with pytest.raises(StorageError) as info:
        push(settings, "f3", "raw", out=None)
    message = str(info.value)
    assert "refused with the SAS token" in message and "BLOB_SAS_TOKEN" in message
    signature = dict(p.split("=", 1) for p in sas.split("&"))["sig"]
    assert sas not in message and signature not in message


def test_default_credential_is_not_sent_over_http(ws: Workspace) -> None:
    settings = ws.settings(BLOB_ACCOUNT_KEY="")
    with pytest.raises(SettingsError, match="only sent over https.*set BLOB_ACCOUNT_KEY or BLOB_SAS_TOKEN"):
        pull(settings, "f3", "raw", out=None)


def test_pull_missing_pulls_each_input_once(ws: Workspace) -> None:
    _seed(ws)
    results = pull_missing(ws.settings(), [("f3", "raw"), ("f3", "raw/"), ("f3", "other")], out=None)
    assert [r.transferred for r in results] == [3, 1]
    assert (ws.datastores / "f3/other/d.txt").read_bytes() == b"not pulled\n"


def test_corrupt_sync_state_costs_a_check_not_a_wrong_answer(ws: Workspace) -> None:
    _seed(ws)
    pull(ws.settings(), "f3", "raw", out=None)
    for state_file in (ws.root / ".azml" / "data" / "sync").glob("*.json"):
        state_file.write_text("{not json")
    out = io.StringIO()
    again = pull(ws.settings(), "f3", "raw", out=out)
    assert "is corrupt" in out.getvalue()
    assert (again.transferred, again.skipped) == (0, 3)  # hashed and found equal


def test_a_second_pull_of_the_same_folder_at_once_is_refused(ws: Workspace) -> None:
    _seed(ws)
    settings = ws.settings()
    location_state = SyncState.load(settings.azml_home, url=ws.azurite.url, container=ws.container,
                                    local=settings.datastore_root / "f3", prefix="", warn=print)
    with location_state.locked("f3"), pytest.raises(UsageError, match="another azml data pull or push "
                                                                        "is working on f3"):
        pull(settings, "f3", "raw", out=None)


def test_verify_discards_a_download_that_does_not_match_its_content_md5(ws: Workspace) -> None:
    from azure.storage.blob import ContentSettings

    ws.upload("raw/a.txt", b"real content\n")
    ws.client.get_blob_client("raw/a.txt").set_http_headers(
        ContentSettings(content_md5=bytearray(hashlib.md5(b"something else").digest())))
    with pytest.raises(StorageError, match="blob 'raw/a.txt': content does not match its Content-MD5"):
        pull(ws.settings(), "f3", "raw", verify=True, out=None)
    assert not (ws.datastores / "f3/raw/a.txt").exists()
    assert not list(ws.datastores.rglob(f"*{PARTIAL}"))
    ws.upload("raw/a.txt", b"real content\n")  # a correct Content-MD5 again
    assert pull(ws.settings(), "f3", "raw", verify=True, out=None).transferred == 1
