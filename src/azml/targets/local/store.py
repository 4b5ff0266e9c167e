"""The local run store: runs, step runs, the file index and manifests, in SQLite.

One database file, ``<AZML_HOME>/azml.db``, in WAL mode with a busy timeout, so
that several orchestrators, ``azml status`` and ``azml cancel`` can use it at
once. Writes are short: the orchestrator buffers its changes and commits them in
one ``BEGIN IMMEDIATE`` transaction per scheduling round (:meth:`Store.flush`).

A run whose orchestrator is no longer alive (pid and start time no longer match)
is marked Failed the next time the store is read (:meth:`Store.reap_orphans`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azml.targets.local import procs

SCHEMA_VERSION = "2"
#: Tables that only cache what can be computed again: dropped when the schema changes.
CACHE_TABLES = ("file_index",)
DB_NAME = "azml.db"
ACTIVE = ("NotStarted", "Queued", "Running")
FINAL = ("Completed", "Reused", "Failed", "Canceled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs(
    run_id TEXT PRIMARY KEY, experiment TEXT, config TEXT, status TEXT, reason TEXT,
    started REAL, ended REAL, orchestrator_pid INTEGER, orchestrator_start TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0, run_dir TEXT);
CREATE TABLE IF NOT EXISTS step_runs(
    step_run_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, name TEXT,
    position INTEGER, type TEXT, status TEXT, reason TEXT, content_key TEXT, components TEXT,
    exit_code INTEGER, pid INTEGER, pid_start TEXT, started REAL, ended REAL, log TEXT,
    outputs TEXT, reused_from TEXT, ranks INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS step_runs_run ON step_runs(run_id);
CREATE INDEX IF NOT EXISTS step_runs_key ON step_runs(content_key, status);
CREATE INDEX IF NOT EXISTS step_runs_step ON step_runs(step_id);
CREATE TABLE IF NOT EXISTS file_index(
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER,
    digest TEXT, indexed_ns INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests(digest TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID;
"""

STEP_COLUMNS = (
    "step_run_id", "run_id", "step_id", "name", "position", "type", "status", "reason",
    "content_key", "components", "exit_code", "pid", "pid_start", "started", "ended", "log",
    "outputs", "reused_from", "ranks", "cancel_requested",
)


