"""A dataset registered as a datastore path, pulled from blob storage by ``azml run --pull``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.data.conftest import Workspace
from tests.data.test_loop import SCRIPT

pytestmark = pytest.mark.e2e

CONFIG = {
    "sum": {
        "type": "PythonScriptStep", "name": "sum", "script": "sum.py", "source_directory": "src",
        "inputs": {"raw_data": {"dataset": "f3_raw", "version": 1}},
        "outputs": ["total"],
        "arguments": ["--input_data", "${{inputs.raw_data}}", "--output", "${{outputs.total}}"],
    }
}


def test_run_pull_fetches_a_datastore_backed_dataset(ws: Workspace) -> None:
    (ws.root / "src").mkdir()
    (ws.root / "src" / "sum.py").write_text(SCRIPT)
    (ws.root / "pipeline_config.json").write_text(json.dumps(CONFIG))
    ws.upload("raw/a.txt", b"1 2 3\n")
    ws.upload("raw/more/b.txt", b"10 20\n")
    registered = ws.cli("data", "register", "f3_raw", "azureml://datastores/f3/paths/raw/")
    assert registered.returncode == 0, registered.stderr

    before = ws.cli("run", "pipeline_config.json")
    assert before.returncode == 2
    assert "dataset 'f3_raw' version 1 is azureml://datastores/f3/paths/raw/, not on this machine" \
        in before.stderr and "azml data pull f3/raw/" in before.stderr

    ran = ws.cli("run", "pipeline_config.json", "--pull")
    assert ran.returncode == 0, ran.stderr
    assert (ws.datastores / "f3" / "raw" / "more" / "b.txt").read_bytes() == b"10 20\n"
    status = json.loads(ws.cli("status", "--json").stdout)[0]
    assert (Path(status["steps"][0]["outputs"]["total"]) / "total.txt").read_text() == "36"
