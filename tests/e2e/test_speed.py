"""Issue #4's speed goal: a fully reused re-run of a 20-step chain, whole command, < 0.5 s."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import FIXTURES, Project

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(FIXTURES))
from bench_chain import write_chain


def test_fully_reused_twenty_step_chain_takes_under_half_a_second(proj: Project) -> None:
    write_chain(proj.root / "chain", 20)
    command = [sys.executable, "-m", "azml", "run", "pipeline_config.json"]
    cwd = proj.root / "chain"
    first = subprocess.run(command, cwd=cwd, env=proj.env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    times = []
    for _ in range(3):
        start = time.perf_counter()
        again = subprocess.run(command, cwd=cwd, env=proj.env, capture_output=True, text=True,
                               check=False)
        times.append(time.perf_counter() - start)
        assert again.returncode == 0 and again.stderr.count(": Reused") == 20
    assert statistics.median(times) < 0.5, times


def test_fully_reused_run_writes_in_one_transaction(proj: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.local import store

    write_chain(proj.root / "chain", 5)
    monkeypatch.chdir(proj.root / "chain")
    assert proj.run().status == "Completed"
    statements: list[str] = []
    original = store.Store.__init__

    def traced(self: store.Store, home) -> None:  # type: ignore[no-untyped-def]
        original(self, home)
        self.conn.set_trace_callback(statements.append)

    monkeypatch.setattr(store.Store, "__init__", traced)
    again = proj.run()
    assert [s.status for s in again.steps] == ["Reused"] * 5
    assert sum(1 for s in statements if s.startswith("BEGIN")) == 1
