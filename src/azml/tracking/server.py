"""The local MLflow tracking server: one per AZML_HOME, started on first use, kept alive.

Why a server (and not the SQLite file itself) is what steps talk to: a step's
``mlflow`` may be ``mlflow-skinny`` (what ``azureml-mlflow`` installs), which has
no SQLite backend, and any MLflow version speaks the REST API, while only the
version that created a database may open it. AzureML likewise hands a job an
URI, not a file. Why it is kept alive: importing MLflow and opening the store
takes 3 to 9 s on a 2-core machine, far more than the 0.5 s tracking may add to a
run; a running server answers in about 10 ms.

Files, under ``$AZML_HOME/tracking/``: ``mlflow.db`` (the SQLite store),
``artifacts/`` (proxied artifacts), ``server.json`` (pid, port, uri),
``server.log``, ``server.lock`` (serialises starting). The listening socket is
bound here and inherited by the server, so clients that connect while it starts
wait in the backlog instead of being refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from azml.errors import TrackingUnavailable
from azml.settings import is_secret

SERVE_MODULE = "azml.tracking.serve"
SQLITE_MAGIC = b"SQLite format 3\x00"
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class Layout:
    """Where the tracking files of one AZML_HOME are."""

    root: Path

    @classmethod
    def of(cls, home: str | os.PathLike[str]) -> Layout:
        return cls(Path(home).resolve() / "tracking")

    @property
    def db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def info(self) -> Path:
        return self.root / "server.json"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def lock(self) -> Path:
        return self.root / "server.lock"

    @property
    def backend_uri(self) -> str:
        return f"sqlite:///{self.db}"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    port: int
    db: str

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


IDLE_VARIABLE = "AZML_TRACKING_IDLE"
DEFAULT_IDLE = 1800.0


def idle_seconds(raw: str | None = None) -> float:
    """How long the server waits for a request before it exits: ``raw`` (the setting
    ``AZML_TRACKING_IDLE``, from the environment or ``.env``), else the environment's."""
    value = raw if raw not in (None, "") else os.environ.get(IDLE_VARIABLE)
    try:
        return max(1.0, float(value)) if value else DEFAULT_IDLE
    except ValueError:
        return DEFAULT_IDLE


def mlflow_installed() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def check_store(layout: Layout) -> None:
    """TrackingUnavailable when the store file exists but is not an SQLite database."""
    if not layout.db.exists():
        return
    try:
        with open(layout.db, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise TrackingUnavailable(f"tracking store {layout.db} cannot be read: {exc}") from None
    if head and head != SQLITE_MAGIC:
        raise TrackingUnavailable(
            f"tracking store {layout.db} is not an SQLite database (corrupt?); move it away "
            "to start a new store")


def ensure_server(home: str | os.PathLike[str], idle: str | None = None) -> ServerInfo:
    """The running server of ``home``, started when there is none (does not wait for it);
    ``idle``: the ``AZML_TRACKING_IDLE`` setting for a server it starts."""
    if not mlflow_installed():
        raise TrackingUnavailable("MLflow is not installed (pip install 'azml[tracking]')")
    layout = Layout.of(home)
    layout.root.mkdir(parents=True, exist_ok=True)
    check_store(layout)
    with _locked(layout.lock):
        info = read_info(layout)
        if info is not None and alive(info):
            return info
        return _start(layout, idle_seconds(idle))


def read_info(layout: Layout) -> ServerInfo | None:
    try:
        raw = json.loads(layout.info.read_text())
        return ServerInfo(int(raw["pid"]), int(raw["port"]), str(raw["db"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def alive(info: ServerInfo) -> bool:
    """The process is still our server for this store (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [w.decode(errors="replace") for w in cmdline]
    return SERVE_MODULE in words and any(w.endswith(info.db) for w in words)


def wait_ready(info: ServerInfo, layout: Layout, timeout: float = READY_TIMEOUT) -> None:
    """Block until the server answers ``/health``; TrackingUnavailable if it died."""
    try:
        with urllib.request.urlopen(f"{info.uri}/health", timeout=timeout) as answer:
            answer.read()
    except OSError as exc:
        tail = _log_tail(layout.log)
        raise TrackingUnavailable(
            f"the tracking server for {layout.db} did not start ({exc}); "
            f"{tail or 'see ' + str(layout.log)}") from None


def stop_server(home: str | os.PathLike[str], timeout: float = 10.0) -> bool:
    """Stop the server of ``home``; False when none was running."""
    layout = Layout.of(home)
    with _locked(layout.lock):
        info = read_info(layout)
        if info is None or not alive(info):
            layout.info.unlink(missing_ok=True)
            return False
        os.kill(info.pid, 15)
        deadline = time.monotonic() + timeout
        while alive(info) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(info):
            os.kill(info.pid, 9)
        layout.info.unlink(missing_ok=True)
        return True


def _start(layout: Layout, idle: float) -> ServerInfo:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    argv = [sys.executable, "-m", SERVE_MODULE, "--fd", str(listener.fileno()),
            "--backend", layout.backend_uri, "--artifacts", str(layout.artifacts),
            "--idle", str(idle)]
    env = {k: v for k, v in os.environ.items() if not is_secret(k)}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    with open(layout.log, "ab") as log:
        process = subprocess.Popen(argv, cwd=layout.root, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   pass_fds=[listener.fileno()], start_new_session=True)
    listener.close()
    info = ServerInfo(process.pid, port, str(layout.db))
    partial = layout.info.with_name(f".server.json.{os.getpid()}")
    partial.write_text(json.dumps({"pid": info.pid, "port": port, "db": info.db,
                                   "started": time.time()}))
    os.replace(partial, layout.info)
    return info


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    useful = [line for line in text if "Error" in line or "error" in line] or text
    return " | ".join(useful[-lines:])
