"""The local run store: runs, step runs, the file index and manifests, in SQLite.

One database file, ``<AZML_HOME>/azml.db``, in WAL mode with a busy timeout, so
that several orchestrators, ``azml status`` and ``azml cancel`` can use it at
once. Writes are short: the orchestrator buffers its changes and commits them in
one ``BEGIN IMMEDIATE`` transaction per scheduling round (:meth:`Store.flush`).

A run whose orchestrator is no longer alive (pid and start time no longer match)
is marked Failed the next time the store is read (:meth:`Store.reap_orphans`).

Every SQL statement of the local target lives in this module. Failures are
reported with the file's path: a damaged file (StoreDamagedError, with the
command that repairs it, see :mod:`azml.targets.local.repair`), a full disk or
a read-only one (StoreWriteError). A zero-length file is damage, not an empty
history. Creating the file and its schema happens under a lock file, so two
processes starting on a fresh home never race. Where the home cannot be
written (a read-only checkout), the store opens read-only and reading commands
still work.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azml.errors import StoreDamagedError, StoreWriteError
from azml.targets.local import procs
from azml.targets.local.model import ACTIVE, FINAL, Status

SCHEMA_VERSION = "3"
#: Tables that only cache what can be computed again: dropped when the schema changes.
CACHE_TABLES = ("file_index",)
DB_NAME = "azml.db"
LOCK_NAME = "azml.db.lock"
HEADER = b"SQLite format 3\x00"
_ACTIVE_SQL = "(" + ",".join(f"'{s}'" for s in ACTIVE) + ")"
_FINAL_SQL = "(" + ",".join(f"'{s}'" for s in FINAL) + ")"

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
    outputs TEXT, reused_from TEXT, ranks INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
    output_digest TEXT);
CREATE INDEX IF NOT EXISTS step_runs_run ON step_runs(run_id);
CREATE INDEX IF NOT EXISTS step_runs_key ON step_runs(content_key, status);
CREATE INDEX IF NOT EXISTS step_runs_step ON step_runs(step_id);
CREATE TABLE IF NOT EXISTS file_index(
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER,
    digest TEXT, indexed_ns INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests(digest TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID;
"""

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
    """A connection to the run store, with a buffer of pending writes.

    Args:
        home: the AZML_HOME folder (created unless ``read_only``).
        read_only: open for reading only; also chosen by itself when ``home``
            cannot be written.
    """

    def __init__(self, home: Path, *, read_only: bool = False) -> None:
        self.home = home
        self.path = home / DB_NAME
        self._pending: list[tuple[str, Sequence[Any]]] = []
        self.read_only = read_only or not _writable(home)
        with self._errors():
            if self.read_only:
                self.conn = _open_read_only(self.path)
            else:
                home.mkdir(parents=True, exist_ok=True)
                with init_lock(home):
                    check_file(self.path)
                    self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                    self.conn.row_factory = sqlite3.Row
                    self.conn.execute("PRAGMA busy_timeout=30000")
                    self.conn.execute("PRAGMA synchronous=NORMAL")
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
            have = {row[1] for row in self.conn.execute("PRAGMA table_info(step_runs)")}
            if "output_digest" not in have:  # a store of schema 2
                self.conn.execute("ALTER TABLE step_runs ADD COLUMN output_digest TEXT")
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))

    def _meta_version(self) -> str | None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return None
        return row[0] if row else None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as azml's: which file, what went wrong, what to do."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from None
        except sqlite3.DatabaseError as exc:  # malformed, not a database, ...
            raise StoreDamagedError(str(self.path), str(exc)) from None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._errors():
            return self.conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._errors():
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, committed on success."""
        with self._errors():
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

    def abandon(self) -> None:
        """Drop the writes still queued."""
        self._pending = []

    def flush(self) -> None:
        """Commit every queued write in one transaction (kept queued if that fails)."""
        if not self._pending:
            return
        if self.read_only:
            raise StoreWriteError(str(self.path), "it is read-only here",
                                  "Run from a checkout where AZML_HOME can be written")
        with self.transaction() as conn:
            for sql, params in self._pending:
                conn.execute(sql, params)
        self._pending = []

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
        return self._one("SELECT * FROM runs WHERE run_id=?", (run_id,))

    def runs(self, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM runs ORDER BY started DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._all(sql)

    def step(self, step_run_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM step_runs WHERE step_run_id=?", (step_run_id,))

    def steps(self, run_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM step_runs WHERE run_id=? ORDER BY position", (run_id,))

    def run_status(self, run_id: str) -> str | None:
        row = self._one("SELECT status FROM runs WHERE run_id=?", (run_id,))
        return row[0] if row else None

    def step_status(self, step_run_id: str) -> str | None:
        row = self._one("SELECT status FROM step_runs WHERE step_run_id=?", (step_run_id,))
        return row[0] if row else None

    def cancel_flags(self, run_id: str) -> tuple[bool, set[str]]:
        """Whether the run is asked to stop, and the step ids asked to stop."""
        row = self._one("SELECT cancel_requested FROM runs WHERE run_id=?", (run_id,))
        steps = self._all("SELECT step_id FROM step_runs WHERE run_id=? AND cancel_requested=1",
                          (run_id,))
        return bool(row and row[0]), {r[0] for r in steps}

    def request_cancel(self, run_id: str, step_run_id: str | None = None) -> None:
        """Ask the orchestrator of ``run_id`` to stop the run, or one step run."""
        with self.transaction() as conn:
            if step_run_id is None:
                conn.execute("UPDATE runs SET cancel_requested=1 WHERE run_id=?", (run_id,))
            else:
                conn.execute("UPDATE step_runs SET cancel_requested=1 WHERE step_run_id=?",
                             (step_run_id,))

    def record_cancel(self, run_id: str, step_run_id: str | None, reason: str = "canceled") -> None:
        """Record a cancel whose orchestrator is gone: active steps and the run end Canceled."""
        now = time.time()
        with self.transaction() as conn:
            if step_run_id is not None:
                conn.execute(f"UPDATE step_runs SET status=?, reason=?, ended=? "
                             f"WHERE step_run_id=? AND status IN {_ACTIVE_SQL}",
                             (Status.CANCELED, reason, now, step_run_id))
            conn.execute(f"UPDATE step_runs SET status=?, reason=?, ended=? WHERE run_id=? "
                         f"AND status IN ('{Status.QUEUED}','{Status.RUNNING}')",
                         (Status.CANCELED, reason, now, run_id))
            conn.execute(f"UPDATE runs SET status=?, reason=?, ended=? WHERE run_id=? "
                         f"AND status IN {_ACTIVE_SQL}", (Status.CANCELED, reason, now, run_id))

    # -- reuse ---------------------------------------------------------------------

    def reusable(self, content_key: str) -> list[sqlite3.Row]:
        """Completed step runs with this content key, newest first (with log and output digest)."""
        return self._all(
            "SELECT step_run_id, outputs, log, output_digest FROM step_runs WHERE content_key=? "
            f"AND status='{Status.COMPLETED}' ORDER BY ended DESC", (content_key,))

    def previous_attempt(self, config: str, step_id: str, run_id: str) -> sqlite3.Row | None:
        """The latest finished step run of the same step of the same config, another run."""
        return self._one(
            "SELECT s.step_run_id, s.status, s.content_key, s.components FROM step_runs s "
            "JOIN runs r ON r.run_id = s.run_id WHERE r.config=? AND s.step_id=? AND s.run_id<>? "
            f"AND s.components IS NOT NULL AND s.status IN {_FINAL_SQL} "
            "ORDER BY s.ended DESC LIMIT 1", (config, step_id, run_id))

    # -- file index and manifests ---------------------------------------------------

    def index_under(self, root: str) -> dict[str, IndexEntry]:
        """Every index entry whose path is ``root`` or lies below it."""
        rows = self._all("SELECT * FROM file_index WHERE path=? OR (path>=? AND path<?)",
                         (root, root + "/", root + "0"))
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
        row = self._one("SELECT body FROM manifests WHERE digest=?", (digest,))
        return json.loads(row[0]) if row else None

    # -- orphans -------------------------------------------------------------------

    def reap_orphans(self) -> list[str]:
        """Mark Failed every active run whose orchestrator died; stop its leftovers.

        A read-only store is left as it is. Returns the ids of the runs marked.
        """
        if self.read_only:
            return []
        rows = self._all("SELECT run_id, orchestrator_pid, orchestrator_start FROM runs "
                         f"WHERE status IN {_ACTIVE_SQL}")
        dead = [r for r in rows if not procs.is_alive(r["orchestrator_pid"], r["orchestrator_start"])]
        for row in dead:
            self._fail_orphan(row["run_id"], row["orchestrator_pid"])
        return [r["run_id"] for r in dead]

    def _fail_orphan(self, run_id: str, pid: int | None) -> None:
        running = self._all("SELECT step_run_id, pid, pid_start FROM step_runs "
                            f"WHERE run_id=? AND status='{Status.RUNNING}'", (run_id,))
        for step in running:
            procs.stop_step(step["step_run_id"], step["pid"], step["pid_start"], grace=1.0)
        now = time.time()
        reason = f"the orchestrator (pid {pid}) stopped without finishing the run"
        with self.transaction() as conn:
            conn.execute(
                "UPDATE step_runs SET status=?, reason=?, ended=? WHERE run_id=? "
                f"AND status IN ('{Status.RUNNING}','{Status.QUEUED}')",
                (Status.FAILED, reason, now, run_id))
            conn.execute(
                f"UPDATE runs SET status=?, reason=?, ended=? WHERE run_id=? AND status IN {_ACTIVE_SQL}",
                (Status.FAILED, reason, now, run_id))

    # -- run records beside the run folders ---------------------------------------------

    def write_run_record(self, run_dir: Path, run: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """Write ``run.json`` (the run's rows) into its folder, atomically: the repair reads it."""
        run_dir.mkdir(parents=True, exist_ok=True)
        temp = run_dir / f".run.json.{os.getpid()}"
        try:
            temp.write_text(json.dumps({"run": run, "steps": steps}, sort_keys=True))
            os.replace(temp, run_dir / RUN_RECORD)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise _write_error(run_dir / RUN_RECORD, exc) from None

    def import_rows(self, runs: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]],
                    manifests: Sequence[tuple[str, str]] = ()) -> None:
        """Insert rows (from a salvage or from run folders), keeping rows already present."""
        with self.transaction() as conn:
            for table, rows in (("runs", runs), ("step_runs", steps)):
                for row in rows:
                    known = {k: v for k, v in row.items() if k in _COLUMNS[table]}
                    columns = ", ".join(known)
                    marks = ", ".join("?" for _ in known)
                    conn.execute(f"INSERT OR IGNORE INTO {table}({columns}) VALUES({marks})",
                                 tuple(known.values()))
            conn.executemany("INSERT OR IGNORE INTO manifests VALUES(?, ?)", manifests)


    # -- folder stat cache (added for the fast no-op; see hashing.Hasher.tree_digest) --

    #: Created on first write, so stores made before it need no schema change.
    TREE_STATS_TABLE = (
        "CREATE TABLE IF NOT EXISTS tree_stats(root TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
        "manifest TEXT NOT NULL, newest_ns INTEGER NOT NULL, indexed_ns INTEGER NOT NULL, "
        "files INTEGER NOT NULL) WITHOUT ROWID")

    def tree_stat(self, root: str) -> sqlite3.Row | None:
        """The recorded stat fingerprint of folder ``root`` and its manifest digest, if any."""
        try:
            row: sqlite3.Row | None = self.conn.execute(
                "SELECT fingerprint, manifest, newest_ns, indexed_ns, files FROM tree_stats "
                "WHERE root=?", (root,)).fetchone()
            return row
        except sqlite3.OperationalError:  # no such table yet: nothing recorded
            return None

    def remember_tree(self, root: str, fingerprint: str, manifest: str, newest_ns: int,
                      indexed_ns: int, files: int) -> None:
        """Queue the fingerprint of folder ``root`` (taken at ``indexed_ns``) -> manifest digest."""
        self.defer(self.TREE_STATS_TABLE)
        self.defer("INSERT OR REPLACE INTO tree_stats VALUES(?,?,?,?,?,?)",
                   (root, fingerprint, manifest, newest_ns, indexed_ns, files))


