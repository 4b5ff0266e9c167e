"""The demo pipeline (configs/pipeline_config.json) run by ``azml run``, shrunk by overrides.

The config is the shipped one with only extra literal arguments appended, so the
wiring, placeholders, MPI launch and fan-in are the real ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import Project

pytestmark = [pytest.mark.e2e, pytest.mark.mpi]

TINY = {
    "generate": ["--inlines", "24", "--crosslines", "24", "--depth", "32"],
    "prepare": ["--patch_size", "16", "--stride", "8", "--section_step", "1"],
    "train": ["TRAIN.BATCH_SIZE_PER_GPU", "8", "MODEL.BASE_CHANNELS", "8", "MODEL.LEVELS", "2",
              "TRAIN.MAX_LR", "0.01"],
}


def tiny_config(proj: Project) -> Path:
    doc = json.loads((REPO / "configs/pipeline_config.json").read_text())
    doc.pop("$schema")
    doc["defaults"]["source_directory"] = str(REPO / doc["defaults"]["source_directory"])
    doc["defaults"]["requirements"] = str(REPO / doc["defaults"]["requirements"])
    for step, extra in TINY.items():
        doc[step]["arguments"] += extra
    return proj.write_config(doc, "tiny.json")


@pytest.mark.skipif(shutil.which("mpirun") is None and shutil.which("torchrun") is None,
                    reason="no MPI launcher")
def test_demo_pipeline_runs_locally_and_beats_baseline(proj: Project) -> None:
    tiny_config(proj)
    done = proj.cli("run", "tiny.json", "--param", "epochs=2", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads(proj.cli("status", "--json").stdout)[0]
    steps = {s["id"]: s for s in run["steps"]}
    assert [s["status"] for s in run["steps"]] == ["Completed"] * 5
    train = json.loads((Path(steps["train"]["outputs"]["model"]) / "metrics.json").read_text())
    assert train["world_size"] == 2 and train["epochs"] == 2
    evaluation = Path(steps["evaluate"]["outputs"]["evaluation"])
    metrics = json.loads((evaluation / "metrics.json").read_text())
    base = metrics["baseline_majority_class"]
    assert metrics["mean_iou"] > base["mean_iou"] + 0.2
    assert metrics["pixel_accuracy"] > base["pixel_accuracy"] + 0.2
    assert len(list(evaluation.glob("*.png"))) == 1
    assert str(evaluation) in done.stdout + done.stderr  # the summary says where outputs are

    # the batch-scoring ParallelRunStep: one row per held-out inline (24 inlines, 25 % held out)
    predictions = Path(steps["score"]["outputs"]["predictions"])
    rows = [line.split() for line in (predictions / "scores.txt").read_text().splitlines()]
    assert [row[0] for row in rows] == [f"test_inline_{i:03d}.npz" for i in range(6)]
    assert all(len(row) == 8 and abs(sum(map(float, row[2:])) - 1) < 0.01 for row in rows)
    assert sum(float(row[1]) for row in rows) / len(rows) > base["pixel_accuracy"] + 0.2
    assert sorted(p.name for p in predictions.glob("*.npy")) == [
        f"test_inline_{i:03d}.npy" for i in range(6)]
    assert [p.name for p in predictions.glob("*.png")] == ["test_inline_000.png"]
    logs = predictions.parent.parent / "logs"
    assert "6 items in 1 mini batches, 6 succeeded" in (logs / "job_result.txt").read_text()

    again = proj.cli("run", "tiny.json", "--param", "epochs=2")
    assert again.returncode == 0
    rerun = json.loads(proj.cli("status", "--json").stdout)[0]
    assert [s["status"] for s in rerun["steps"]] == ["Reused"] * 5  # score sets allow_reuse
