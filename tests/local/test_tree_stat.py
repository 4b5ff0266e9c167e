"""The folder stat cache: an unchanged input costs one stat walk, any change is seen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from azml.targets.local import hashing
from azml.targets.local.hashing import Hasher, list_files, stat_fingerprint
from azml.targets.local.store import Store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for sub in ("a", "b/c"):
        (root / sub).mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "a" / "one.txt").write_text("one")
    (root / "b" / "c" / "two.txt").write_text("two")
    return root


def _digest(home: Path, root: Path) -> str:
    store = Store(home)
    try:
        return Hasher(store).tree_digest(root)
    finally:
        store.close()


def _reference(home: Path, root: Path) -> str:
    store = Store(home)
    try:
        return Hasher(store).manifest(root, list(list_files(root))).digest
    finally:
        store.close()


def test_same_digest_as_the_per_file_manifest(tmp_path: Path, data: Path) -> None:
    assert _digest(tmp_path / "h1", data) == _reference(tmp_path / "h2", data)


def test_unchanged_folder_reads_no_file(tmp_path: Path, data: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)
    first = _digest(tmp_path / "home", data)

    def forbidden(*args: object) -> str:
        raise AssertionError("a file was read or the per-file path was taken")

    monkeypatch.setattr(hashing, "file_digest", forbidden)
    monkeypatch.setattr(Hasher, "manifest", forbidden)
    assert _digest(tmp_path / "home", data) == first


def test_racy_fingerprint_is_not_trusted(tmp_path: Path, data: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Files changed within RACY_NS of the walk: the next run takes the per-file path."""
    _digest(tmp_path / "home", data)
    calls = []
    original = Hasher.manifest
    monkeypatch.setattr(Hasher, "manifest",
                        lambda self, root, files: calls.append(root) or original(self, root, files))
    _digest(tmp_path / "home", data)
    assert calls == [data]


@pytest.mark.parametrize("change", ["same-size edit, mtime restored", "new file", "deleted file",
                                    "renamed file", "new subfolder file", "emptied file"])
def test_every_change_is_seen(tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch,
                              change: str) -> None:
    monkeypatch.setattr(hashing, "RACY_NS", 0)
    before = _digest(tmp_path / "home", data)
    target = data / "a" / "one.txt"
    if change == "same-size edit, mtime restored":
        st = target.stat()
        target.write_text("ONE")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "new file":
        (data / "a" / "new.txt").write_text("x")
    elif change == "deleted file":
        target.unlink()
    elif change == "renamed file":
        target.rename(data / "a" / "uno.txt")
    elif change == "new subfolder file":
        (data / "b" / "c" / "d").mkdir()
        (data / "b" / "c" / "d" / "deep.txt").write_text("deep")
    else:
        target.write_text("")
    after = _digest(tmp_path / "home", data)
    assert after != before and after == _reference(tmp_path / "ref", data)


def test_selection_matches_list_files(tmp_path: Path, data: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("x")
    (data / "linked-dir").symlink_to(outside)
    (data / "linked-file.txt").symlink_to(data / "top.txt")
    (data / "broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(data / "fifo")
    assert stat_fingerprint(data).files == len(list(list_files(data))) == 4
    assert _digest(tmp_path / "h1", data) == _reference(tmp_path / "h2", data)


def test_single_file_input_and_a_store_without_the_table(tmp_path: Path, data: Path) -> None:
    assert _digest(tmp_path / "home", data / "top.txt") == _reference(tmp_path / "r", data / "top.txt")
    store = Store(tmp_path / "fresh")
    assert store.tree_stat(str(data)) is None
    store.close()
