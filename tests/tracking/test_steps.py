"""Real step processes logging through Run.get_context() and MLflow into the local store."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

from azml import api
from azml.tracking import query, reads, server
from azml.tracking.store import Tracking
from tests.tracking.conftest import make_step_env, step_env

SDK_SCRIPT = '''
from azureml.core import Run
run = Run.get_context()
print("ids", run.id, run.parent.id, run.experiment.name, sorted(run.input_datasets.items()))
for epoch in range(4):
    run.log("loss", 1.0 / (epoch + 1))
run.log("mIoU", 0.61)
run.log_list("acc", [0.5, 0.6])
run.log_row("per_class", cls=0, iou=0.4)
run.log_row("per_class", cls=1, iou=0.7)
run.tag("arch", "unet")
print("metrics", sorted(run.get_metrics()))
'''
MLFLOW_SCRIPT = '''
import mlflow
with mlflow.start_run() as active:
    print("attached", active.info.run_id)
    mlflow.log_metric("rmse", 0.4, step=0)
    mlflow.log_metric("rmse", 0.3, step=1)
'''


def run_step(python: Path, script: str, tmp_path: Path, variables: dict[str, str],
             step_run_id: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{step_run_id}.py"
    path.write_text(script)
    done = subprocess.run([str(python), str(path)], check=False, cwd=tmp_path, env=step_env(variables, step_run_id),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_sdk_and_mlflow_steps_land_in_one_store(tracking: Tracking, tracking_home: Path,
                                                step_python: Path, tmp_path: Path) -> None:
    handle = tracking.start_pipeline_run("nyc-taxi", "R1", {"config": "pipeline_config.json"},
                                         [("train", "R1_train", "train step")])
    sdk_vars = tracking.start_step_run(handle, "train", "R1_train", "train step",
                                       {"raw_data": "/data/raw"})
    assert set(sdk_vars) == {"MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME",
                             "MLFLOW_EXPERIMENT_ID"}
    out = run_step(step_python, SDK_SCRIPT, tmp_path, sdk_vars, "R1_train").stdout
    assert "ids R1_train R1 nyc-taxi [('raw_data', '/data/raw')]" in out
    assert "metrics ['acc', 'loss', 'mIoU', 'per_class']" in out
    tracking.end_step_run(handle, "R1_train", "Completed")
    ml_vars = tracking.start_step_run(handle, "score", "R1_score", "score step")
    out = run_step(step_python, MLFLOW_SCRIPT, tmp_path, ml_vars, "R1_score").stdout
    assert f"attached {ml_vars['MLFLOW_RUN_ID']}" in out
    tracking.end_step_run(handle, "R1_score", "Completed")
    tracking.end_pipeline_run(handle, "Completed")
    assert tracking.close() == ""

    # read back through MLflow's own client
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking.uri)
    loss = [m.value for m in client.get_metric_history(sdk_vars["MLFLOW_RUN_ID"], "loss")]
    assert loss == [1.0, 0.5, 1.0 / 3, 0.25]
    child = client.get_run(sdk_vars["MLFLOW_RUN_ID"])
    assert child.data.tags["mlflow.parentRunId"] == handle.mlflow_run_id
    assert child.data.tags["arch"] == "unet" and child.info.status == "FINISHED"
    assert client.get_experiment(child.info.experiment_id).name == "nyc-taxi"
    # and through azml's own fast reads, status and metrics
    assert query.step_metrics(tracking_home, "R1") == {
        "train": {"acc": 0.6, "loss": 0.25, "mIoU": 0.61, "per_class/cls": 1.0,
                  "per_class/iou": 0.7},
        "score": {"rmse": 0.3}}
    histories = query.local_histories(tracking_home, "R1")
    assert histories is not None and histories["score"]["rmse"] == [(0, 0.4), (1, 0.3)]
    plot = tmp_path / "loss.png"
    from azml.tracking import views

    assert views.plot(histories, plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = views.metrics_table(histories)
    assert "train  loss" in table.replace("   ", "  ") or "loss" in table


def test_ui_serves_the_store_over_http(tracking_home: Path, tracking: Tracking,
                                       monkeypatch: object) -> None:
    handle = tracking.start_pipeline_run("ui-check", "R2")
    tracking.start_step_run(handle, "train", "R2_train", "train")
    uri = query.ui(tracking_home)
    assert uri.startswith("http://127.0.0.1:")
    page = urllib.request.urlopen(uri + "/", timeout=60).read().decode()
    assert "<title>MLflow" in page or "mlflow" in page.lower()
    found = json.loads(urllib.request.urlopen(
        uri + "/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=ui-check",
        timeout=60).read())
    assert found["experiment"]["name"] == "ui-check"


def test_register_model_lists_with_run_id(tracking: Tracking, tracking_home: Path,
                                          tmp_path: Path) -> None:
    handle = tracking.start_pipeline_run("models", "R3")
    tracking.start_step_run(handle, "train", "R3_train", "train")
    output = tmp_path / "outputs" / "model"
    output.mkdir(parents=True)
    (output / "model.pth").write_bytes(b"weights")
    from azml.tracking.store import model_path

    version = tracking.register_model(handle, "R3_train", "unet",
                                      model_path({"model": output}, "model/"), {"team": "geo"})
    assert version is not None and version >= 1
    rows = [r for r in query.models(tracking_home) if r["name"] == "unet"]
    assert rows[0]["step_run_id"] == "R3_train" and rows[0]["version"] == version
    assert reads.model_tags(server.Layout.of(tracking_home).db, "unet", version)["team"] == "geo"
    assert api is not None


def test_register_model_path_missing_names_the_path(tmp_path: Path) -> None:
    from azml.errors import ModelPathError
    from azml.tracking.store import model_path

    try:
        model_path({"model": tmp_path}, "model/weights.pth")
    except ModelPathError as exc:
        assert "model/weights.pth" in str(exc) and str(tmp_path) in str(exc)
    else:
        raise AssertionError("no error for a missing model path")


def test_corrupt_store_is_named_and_nothing_raises(tmp_path: Path) -> None:
    layout = server.Layout.of(tmp_path)
    layout.root.mkdir(parents=True)
    layout.db.write_bytes(b"this is not sqlite at all")
    tracking = Tracking(tmp_path)
    assert str(layout.db) in tracking.problem
    handle = tracking.start_pipeline_run("x", "R4")
    assert tracking.start_step_run(handle, "s", "R4_s", "s") == {}
    tracking.end_step_run(handle, "R4_s", "Completed")
    tracking.end_pipeline_run(handle, "Completed")


def test_without_azureml_core_the_import_fails_as_on_azureml(tmp_path: Path,
                                                             tracking: Tracking) -> None:
    python = make_step_env(tmp_path / "bare", with_packages=False)
    handle = tracking.start_pipeline_run("bare", "R5")
    variables = tracking.start_step_run(handle, "s", "R5_s", "s")
    script = tmp_path / "s.py"
    script.write_text("from azureml.core import Run\n")
    done = subprocess.run([str(python), str(script)], check=False, env=step_env(variables, "R5_s"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'azureml'" in done.stderr
