"""ParallelRunStep run locally through `azml`: the batch driver started by the runner.

The original-form fixture (``tests/fixtures/local/parallel``): step1 reads a data
reference and writes 12 item files; step2, a ParallelRunStep with mini-batches of 4
on 2 processes, appends one row per item. Failures, retries and timeouts reuse the
entry scripts of the driver's own tests, here set through the config.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Project
from tests.runtime.test_parallel_driver import FLAKY, HANG, RETRY

pytestmark = pytest.mark.e2e

#: step1 sums raw/ (1 + 2 + 3 = 6) and writes item_NN.txt holding 6 + NN; step2 multiplies by 3.
EXPECTED_ROWS = [f"item_{i:02d}.txt {(6 + i) * 3}" for i in range(12)]


def last_run(proj: Project) -> dict[str, Any]:
    return json.loads(proj.cli("status", "--json").stdout)[0]  # type: ignore[no-any-return]


def configure(proj: Project, script: str, **score: Any) -> None:
    """The fixture with step2's entry script and settings replaced."""
    proj.copy("parallel")
    proj.script("src/score.py", textwrap.dedent(script))
    config = proj.root / "pipeline_config.json"
    doc = json.loads(config.read_text())
    doc["step2"].update(score)
    config.write_text(json.dumps(doc, indent=4))


def test_original_form_parallel_step_validates_plans_and_runs(proj: Project) -> None:
    proj.copy("parallel")
    valid = proj.cli("validate", "pipeline_config.json")
    assert valid.returncode == 0, valid.stderr
    plan = proj.cli("plan", "pipeline_config.json")
    assert "2. step2 [ParallelRunStep]" in plan.stdout
    assert "parallel: mini-batches of 4 from input_data; append_row to scores/parallel_run_step.txt" \
        in plan.stdout
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    run = last_run(proj)
    step2 = {s["id"]: s for s in run["steps"]}["step2"]
    scores = Path(step2["outputs"]["scores"])
    assert (scores / "parallel_run_step.txt").read_text().splitlines() == EXPECTED_ROWS
    assert sorted(p.name for p in scores.iterdir()) == ["parallel_run_step.txt"]
    logs = scores.parent.parent / "logs"
    assert "12 items in 3 mini batches, 12 succeeded, 0 failed" in (logs / "job_result.txt").read_text()
    assert len(list((logs / "sys" / "node").glob("*/process*.txt"))) == 2  # 2 processes per node
    log = Path(step2["log"]).read_text()
    assert "ParallelRunStep succeeded" in log

    again = proj.cli("run", "pipeline_config.json", timeout=300)
    assert again.returncode == 0, again.stderr
    steps = {s["id"]: s for s in last_run(proj)["steps"]}
    assert steps["step1"]["status"] == "Reused"
    # the original project's ParallelRunStep had allow_reuse=False: it runs every time
    assert (steps["step2"]["status"], steps["step2"]["reason"]) == ("Completed", "allow_reuse is false")


def test_error_threshold_exceeded_fails_the_step_with_the_reason(proj: Project) -> None:
    # the items holding 7, 11 and 15 (item_01, item_05, item_09) fail
    configure(proj, FLAKY.replace('"bad" in open(p).read()', 'int(open(p).read()) in (7, 11, 15)'),
              mini_batch_size=1, run_max_try=1, error_threshold=2)
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 1
    run = last_run(proj)
    step2 = {s["id"]: s for s in run["steps"]}["step2"]
    assert step2["status"] == "Failed"
    assert "3 item(s) failed, more than error_threshold 2" in step2["reason"]

    # `azml logs` shows the driver's log, then its logs/ folder's files as on AzureML
    logs = proj.cli("logs", run["run_id"], "--step", "step2")
    assert logs.returncode == 0, logs.stderr
    driver, _, rest = logs.stdout.partition("\n\n==> ")
    assert "ParallelRunStep failed" in driver
    parts = [part.partition(" <==\n") for part in ("==> " + rest).split("\n\n==> ")]
    names = [name.removeprefix("==> ") for name, _, _ in parts]
    tracebacks = [n for n in names if n.startswith("logs/user/error/0/process")]
    # the driver writes a progress overview every 2 s: this short job may end before one
    overview = [n for n in names if n == "logs/job_progress_overview.txt"]
    assert tracebacks and names == ["logs/user/error.txt", *tracebacks, "logs/job_result.txt", *overview]
    texts = {name.removeprefix("==> "): text for name, _, text in parts}
    assert texts["logs/user/error.txt"].count("(details: ") == 3  # one line per failed mini-batch
    assert "ValueError" in "".join(texts[n] for n in tracebacks)
    assert "3 item(s) failed" in texts["logs/job_result.txt"]
    assert "user/stdout" not in logs.stdout
    every = proj.cli("logs", run["run_id"], "--step", "step2", "--all")
    assert every.stdout.startswith(logs.stdout) and "\n==> logs/user/stdout/0/process000.stdout.txt <==\n" \
        in every.stdout