def open_store(home: Path) -> Store:
    """The store under ``home`` (created on first use)."""
    return Store(home)
RUN_RECORD = "run.json"
_COLUMNS = {
    "runs": ("run_id", "experiment", "config", "status", "reason", "started", "ended",
             "orchestrator_pid", "orchestrator_start", "cancel_requested", "run_dir"),
    "step_runs": ("step_run_id", "run_id", "step_id", "name", "position", "type", "status", "reason",
                  "content_key", "components", "exit_code", "pid", "pid_start", "started", "ended",
                  "log", "outputs", "reused_from", "ranks", "cancel_requested", "output_digest"),
}


def _writable(home: Path) -> bool:
    """True when ``home`` (or the folder that would hold it) can be written."""
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    db = home / DB_NAME
    if db.exists() and not os.access(db, os.W_OK):
        return False
    return os.access(probe, os.W_OK)


@contextmanager
def init_lock(home: Path) -> Iterator[None]:
    """An exclusive lock while the file and its schema are checked or created."""
    fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_file(path: Path) -> None:
    """A store file that exists must be a SQLite database: a zero-length one is damage."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HEADER))
    except FileNotFoundError:
        return
    if not head:
        raise StoreDamagedError(str(path), "the file is empty (0 bytes), so the history of runs "
                                "is gone from it")
    if head != HEADER:
        raise StoreDamagedError(str(path), "file is not a database")


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection: ``mode=ro``, or ``immutable=1`` where not even -shm can be made."""
    check_file(path)
    if not path.exists():
        raise StoreWriteError(str(path), "it does not exist and cannot be created here (read-only)",
                              "Run from a checkout where AZML_HOME can be written")
    last: sqlite3.Error | None = None
    for flags in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"file:{path}?{flags}", uri=True, timeout=30.0,
                                   isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