@dataclass(frozen=True)
class IndexEntry:
    """What the file index knows of one file."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    digest: str
    indexed_ns: int


class Store:
    """A connection to the run store, with a buffer of pending writes."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / DB_NAME
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._pending: list[tuple[str, Sequence[Any]]] = []
        self._init_schema()

    def _init_schema(self) -> None:
        version = self._meta_version()
        if version == SCHEMA_VERSION:
            return
        self.conn.execute("PRAGMA journal_mode=WAL")
        with self.transaction():
            if version is not None:
                for table in CACHE_TABLES:
                    self.conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))

    def _meta_version(self) -> str | None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def close(self) -> None:
        self.flush()
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, committed on success."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- buffered writes ---------------------------------------------------------

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Queue a write for the next :meth:`flush`."""
        self._pending.append((sql, params))

    def flush(self) -> None:
        """Commit every queued write in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self.transaction() as conn:
            for sql, params in pending:
                conn.execute(sql, params)

    # -- runs ----------------------------------------------------------------------

    def insert_run(self, run: dict[str, Any]) -> None:
        columns = ", ".join(run)
        marks = ", ".join("?" for _ in run)
        self.defer(f"INSERT INTO runs({columns}) VALUES({marks})", tuple(run.values()))

    def insert_step(self, step: dict[str, Any]) -> None:
        columns = ", ".join(step)
        marks = ", ".join("?" for _ in step)
        self.defer(f"INSERT INTO step_runs({columns}) VALUES({marks})", tuple(step.values()))

    def update_run(self, run_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.defer(f"UPDATE runs SET {sets} WHERE run_id=?", (*fields.values(), run_id))

    def update_step(self, step_run_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.defer(f"UPDATE step_runs SET {sets} WHERE step_run_id=?", (*fields.values(), step_run_id))

    def run(self, run_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()

    def runs(self, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM runs ORDER BY started DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.conn.execute(sql).fetchall()

    def step(self, step_run_id: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM step_runs WHERE step_run_id=?", (step_run_id,)).fetchone()

    def steps(self, run_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM step_runs WHERE run_id=? ORDER BY position", (run_id,)).fetchall()

    def cancel_flags(self, run_id: str) -> tuple[bool, set[str]]:
        """Whether the run is asked to stop, and the step ids asked to stop."""
        row = self.conn.execute("SELECT cancel_requested FROM runs WHERE run_id=?", (run_id,)).fetchone()
        steps = self.conn.execute(
            "SELECT step_id FROM step_runs WHERE run_id=? AND cancel_requested=1", (run_id,)).fetchall()
        return bool(row and row[0]), {r[0] for r in steps}

    # -- reuse ---------------------------------------------------------------------

    def reusable(self, content_key: str) -> list[sqlite3.Row]:
        """Completed step runs with this content key, newest first."""
        return self.conn.execute(
            "SELECT step_run_id, outputs FROM step_runs WHERE content_key=? AND status='Completed' "
            "ORDER BY ended DESC", (content_key,)).fetchall()

    def previous_attempt(self, config: str, step_id: str, run_id: str) -> sqlite3.Row | None:
        """The latest finished step run of the same step of the same config, another run."""
        return self.conn.execute(
            "SELECT s.step_run_id, s.status, s.content_key, s.components FROM step_runs s "
            "JOIN runs r ON r.run_id = s.run_id WHERE r.config=? AND s.step_id=? AND s.run_id<>? "
            "AND s.components IS NOT NULL AND s.status IN ('Completed','Reused','Failed','Canceled') "
            "ORDER BY s.ended DESC LIMIT 1", (config, step_id, run_id)).fetchone()

    # -- file index and manifests ---------------------------------------------------

    def index_under(self, root: str) -> dict[str, IndexEntry]:
        """Every index entry whose path is ``root`` or lies below it."""
        rows = self.conn.execute(
            "SELECT * FROM file_index WHERE path=? OR (path>=? AND path<?)",
            (root, root + "/", root + "0")).fetchall()
        return {r["path"]: IndexEntry(r["size"], r["mtime_ns"], r["ctime_ns"], r["ino"], r["digest"],
                                      r["indexed_ns"]) for r in rows}

    def remember_file(self, path: str, entry: IndexEntry) -> None:
        self.defer("INSERT OR REPLACE INTO file_index VALUES(?,?,?,?,?,?,?)",
                   (path, entry.size, entry.mtime_ns, entry.ctime_ns, entry.ino, entry.digest,
                    entry.indexed_ns))

    def save_manifest(self, digest: str, body: dict[str, str]) -> None:
        self.defer("INSERT OR IGNORE INTO manifests VALUES(?, ?)",
                   (digest, json.dumps(body, sort_keys=True, separators=(",", ":"))))

    def manifest(self, digest: str) -> dict[str, str] | None:
        row = self.conn.execute("SELECT body FROM manifests WHERE digest=?", (digest,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- orphans -------------------------------------------------------------------

    def reap_orphans(self) -> list[str]:
        """Mark Failed every active run whose orchestrator died; stop its leftovers.

        Returns the ids of the runs marked.
        """
        rows = self.conn.execute(
            "SELECT run_id, orchestrator_pid, orchestrator_start FROM runs "
            "WHERE status IN ('NotStarted','Queued','Running')").fetchall()
        dead = [r for r in rows if not procs.is_alive(r["orchestrator_pid"], r["orchestrator_start"])]
        for row in dead:
            self._fail_orphan(row["run_id"], row["orchestrator_pid"])
        return [r["run_id"] for r in dead]

    def _fail_orphan(self, run_id: str, pid: int | None) -> None:
        running = self.conn.execute(
            "SELECT step_run_id, pid, pid_start FROM step_runs WHERE run_id=? AND status='Running'",
            (run_id,)).fetchall()
        for step in running:
            procs.stop_step(step["step_run_id"], step["pid"], step["pid_start"], grace=1.0)
        now = time.time()
        reason = f"the orchestrator (pid {pid}) stopped without finishing the run"
        with self.transaction() as conn:
            conn.execute(
                "UPDATE step_runs SET status='Failed', reason=?, ended=? "
                "WHERE run_id=? AND status IN ('Running','Queued')", (reason, now, run_id))
            conn.execute(
                "UPDATE runs SET status='Failed', reason=?, ended=? WHERE run_id=? "
                "AND status IN ('NotStarted','Queued','Running')", (reason, now, run_id))


def open_store(home: Path) -> Store:
    """The store under ``home`` (created on first use)."""
    return Store(home)