def test_a_failed_mini_batch_is_retried_up_to_run_max_try(proj: Project, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    configure(proj, RETRY, mini_batch_size=3, run_max_try=2, error_threshold=0,
              arguments=["--marks", str(marks)])
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    step2 = {s["id"]: s for s in last_run(proj)["steps"]}["step2"]
    rows = (Path(step2["outputs"]["scores"]) / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"item_{i:02d}.txt" for i in range(12)]
    assert "12 succeeded, 0 failed (error_threshold 0); 4 failed tries" in Path(step2["log"]).read_text()


def test_a_mini_batch_over_run_invocation_timeout_is_killed_and_retried(proj: Project,
                                                                        tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    configure(proj, HANG.replace('"hang" in open(path).read()', 'int(open(path).read()) == 8'),
              mini_batch_size=1, run_max_try=2, run_invocation_timeout=1, error_threshold=0,
              arguments=["--marks", str(marks)])
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    step2 = {s["id"]: s for s in last_run(proj)["steps"]}["step2"]
    logs = Path(step2["outputs"]["scores"]).parent.parent / "logs"
    assert "did not finish in 1 seconds" in (logs / "sys" / "master_role.txt").read_text()
    assert len((Path(step2["outputs"]["scores"]) / "parallel_run_step.txt").read_text().splitlines()) == 12


MODEL_SCORE = """
import argparse, os

def init():
    global offset
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    args, _ = parser.parse_known_args()
    offset = int(open(os.path.join(args.model, "offset.txt")).read())

def run(mini_batch):
    return [f"{os.path.basename(p)} {int(open(p).read()) + offset}" for p in mini_batch]
"""


def model_config(proj: Project, model: Any, train: dict[str, Any] | None = None) -> None:
    proj.script("src/score.py", MODEL_SCORE)
    proj.script("src/items.py", "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\n"
                "[open(os.path.join(sys.argv[2], f'i{n}.txt'), 'w').write(str(n)) for n in range(5)]\n")
    proj.script("src/train.py", "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\n"
                "open(os.path.join(sys.argv[2], 'offset.txt'), 'w').write('100')\n")
    cluster = {"cluster_name": "cpu-cluster", "vm_size": "Standard_D2_v2"}
    doc: dict[str, Any] = {
        "items": {"type": "PythonScriptStep", "name": "items", "script": "items.py",
                  "source_directory": "src", "outputs": ["files"],
                  "arguments": ["--output", "${{outputs.files}}"]},
        "score": {"type": "ParallelRunStep", "name": "score", "script": "score.py",
                  "source_directory": "src", "inputs": {"files": "items.files"}, "model": model,
                  "outputs": ["rows"], "output_action": "append_row", "mini_batch_size": 2,
                  "arguments": ["--model", "${{inputs.model}}"], "compute": cluster},
    }
    if train is not None:
        doc["train"] = train
    proj.write_config(doc)


def rows_of(proj: Project, step: str = "score", output: str = "rows") -> list[str]:
    found = {s["id"]: s for s in last_run(proj)["steps"]}[step]
    return (Path(found["outputs"][output]) / "parallel_run_step.txt").read_text().splitlines()


def test_the_model_of_a_step_output_reaches_init_through_the_arguments(proj: Project) -> None:
    train = {"type": "PythonScriptStep", "name": "train", "script": "train.py",
             "source_directory": "src", "outputs": ["model"],
             "arguments": ["--output", "${{outputs.model}}"]}
    model_config(proj, "train.model", train)
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows_of(proj) == [f"i{n}.txt {n + 100}" for n in range(5)]


def test_a_registered_model_comes_from_the_local_registry(tracked: Project) -> None:
    proj = tracked
    proj.script("src/train.py", "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\n"
                "open(os.path.join(sys.argv[2], 'offset.txt'), 'w').write('100')\n")
    proj.write_config({"train": {
        "type": "PythonScriptStep", "name": "train", "script": "train.py", "source_directory": "src",
        "outputs": ["model"], "arguments": ["--output", "${{outputs.model}}"],
        "register_model": {"name": "offsets", "path": "model"}}}, "train.json")
    assert proj.cli("run", "train.json", timeout=300).returncode == 0

    model_config(proj, {"name": "offsets", "version": 2})
    missing = proj.cli("run", "pipeline_config.json", timeout=300)
    assert missing.returncode == 3  # before anything runs
    assert "model 'offsets' version 2 is not in the local model registry (its versions: 1)" \
        in missing.stderr

    model_config(proj, {"name": "offsets"})  # the latest version
    done = proj.cli("run", "pipeline_config.json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows_of(proj) == [f"i{n}.txt {n + 100}" for n in range(5)]