def _write_error(path: Path, exc: BaseException) -> Exception:
    """The StoreWriteError (or StoreDamagedError) for an operational failure on ``path``."""
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered or getattr(exc, "errno", None) == 28:
        return StoreWriteError(str(path), "the disk is full", "Free some space and run again")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreWriteError(str(path), "it is read-only here",
                               "Run from a checkout where AZML_HOME can be written")
    if "malformed" in lowered or "not a database" in lowered:
        return StoreDamagedError(str(path), text)
    if "locked" in lowered or "busy" in lowered:
        return StoreWriteError(str(path), "another azml process held it locked for 30 s",
                               "Run again when the other command has finished")
    return StoreWriteError(str(path), text, "")


# -- reading a damaged store (azml store repair) ---------------------------------------

#: Unreadable stretches skipped per table before giving up on it.
MAX_SKIPS = 2000


def is_healthy(path: Path) -> bool:
    """True when ``path`` is a store SQLite reads without complaint (``quick_check``)."""
    if not path.exists():
        return False
    try:
        check_file(path)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            conn.execute("SELECT count(*) FROM runs").fetchone()
            return bool(ok)
        finally:
            conn.close()
    except (sqlite3.Error, StoreDamagedError, OSError):
        return False


def salvage(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """Runs, step runs and manifests still readable in a damaged store file."""
    conn = _open_any(path)
    if conn is None:
        return [], [], []
    try:
        runs = _readable_rows(conn, "runs")
        steps = _readable_rows(conn, "step_runs")
        try:
            manifests = [(r[0], r[1]) for r in conn.execute("SELECT digest, body FROM manifests")]
        except sqlite3.DatabaseError:
            manifests = []
    finally:
        conn.close()
    return runs, steps, manifests


def _open_any(path: Path) -> sqlite3.Connection | None:
    for flags in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"file:{path}?{flags}", uri=True)
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return conn
        except sqlite3.DatabaseError:
            continue
    return None


def _readable_rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    """Every readable row of ``table``, read in rowid order around damaged stretches."""
    rows: list[dict[str, Any]] = []
    last, skips = -(2 ** 63), 0
    while skips < MAX_SKIPS:
        try:
            batch = conn.execute(f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ? "
                                 "ORDER BY rowid LIMIT 200", (last,)).fetchall()
        except sqlite3.DatabaseError:
            last = max(last, 0) + 1
            skips += 1
            continue
        if not batch:
            break
        for row in batch:
            record = dict(row)
            last = record.pop("_rowid")
            rows.append(record)
    return rows
