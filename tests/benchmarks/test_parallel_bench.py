"""Section 6's two contenders make the same run() calls and write the same rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.parallel import DRIVER, check_rows, write_inputs
from benchmarks.timing import CaseError


def test_driver_and_pool_write_the_same_rows(tmp_path: Path) -> None:
    source, data, pool = write_inputs(tmp_path, files=230)
    runs = {
        "azml": [sys.executable, str(DRIVER), "--entry", "score.py", "--source", str(source),
                 "--input", f"items={data}", "--output", str(tmp_path / "azml"), "--output-action",
                 "append_row", "--mini-batch-size", "10", "--process-count-per-node", "2",
                 "--logs", str(tmp_path / "logs")],
        "pool": [sys.executable, str(pool), str(source), str(data), str(tmp_path / "pool"), "10", "2"],
    }
    for name, argv in runs.items():
        subprocess.run(argv, cwd=tmp_path, check=True, capture_output=True, timeout=120)
        check_rows(tmp_path / name, name, files=230)
    azml = (tmp_path / "azml" / "parallel_run_step.txt").read_text()
    assert azml == (tmp_path / "pool" / "parallel_run_step.txt").read_text()
    with pytest.raises(CaseError, match="expected one for each of the 231 files"):
        check_rows(tmp_path / "azml", "azml", files=231)
