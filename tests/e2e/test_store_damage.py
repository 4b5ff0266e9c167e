"""A damaged, empty, read-only or full store: a clear message naming the file, a way out,
and no history lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e


def _ran_chain(proj: Project) -> str:
    proj.copy("chain")
    result = proj.cli("run", "pipeline_config.json")
    assert result.returncode == 0, result.stderr
    return json.loads(proj.cli("status", "--json").stdout)[0]["run_id"]


def _assert_points_to_repair(result: subprocess.CompletedProcess[str], proj: Project) -> None:
    assert result.returncode == 1
    assert str(proj.home / "azml.db") in result.stderr
    assert "azml store repair" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["header", "middle"])
def test_a_corrupted_store_names_the_file_and_the_repair_brings_the_runs_back(
        proj: Project, damage: str) -> None:
    run_id = _ran_chain(proj)
    db = proj.home / "azml.db"
    assert not (proj.home / "azml.db-wal").exists()  # checkpointed when the last command closed it
    with open(db, "r+b") as handle:
        if damage == "header":
            handle.write(b"garbage" * 20)
        else:
            size = handle.seek(0, 2)
            handle.seek(4096)
            handle.write(os.urandom(min(size - 4096, 4096 * 6)))
    broken = proj.cli("status")
    _assert_points_to_repair(broken, proj)
    repaired = proj.cli("store", "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "damaged file is kept as" in repaired.stdout
    assert list(proj.home.glob("azml.db.damaged-*"))
    runs = json.loads(proj.cli("status", "--json").stdout)
    assert [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["status"] == "Completed"
    assert {s["status"] for s in runs[0]["steps"]} == {"Completed"}
    again = proj.cli("run", "pipeline_config.json")  # the repaired store still knows the content keys
    assert again.returncode == 0, again.stderr
    latest = json.loads(proj.cli("status", "--json").stdout)[0]
    assert [s["status"] for s in latest["steps"]] == ["Reused"] * 3


def test_a_zero_length_store_is_damage_not_an_empty_history(proj: Project) -> None:
    run_id = _ran_chain(proj)
    (proj.home / "azml.db").write_bytes(b"")
    broken = proj.cli("status")
    _assert_points_to_repair(broken, proj)
    assert "empty" in broken.stderr
    assert proj.cli("run", "pipeline_config.json").returncode == 1  # nothing runs over it either
    assert proj.cli("store", "repair").returncode == 0
    assert [r["run_id"] for r in json.loads(proj.cli("status", "--json").stdout)] == [run_id]


def test_repair_of_a_healthy_store_changes_nothing(proj: Project) -> None:
    _ran_chain(proj)
    result = proj.cli("store", "repair")
    assert result.returncode == 0 and "healthy" in result.stdout
    assert not list(proj.home.glob("azml.db.damaged-*"))


def _in_mount_namespace(proj: Project, setup: str, *azml: str) -> subprocess.CompletedProcess[str]:
    """Run ``setup`` then ``python -m azml AZML...`` in a private mount namespace (root only)."""
    command = " ".join([setup, "&&", sys.executable, "-m", "azml", *azml])
    return subprocess.run(["unshare", "-m", "sh", "-c", command], cwd=proj.root, env=proj.env,
                          capture_output=True, text=True, timeout=120, check=False)


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces")


@needs_mount
def test_status_and_logs_work_on_a_read_only_checkout(proj: Project) -> None:
    run_id = _ran_chain(proj)
    home = str(proj.home)
    read_only = f"mount --bind {home} {home} && mount -o remount,bind,ro {home}"
    status = _in_mount_namespace(proj, read_only, "status", run_id)
    assert status.returncode == 0, status.stderr
    assert "Completed" in status.stdout
    logs = _in_mount_namespace(proj, read_only, "logs", run_id, "--step", "train")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == "trained with total 12"
    run = _in_mount_namespace(proj, read_only, "run", "pipeline_config.json", "--no-reuse")
    assert run.returncode == 1 and "read-only" in run.stderr and "unexpected" not in run.stderr


@needs_mount
def test_a_full_disk_names_the_store_and_keeps_the_steps_reason(proj: Project) -> None:
    proj.script("src/fill.py", "import sys\n"
                "try:\n"
                "    with open('filler', 'wb') as out:\n"
                "        while True:\n"
                "            out.write(b'x' * 65536)\n"
                "except OSError as exc:\n"
                "    print('fill failed:', exc.strerror, flush=True)\n"
                "    sys.exit(3)\n")
    proj.write_config({"fill": {"type": "PythonScriptStep", "name": "fill", "script": "fill.py",
                                "source_directory": "src", "inputs": {}}})
    home = str(proj.home)
    os.makedirs(home, exist_ok=True)
    small = f"mount -t tmpfs -o size=3m tmpfs {home}"
    result = _in_mount_namespace(proj, small, "run", "pipeline_config.json")
    assert result.returncode == 1
    assert "unexpected" not in result.stderr, result.stderr
    assert f"cannot write the run store {home}/azml.db: the disk is full" in result.stderr
    assert "step fill Failed: exit code 3: fill failed: No space left on device" in result.stderr
