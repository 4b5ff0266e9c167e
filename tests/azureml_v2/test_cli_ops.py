"""The operate/publish/schedule commands on AzureML v2, as ``python -m azml`` against the
stand-in: a job name is taken for v2 by its shape; a pipeline job YAML is published and
scheduled."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from azml.targets.azureml_v2.build import build_pipeline_job
from azml.targets.azureml_v2.jobs import submit_job
from azml.targets.azureml_v2.yaml_io import dump_job
from tests.azureml_v2.specs import fanin_spec, project
from tests.azureml_v2.standin import StandIn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(standin: StandIn, settings: Any, tmp_path: Path) -> Any:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "AZML_TRACKING": "off"}
    ws = ["--ws-config", str(tmp_path / ".azureml" / "config.json")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "azml", *args, *ws], capture_output=True, text=True, check=False,
                              cwd=tmp_path, env=env, timeout=240)

    return run


def test_status_and_follow_of_a_job(cli: Any, workspace: Any, standin: StandIn, tmp_path: Path) -> None:
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    run = submit_job(workspace, build_pipeline_job(fanin_spec(project(tmp_path / "proj"))), "exp",
                     out=io.StringIO())
    child = standin.child(run.name, "report")["runId"]
    standin.stages[child] = [{"status": "Running", "logs": {"user_logs/std_log.txt": "a\n"}},
                             {"status": "Completed", "logs": {"user_logs/std_log.txt": "a\nb\n"}}]
    logs = cli("logs", run.name, "--step", "report", "--follow", "--interval", "0")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == f"==> {child}: user_logs/std_log.txt <==\na\nb\n"
    shown = cli("status", run.name)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"{run.name}  Running  (v2 job)"
    assert any(line.split()[:2] == ["report", "Completed"] for line in shown.stdout.splitlines())
    assert cli("status", "no_such_job").returncode == 3


def test_publish_and_schedule_a_job_yaml(cli: Any, standin: StandIn, tmp_path: Path) -> None:
    standin.add_compute("cpu-cluster", "STANDARD_DS3_V2")
    job = build_pipeline_job(fanin_spec(project(tmp_path / "proj")))
    path = dump_job(job, tmp_path / "proj" / "job.yml")
    published = cli("publish", str(path), "--name", "fanin", "--target", "azureml-v2",
                    "--compute", "cpu-cluster")
    assert published.returncode == 0, published.stderr
    assert "REST endpoint: https://fanin.westus.inference.ml.azure.com/jobs" in published.stdout
    assert '"inputData": {"epochs": {"jobInputType": "Literal", "value": 3}' in published.stdout
    made = cli("schedule", str(path), "--name", "weekly", "--cron", "0 3 * * 1", "--target", "azureml-v2")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "schedule weekly (weekly): cron 0 3 * * 1, Active"
    assert "weekly" in cli("schedules", "--target", "azureml-v2").stdout
    assert cli("unschedule", "weekly", "--target", "azureml-v2").stdout.strip() == \
        "schedule weekly (weekly): Disabled"
    # a config goes through the plan's v2 translation, as `azml submit --target azureml-v2` sends it
    config = tmp_path / "pipeline_config.json"
    config.write_text(json.dumps({"daily": {
        "type": "PythonScriptStep", "name": "daily", "script": "train.py", "source_directory": "proj/train",
        "outputs": ["report"], "arguments": ["--output", "${{outputs.report}}"]}}))
    daily = cli("schedule", str(config), "--name", "daily", "--every", "1d", "--target", "azureml-v2")
    assert daily.returncode == 0, daily.stderr
    assert daily.stdout.strip() == "schedule daily (daily): every 1 day, Active"
    props = standin.state["schedules"]["daily"]["properties"]
    assert props["trigger"]["frequency"].lower() == "day", props["trigger"]
    assert list(props["action"]["jobDefinition"]["jobs"]) == ["daily"]
