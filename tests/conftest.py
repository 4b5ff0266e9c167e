"""Shared fixtures: small project folders with real scripts, in tmp_path."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _loopback_works() -> bool:
    try:
        with socket.socket() as server, socket.socket() as client:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            client.settimeout(2)
            client.connect(server.getsockname())
        return True
    except OSError:
        return False


# In a fresh network namespace (``unshare -n``, how we prove the suite needs no
# network) the loopback interface is down; Open MPI and the AzureML stand-in need
# it. Bring it up when we may (root in that namespace); nothing leaves the machine.
if not _loopback_works():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)

# Tracking starts an MLflow server per AZML_HOME; tests that check tracking turn it on.
os.environ["AZML_TRACKING"] = "off"

# Step environments are built with uv; its download cache stays the user's (the test
# session's XDG_CACHE_HOME below is fresh), so a second run of the suite, or one with
# the network off, installs from that cache.
os.environ.setdefault("UV_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "uv"))

# The schema-pass cache (azml.config.schema) goes to a private folder, not the user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="azml-test-cache-")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (the cwd) with ``src/`` holding scripts a.py, b.py, c.py, d.py."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a", "b", "c", "d", "train"):
        (src / f"{name}.py").write_text("print('hello')\n")
    (src / "requirements.txt").write_text("numpy\n")
    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.startswith(("AML_COMPUTE_", "BLOB_", "AZML_")):
            monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def write_config(project: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a config dict as pipeline_config.json in the project; return its path."""

    def write(doc: dict[str, Any], name: str = "pipeline_config.json") -> Path:
        path = project / name
        path.write_text(json.dumps(doc, indent=2))
        return path

    return write


def step(script: str = "a.py", **fields: Any) -> dict[str, Any]:
    """A minimal valid extended-form step."""
    base: dict[str, Any] = {
        "type": "PythonScriptStep",
        "name": script.removesuffix(".py"),
        "script": script,
        "source_directory": "src",
    }
    base.update(fields)
    return base
