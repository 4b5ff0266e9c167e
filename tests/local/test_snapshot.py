"""Snapshots: limits, ignore rules, the content-addressed cache, the file index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from azml.errors import SnapshotError
from azml.targets.local import hashing, snapshot
from azml.targets.local.hashing import Hasher, list_files
from azml.targets.local.store import Store


@pytest.fixture
def hasher(tmp_path: Path) -> Hasher:
    return Hasher(Store(tmp_path / "home"))


def _src(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return src


def test_limits(tmp_path: Path, hasher: Hasher) -> None:
    src = _src(tmp_path, {"a.py": "x"})
    with open(src / "big.bin", "wb") as handle:
        handle.truncate(snapshot.SNAPSHOT_MAX_SIZE_BYTES + 1)
    with pytest.raises(SnapshotError, match="exceeds the limit of 300.0 MB"):
        snapshot.scan("s", src, hasher)
    (src / "big.bin").unlink()
    for i in range(snapshot.SNAPSHOT_MAX_FILES):
        (src / f"f{i}").write_text("")
    with pytest.raises(SnapshotError, match="exceeds the file limit of 2000"):
        snapshot.scan("s", src, hasher)
    assert len(snapshot.scan("s", src, hasher, no_file_limit=True).files) == 2001


def test_ignored_and_skipped_files_are_left_out(tmp_path: Path, hasher: Hasher) -> None:
    src = _src(tmp_path, {"a.py": "x", "data/d.bin": "d", ".amlignore": "data/\n", ".azml/x": "y"})
    snap = snapshot.scan("s", src, hasher, skip=(src / ".azml",))
    assert sorted(snap.manifest.files) == [".amlignore", "a.py"]


def test_cache_is_built_once_and_linked_per_run(tmp_path: Path, hasher: Hasher) -> None:
    src = _src(tmp_path, {"a.py": "x", "pkg/b.py": "y"})
    snap = snapshot.scan("s", src, hasher)
    cache = tmp_path / "cache"
    warnings: list[str] = []
    tree = snapshot.cached_tree("s", snap, cache, warnings.append)
    marker = os.stat(tree / "a.py").st_ino
    again = snapshot.cached_tree("s", snapshot.scan("s", src, hasher), cache, warnings.append)
    assert again == tree and os.stat(tree / "a.py").st_ino == marker and warnings == []
    work = tmp_path / "work"
    snapshot.link_tree(tree, snap.manifest.files, work)
    assert os.stat(work / "pkg" / "b.py").st_ino == os.stat(tree / "pkg" / "b.py").st_ino
    assert (src / "a.py").stat().st_ino != marker  # the source itself is never linked


def test_corrupt_cache_entry_is_a_miss_with_a_warning(tmp_path: Path, hasher: Hasher) -> None:
    src = _src(tmp_path, {"a.py": "x"})
    snap = snapshot.scan("s", src, hasher)
    cache = tmp_path / "cache"
    tree = snapshot.cached_tree("s", snap, cache, print)
    (tree / "a.py").write_text("written through a link")
    warnings: list[str] = []
    rebuilt = snapshot.cached_tree("s", snap, cache, warnings.append)
    assert (rebuilt / "a.py").read_text() == "x"
    assert len(warnings) == 1 and "corrupt" in warnings[0] and "a.py was modified" in warnings[0]


def test_file_index_skips_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _src(tmp_path, {"a.txt": "one", "b.txt": "two"})
    old = 1_000_000_000_000_000_000
    for p in src.iterdir():
        os.utime(p, ns=(old, old))
    store = Store(tmp_path / "home")
    calls: list[Path] = []
    real = hashing.file_digest
    monkeypatch.setattr(hashing, "file_digest", lambda p: calls.append(p) or real(p))
    first = Hasher(store).manifest(src, list(list_files(src)))
    store.flush()
    assert len(calls) == 2
    calls.clear()
    # ctime is recent (just written), so the entries are still "racy": pretend time passed
    monkeypatch.setattr(hashing, "RACY_NS", -10**18)
    second = Hasher(store).manifest(src, list(list_files(src)))
    assert second.digest == first.digest
    store.flush()
    calls.clear()
    third = Hasher(store).manifest(src, list(list_files(src)))
    assert calls == [] and third.digest == first.digest
    (src / "b.txt").write_text("TWO")  # same size
    os.utime(src / "b.txt", ns=(old, old))  # same mtime; ctime still moves
    fourth = Hasher(store).manifest(src, list(list_files(src)))
    assert [p.name for p in calls] == ["b.txt"] and fourth.digest != first.digest


def test_racy_entries_are_hashed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _src(tmp_path, {"a.txt": "one"})
    store = Store(tmp_path / "home")
    Hasher(store).manifest(src, list(list_files(src)))
    store.flush()
    calls: list[Path] = []
    real = hashing.file_digest
    monkeypatch.setattr(hashing, "file_digest", lambda p: calls.append(p) or real(p))
    Hasher(store).manifest(src, list(list_files(src)))
    assert len(calls) == 1  # indexed within RACY_NS of its last change: not trusted
