"""The whole local loop against Azurite: pull -> azml run uses it -> push an output back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from azml.api import load
from azml.data import pull_missing
from azml.targets.local import run_plan
from azml.targets.local.workspace import missing_inputs
from tests.azurite.server import KEY
from tests.data.conftest import Workspace

pytestmark = pytest.mark.e2e

SCRIPT = """\
import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--input_data")
p.add_argument("--output")
a = p.parse_args()
total = 0
for root, _dirs, files in os.walk(a.input_data):
    for name in sorted(files):
        total += sum(int(x) for x in open(os.path.join(root, name)).read().split())
os.makedirs(a.output, exist_ok=True)
open(os.path.join(a.output, "total.txt"), "w").write(str(total))
print("total", total)
"""

CONFIG = {
    "sum": {
        "type": "PythonScriptStep", "name": "sum", "script": "sum.py", "source_directory": "src",
        "inputs": {"raw": {"datastore": "f3", "path": "raw/", "mode": "download"}},
        "outputs": ["total"],
        "arguments": ["--input_data", "${{inputs.raw}}", "--output", "${{outputs.total}}"],
    }
}


def _project(ws: Workspace) -> None:
    (ws.root / "src").mkdir()
    (ws.root / "src" / "sum.py").write_text(SCRIPT)
    (ws.root / "pipeline_config.json").write_text(json.dumps(CONFIG))
    ws.upload("raw/a.txt", b"1 2 3\n")
    ws.upload("raw/more/b.txt", b"10 20\n")


def test_pull_run_push(ws: Workspace) -> None:
    _project(ws)
    before = ws.cli("run", "pipeline_config.json")
    assert before.returncode == 2 and "datastore 'f3' path 'raw/'" in before.stderr

    pulled = ws.cli("data", "pull", "f3/raw")
    assert pulled.returncode == 0, pulled.stderr
    ran = ws.cli("run", "pipeline_config.json")
    assert ran.returncode == 0, ran.stderr
    status = json.loads(ws.cli("status", "--json").stdout)[0]
    output = Path(status["steps"][0]["outputs"]["total"])
    assert (output / "total.txt").read_text() == "36"

    pushed = ws.cli("data", "push", "f3/results/sum", "--from", str(output))
    assert pushed.returncode == 0, pushed.stderr
    assert ws.client.download_blob("results/sum/total.txt").readall() == b"36"

    leaked = [p for p in (ws.root / ".azml").rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []


def test_missing_inputs_pulled_before_a_run(ws: Workspace) -> None:
    """How ``azml run --pull`` is to be wired: the runner's missing inputs go to pull_missing."""
    _project(ws)
    loaded = load("pipeline_config.json")
    missing = missing_inputs(loaded.plan, loaded.settings.datastore_root)
    assert [(store, path) for _step, store, path, _folder in missing] == [("f3", "raw/")]
    results = pull_missing(loaded.settings, [(store, path) for _s, store, path, _f in missing], out=None)
    assert [r.transferred for r in results] == [2]
    assert missing_inputs(loaded.plan, loaded.settings.datastore_root) == []
    run = run_plan(loaded.plan, loaded.settings, out=io.StringIO())
    assert run.status == "Completed"
    assert (Path(run.step("sum").outputs["total"]) / "total.txt").read_text() == "36"
