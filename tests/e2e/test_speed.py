"""What makes a fully reused re-run fast: it writes the store in one transaction.

Timings themselves are measured by the benchmark harness (benchmarks/run.py), not here.
"""

from __future__ import annotations

import sys

import pytest

from tests.e2e.conftest import FIXTURES, Project

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(FIXTURES))
from chain_factory import write_chain


def test_fully_reused_run_writes_in_one_transaction(proj: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.local import store

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
