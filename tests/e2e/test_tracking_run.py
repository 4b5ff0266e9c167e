"""A local run records its metrics and models: the runner wired to the tracking store.

One pipeline with a step logging through ``Run.get_context()`` (azureml-core's own
API, as the NYC-taxi notebook does), a step logging with ``mlflow.log_metric``, and
a step that registers its output as a model. The numbers come back through
``azml status --json``, ``azml metrics`` and ``azml models``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

SDK_STEP = """
import argparse, os
from azureml.core import Run
p = argparse.ArgumentParser(); p.add_argument("--raw"); p.add_argument("--model")
a = p.parse_args()
run = Run.get_context()
print("parent", run.parent.id, "experiment", run.experiment.name)
print("datasets", sorted(run.input_datasets))
for epoch in range(3):
    run.log("loss", 1.0 / (epoch + 1))
run.log("mIoU", 0.75)
os.makedirs(a.model, exist_ok=True)
open(os.path.join(a.model, "weights.bin"), "w").write("w")
"""
MLFLOW_STEP = """
import mlflow
with mlflow.start_run():
    mlflow.log_metric("rmse", 0.5, step=0)
    mlflow.log_metric("rmse", 0.25, step=1)
"""


def test_metrics_and_model_of_a_local_run(tracked: Project) -> None:
    proj = tracked
    proj.script("src/train.py", SDK_STEP)
    proj.script("src/score.py", MLFLOW_STEP)
    # as on AzureML, a step that imports mlflow lists it (the client; the server is azml's)
    proj.script("env/requirements.txt", "mlflow-skinny>=2.16,<3.16\n")
    proj.write_config({
        "train": {"type": "PythonScriptStep", "name": "train", "script": "train.py",
                  "source_directory": "src",
                  "inputs": {"raw_data": {"datastore": "blobstore", "path": "raw"}},
                  "outputs": ["model"],
                  "arguments": ["--raw", "${{inputs.raw_data}}", "--model", "${{outputs.model}}"],
                  "register_model": {"name": "unet", "path": "model/weights.bin",
                                     "tags": {"stage": "dev"}}},
        "score": {"type": "PythonScriptStep", "name": "score", "script": "score.py",
                  "source_directory": "src", "inputs": {"m": "train.model"}, "outputs": [],
                  "requirements": "env/requirements.txt"},
    })
    result = proj.cli("run", "pipeline_config.json", "--experiment", "nyc-taxi", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "registered model unet version 1" in result.stderr
    (run,) = json.loads(proj.cli("status", "--json").stdout)
    one = json.loads(proj.cli("status", run["run_id"], "--json").stdout)
    train = next(s for s in one["steps"] if s["id"] == "train")
    score = next(s for s in one["steps"] if s["id"] == "score")
    assert train["metrics"]["loss"] == pytest.approx(1 / 3) and train["metrics"]["mIoU"] == 0.75
    assert score["metrics"] == {"rmse": 0.25}
    log = Path(train["log"]).read_text()
    assert f"parent {run['run_id']} experiment nyc-taxi" in log and "datasets []" in log  # a datastore path is no dataset
    table = proj.cli("metrics", run["run_id"])
    assert table.returncode == 0 and "mIoU" in table.stdout and "rmse" in table.stdout
    models = proj.cli("models")
    assert models.returncode == 0 and "unet" in models.stdout and train["step_run_id"] in models.stdout


def test_a_missing_model_path_fails_the_step_naming_it(tracked: Project) -> None:
    proj = tracked
    proj.script("src/empty.py", "import sys, os\nos.makedirs(sys.argv[2], exist_ok=True)\n")
    proj.write_config({"s": {"type": "PythonScriptStep", "name": "s", "script": "empty.py",
                             "source_directory": "src", "outputs": ["model"],
                             "arguments": ["--model", "${{outputs.model}}"],
                             "register_model": {"name": "m", "path": "model/best.pt"}}})
    run = proj.run()
    assert run.status == "Failed"
    assert "model/best.pt" in run.steps[0].reason and "best.pt" in run.steps[0].reason
