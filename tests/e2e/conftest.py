"""Fixtures for end-to-end tests: a project in tmp_path, run for real.

Every test gets its own AZML_HOME and datastore root under tmp_path; nothing is
written into the repository. ``proj.run`` runs a config in-process through the
public API; ``proj.cli`` runs ``python -m azml`` as a real subprocess.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from azml.api import load
from azml.targets.local import LocalRun, procs, run_plan, run_status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "local"


@dataclass
class Project:
    """A project folder (the cwd) with its AZML_HOME and datastore root."""

    root: Path
    home: Path
    datastores: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def copy(self, fixture: str) -> Path:
        """Copy ``tests/fixtures/local/<fixture>`` into the project."""
        shutil.copytree(FIXTURES / fixture, self.root, dirs_exist_ok=True)
        scripts = list((self.root / "src").glob("*.py"))
        if any(re.search(r"^(from contract |import contract)", f.read_text(), re.MULTILINE) for f in scripts):
            # the shared recorder goes inside the snapshot, as a step may import nothing outside it
            shutil.copy2(FIXTURES / "tools" / "contract.py", self.root / "src" / "contract.py")
        return self.root / "pipeline_config.json"

    def write_config(self, doc: dict[str, Any], name: str = "pipeline_config.json") -> Path:
        path = self.root / name
        path.write_text(json.dumps(doc, indent=2))
        return path

    def script(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def run(self, config: str = "pipeline_config.json", params: tuple[str, ...] = (),
            **kwargs: Any) -> LocalRun:
        """Run in-process; the display text is appended to ``outputs``."""
        loaded = load(config, params=list(params))
        out = io.StringIO()
        try:
            return run_plan(loaded.plan, loaded.settings, out=out, **kwargs)
        finally:
            self.outputs.append(out.getvalue())

    def status(self, run_id: str | None = None) -> Any:
        return run_status(load_settings_here(), run_id)

    def cli(self, *args: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "azml", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False, **kwargs)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "azml", *args], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def load_settings_here() -> Any:
    from azml.settings import load_settings

    return load_settings()


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    home, datastores = tmp_path / "home", tmp_path / "datastores"
    shutil.copytree(FIXTURES / "data", datastores)
    for name in list(os.environ):
        if name.startswith(("AZML_", "BLOB_", "AML_", "AZUREML_", "OMPI_COMM_WORLD")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZML_TRACKING", "off")  # tests that check tracking turn it on
    monkeypatch.setenv("AZML_HOME", str(home))
    monkeypatch.setenv("AZML_DATASTORE_ROOT", str(datastores))
    monkeypatch.chdir(root)
    return Project(root, home, datastores, dict(os.environ))


@pytest.fixture
def tracked(proj: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """``proj`` with local tracking on (and its MLflow server stopped afterwards)."""
    from azml.tracking import server

    monkeypatch.setenv("AZML_TRACKING", "on")
    monkeypatch.setenv("AZML_TRACKING_IDLE", "120")
    proj.env = {**proj.env, "AZML_TRACKING": "on", "AZML_TRACKING_IDLE": "120"}
    yield proj
    server.stop_server(proj.home)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def leftover(marker: str) -> list[int]:
    """Live processes still carrying ``AZUREML_RUN_ID=<marker>``."""
    return procs.marked_pids(marker)


def processes_with(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (psutil-free: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and procs.start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found
