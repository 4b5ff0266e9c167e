"""Section 6's pieces (no benchmark is run): the config is valid, the scripts agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from azml import api
from benchmarks import bigdata


def test_pipeline_and_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = bigdata._pipeline(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert "valid, 1 step (0 MPI)" in api.validate(config)
    scripts = bigdata._scripts(tmp_path)
    data = tmp_path / "data"
    for index in range(3):
        (data / f"d{index}").mkdir(parents=True)
        (data / f"d{index}" / "f.txt").write_text(str(index))
    walk = subprocess.run([sys.executable, str(scripts["walk"]), str(data)], check=True,
                          capture_output=True, text=True).stdout
    assert walk.strip() == "3"
    first, second = (subprocess.run([sys.executable, str(scripts["noop"]), str(data),
                                     str(tmp_path / "home")], check=True, capture_output=True,
                                    text=True).stdout.strip() for _ in range(2))
    assert first == second and len(first) == 64
    rss = subprocess.run([sys.executable, str(scripts["rss"]), sys.executable, "-c", "pass"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert rss[0] == "0" and int(rss[1]) > 1000
