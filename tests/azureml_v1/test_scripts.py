"""Lazy imports, and the kickoff / cancel scripts as subprocesses against the stand-in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import BLOB_STUB, FIXTURES, REPO, standin_env, write_ws_config
from standin import StandIn

PY = sys.executable


def test_importing_azml_does_not_import_azureml() -> None:
    code = ("import sys, azml, azml.api, azml.plan, azml.config, azml.targets.azureml_v1; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azureml'))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().replace("'", '"')) == []


def run_script(module: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", module, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=240, check=False)


def test_kickoff_and_cancel_scripts(standin: StandIn, tmp_path: Path) -> None:
    write_ws_config(tmp_path)
    secret = "c2NyaXB0LWJsb2Ita2V5LXZhbHVl"
    env = {**os.environ, **standin_env(standin), "HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(BLOB_STUB), str(REPO / "src")]),
           "AZML_TEST_STUB_BLOB_UPLOAD": str(tmp_path / "uploads.log"),
           "BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data", "BLOB_ACCOUNT_KEY": secret}
    ws = ["--ws-config", str(tmp_path / ".azureml" / "config.json")]
    kick = run_script("azml.pipelines.dev.kickoff_train_pipeline",
                      ["--config", "pipeline_config.json", "--experiment", "script-test", *ws],
                      env, FIXTURES / "original")
    assert kick.returncode == 0, kick.stderr
    assert secret not in kick.stdout + kick.stderr
    run_id = re.search(r"pipeline run id: (\S+)", kick.stdout).group(1)
    (step_id,) = re.findall(r"step run id: (\S+) \(train step\)", kick.stdout)
    assert run_id in standin.state["pipeline_runs"] and step_id in standin.state["runs"]
    assert (tmp_path / "uploads.log").read_text().count("train.py") == 1

    step = run_script("azml.pipelines.dev.cancel_run",
                      ["--run_id", run_id, "--step_id", step_id, "--timeout", "30", *ws], env, tmp_path)
    assert step.returncode == 0, step.stderr
    assert f"Step run {step_id} of pipeline run {run_id}: cancel requested; final state Canceled." in step.stdout
    assert standin.calls_to("POST", f"/runId/{step_id}/cancel") and not standin.calls_to("DELETE", "/Execution")

    whole = run_script("azml.pipelines.dev.cancel_run", ["--run_id", run_id, *ws], env, tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert f"Pipeline run {run_id}: cancel requested; final state Canceled." in whole.stdout
    assert len(standin.calls_to("DELETE", f"/PipelineRuns/{run_id}/Execution")) == 1

    missing = run_script("azml.pipelines.dev.cancel_run",
                         ["--run_id", "0b6d2a5e-0000-4000-8000-000000000000", *ws], env, tmp_path)
    assert missing.returncode == 3 and "no run with id" in missing.stderr
