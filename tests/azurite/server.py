"""Azurite, the official Azure Storage emulator, as a real process on a free loopback port.

Installed by ``npm ci`` in this folder (``scripts/test`` does it); started from its
``azurite-blob`` binary with Node, and stopped by its PID. Used by the tests in
``tests/data`` and by ``benchmarks/data.py``. Its development account and key are
the documented, public ones (learn.microsoft.com, "Use the Azurite emulator": the
well-known ``devstoreaccount1`` account); they protect nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BINARY = HERE / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# The emulator's published development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteMissing(RuntimeError):
    """Node or the Azurite package is not installed."""


def missing_reason() -> str | None:
    """Why Azurite cannot start here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (Azurite needs Node.js >= 18; apt-get install nodejs npm)"
    if not BINARY.exists():
        return (f"Azurite is not installed ({BINARY} missing): run `npm ci --prefix {HERE}` "
                "(scripts/test does it)")
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Azurite:
    """One running emulator; ``url`` is the path-style account URL."""

    location: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def env(self, container: str, **extra: str) -> dict[str, str]:
        """The azml settings that point at this emulator and ``container``."""
        return {"BLOB_ACCOUNT_NAME": ACCOUNT, "BLOB_CONTAINER_NAME": container,
                "BLOB_ACCOUNT_KEY": KEY, "BLOB_ACCOUNT_URL": self.url, **extra}

    def start(self, timeout: float = 60.0) -> Azurite:
        reason = missing_reason()
        if reason:
            raise AzuriteMissing(reason)
        self.location.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            with open(self.location / "azurite.log", "ab") as log:
                self.process = subprocess.Popen(
                    [str(BINARY), "--skipApiVersionCheck", "--disableTelemetry", "--silent",
                     "--location", str(self.location), "--blobHost", "127.0.0.1",
                     "--blobPort", str(self.port)],
                    cwd=self.location, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")})
            if self._wait_ready(timeout):
                return self
            self.stop()
        tail = (self.location / "azurite.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Azurite did not start on 127.0.0.1 (log tail: {tail})")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate our process by its PID (SIGTERM, then SIGKILL after 10 s)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def service(self) -> Any:
        """A BlobServiceClient on the emulator, for test setup and checks."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(self.url, credential={"account_name": ACCOUNT, "account_key": KEY})


@contextmanager
def running(folder: Path, purpose: str) -> Iterator[Azurite]:
    """An emulator storing under ``folder`` for the duration; a test fails (not skips)
    when Azurite is not installed, saying what it was needed for."""
    import pytest

    server = Azurite(folder)
    try:
        server.start()
    except AzuriteMissing as exc:
        pytest.fail(f"Azurite is needed for {purpose}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
