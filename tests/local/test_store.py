"""The run store: schema, buffered writes, orphaned runs, pid reuse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from azml.targets.local import procs
from azml.targets.local.store import Store


def _run_row(run_id: str, pid: int, start: str | None) -> dict:
    return {"run_id": run_id, "experiment": "e", "config": "c", "status": "Running",
            "started": time.time(), "orchestrator_pid": pid, "orchestrator_start": start}


def test_buffered_writes_commit_in_one_flush(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.insert_run(_run_row("r1", 1, None))
    other = Store(tmp_path)
    assert other.run("r1") is None
    store.flush()
    assert other.run("r1")["status"] == "Running"
    assert other.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_run_of_a_dead_orchestrator_is_marked_failed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = procs.start_time(child.pid)
    child.wait()
    store = Store(tmp_path)
    store.insert_run(_run_row("dead", child.pid, start))
    store.insert_step({"step_run_id": "dead.a", "run_id": "dead", "step_id": "a", "status": "Running",
                       "position": 0})
    store.insert_step({"step_run_id": "dead.b", "run_id": "dead", "step_id": "b", "status": "NotStarted",
                       "position": 1})
    store.insert_run(_run_row("alive", procs.os.getpid(), procs.start_time(procs.os.getpid())))
    store.flush()
    assert store.reap_orphans() == ["dead"]
    assert store.run("dead")["status"] == "Failed"
    assert "orchestrator" in store.run("dead")["reason"]
    assert [s["status"] for s in store.steps("dead")] == ["Failed", "NotStarted"]
    assert store.run("alive")["status"] == "Running"
    assert store.reap_orphans() == []


def test_a_reused_pid_is_not_the_orchestrator(tmp_path: Path) -> None:
    store = Store(tmp_path)
    me = procs.os.getpid()
    store.insert_run(_run_row("reused-pid", me, "1"))  # our pid, another start time
    store.flush()
    assert store.reap_orphans() == ["reused-pid"]


def test_process_identity() -> None:
    me = procs.os.getpid()
    assert procs.is_alive(me, procs.start_time(me))
    assert not procs.is_alive(me, "0")
    assert not procs.is_alive(None, None)


OPENER = """
import os, sys, time
from pathlib import Path
from azml.targets.local.store import Store
home, go, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
while not go.exists():
    time.sleep(0.001)
store = Store(home)
store.insert_run({"run_id": me, "experiment": "e", "config": "c", "status": "Completed",
                  "started": time.time()})
store.close()
"""


def test_processes_creating_a_fresh_store_at_once_do_not_collide(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    procs_ = [subprocess.Popen([sys.executable, "-c", OPENER, str(home), str(go), f"r{i}"],
                               stderr=subprocess.PIPE, text=True) for i in range(12)]
    time.sleep(0.5)  # every interpreter is up and waiting
    go.touch()
    errors = [p.communicate(timeout=60)[1] for p in procs_]
    assert [p.returncode for p in procs_] == [0] * 12, errors
    assert len(Store(home).runs()) == 12


def test_a_schema_2_store_gains_the_output_digest_column(tmp_path: Path) -> None:
    import sqlite3

    from azml.targets.local import store as store_module

    conn = sqlite3.connect(tmp_path / "azml.db", isolation_level=None)
    for statement in store_module._SCHEMA.replace("    output_digest TEXT", "    ignored TEXT").split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES('schema', '2')")
    conn.close()
    store = Store(tmp_path)
    columns = {row[1] for row in store.conn.execute("PRAGMA table_info(step_runs)")}
    assert "output_digest" in columns
