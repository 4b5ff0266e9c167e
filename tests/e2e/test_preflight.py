"""Problems found before anything runs: missing data, snapshots AzureML would refuse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from azml.errors import DataNotFoundError, SnapshotError
from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

STEP = {"type": "PythonScriptStep", "source_directory": "src"}


def test_missing_datastore_input_is_reported_before_anything_runs(proj: Project) -> None:
    proj.script("src/first.py", "open('/dev/null', 'w'); import pathlib, sys\n"
                "pathlib.Path(sys.argv[1]).write_text('ran')\n")
    marker = proj.root / "first-ran.txt"
    proj.write_config({
        "first": {**STEP, "name": "first", "script": "first.py", "inputs": {},
                  "arguments": [str(marker)]},
        "second": {**STEP, "name": "second", "script": "first.py", "depends_on": ["first"],
                   "inputs": {"raw": {"datastore": "blobstore", "path": "raw"},
                              "gone": {"datastore": "elsewhere", "path": "missing/data"}},
                   "arguments": [str(marker)]},
    })
    with pytest.raises(DataNotFoundError) as info:
        proj.run()
    assert info.value.missing == (
        ("second", "elsewhere", "missing/data", str(proj.datastores / "elsewhere" / "missing/data")),)
    assert not marker.exists()
    assert proj.status() == []
    result = proj.cli("run", "pipeline_config.json")
    assert result.returncode == 2
    assert "datastore 'elsewhere' path 'missing/data'" in result.stderr
    assert str(proj.datastores / "elsewhere") in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_amlignore_is_honoured_and_gitignore_only_without_it(proj: Project) -> None:
    proj.script("src/list.py", "import json, os\n"
                "files = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)\n"
                "print(json.dumps(files))\n")
    proj.script("src/data/big.bin", "x" * 100)
    proj.script("src/data/keep.txt", "keep")
    proj.script("src/notes.md", "notes")
    proj.script("src/.amlignore", "data/\n!data/keep.txt\n*.md\n")
    proj.script("src/.gitignore", "list.py\n")  # not read: .amlignore wins
    proj.write_config({"list": {**STEP, "name": "list", "script": "list.py", "inputs": {}}})
    run = proj.run()
    seen = json.loads(Path(run.step("list").log).read_text())
    assert seen == [".amlignore", ".gitignore", "data/keep.txt", "list.py"]
    (proj.root / "src" / ".amlignore").unlink()
    proj.script("src/.gitignore", "*.bin\n")
    rerun = proj.run()
    assert rerun.step("list").reason.startswith("source changed")
    seen = json.loads(Path(rerun.step("list").log).read_text())
    assert seen == [".gitignore", "data/keep.txt", "list.py", "notes.md"]


def test_snapshot_over_the_size_limit_is_refused_with_azureml_advice(proj: Project) -> None:
    proj.script("src/ok.py", "print('never')\n")
    with open(proj.root / "src" / "weights.bin", "wb") as handle:
        handle.truncate(301 * 1024 * 1024)  # sparse: large, but no disk used
    proj.write_config({"big": {**STEP, "name": "big", "script": "ok.py", "inputs": {}}})
    with pytest.raises(SnapshotError) as info:
        proj.run()
    message = str(info.value)
    assert "exceeds the limit of 300.0 MB" in message
    assert "http://aka.ms/aml-largefiles" in message
    assert proj.status() == []
    (proj.root / "src" / ".amlignore").write_text("*.bin\n")
    assert proj.run().status == "Completed"


def test_invalid_ignore_pattern_is_refused(proj: Project) -> None:
    proj.script("src/ok.py", "print('never')\n")
    proj.script("src/.amlignore", "ok\\\n")
    proj.write_config({"s": {**STEP, "name": "s", "script": "ok.py", "inputs": {}}})
    with pytest.raises(SnapshotError, match=r"\.amlignore: invalid pattern at line 1"):
        proj.run()


def test_azml_home_inside_the_source_directory_is_left_out(proj: Project, monkeypatch) -> None:
    monkeypatch.setenv("AZML_HOME", str(proj.root / ".azml"))
    proj.script("list.py", "import os; print(sorted(os.listdir('.')))\n")
    proj.write_config({"s": {**STEP, "source_directory": ".", "name": "s", "script": "list.py",
                             "inputs": {}}})
    first = proj.run()
    assert ".azml" not in Path(first.step("s").log).read_text()
    assert proj.run().step("s").status == "Reused"
    assert os.path.isdir(proj.root / ".azml")
