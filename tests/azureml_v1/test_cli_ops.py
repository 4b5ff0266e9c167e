"""The operate/publish/schedule commands as a user runs them: ``python -m azml`` against the
stand-in, with exit codes (unknown run 3, service error 4, bad input 2) and no secret shown."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import BLOB_STUB, FIXTURES, REPO, standin_env, write_ws_config
from standin import StandIn

FANIN = FIXTURES / "azure" / "fanin"
SECRET = "Y2xpLW9wcy1ibG9iLWtleQ=="
SP_SECRET = "c3AtY2xpZW50LXNlY3JldA=="


@pytest.fixture
def cli(standin: StandIn, tmp_path: Path) -> Any:
    write_ws_config(tmp_path)
    env = {**os.environ, **standin_env(standin), "HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(BLOB_STUB), str(REPO / "src")]),
           "AZML_TEST_STUB_BLOB_UPLOAD": str(tmp_path / "uploads.log"), "AZML_TRACKING": "off",
           "BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data", "BLOB_ACCOUNT_KEY": SECRET,
           "AZML_HOME": str(tmp_path / ".azml")}
    ws = ["--ws-config", str(tmp_path / ".azureml" / "config.json")]

    def run(*args: str, cwd: Path = FANIN, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "azml", *args, *ws], capture_output=True, text=True, check=False,
                              cwd=cwd, env={**env, **(extra or {})}, timeout=240)
        assert SECRET not in done.stdout + done.stderr and SP_SECRET not in done.stdout + done.stderr
        return done

    return run


def submitted(standin_settings: Any, workspace: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from azml import api

    monkeypatch.chdir(FANIN)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data", "BLOB_ACCOUNT_KEY": SECRET}.items():
        monkeypatch.setenv(key, value)
    return api.submit(FANIN / "pipeline_config.json", workspace=workspace, out=io.StringIO())


def test_status_and_follow(cli: Any, standin: StandIn, standin_settings: Any, workspace: Any,
                           stub_blob_upload: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run = submitted(standin_settings, workspace, monkeypatch)
    train = run.steps["train"]
    standin.stages[train] = [{"status": "Running", "logs": {"user_logs/std_log.txt": "epoch 1\n"}},
                             {"status": "Completed", "startTimeUtc": "2024-01-01T00:00:00Z",
                              "endTimeUtc": "2024-01-01T00:02:00Z",
                              "logs": {"user_logs/std_log.txt": "epoch 1\nepoch 2\n"}}]
    logs = cli("logs", run.run_id, "--step", "train", "--follow", "--interval", "0")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == f"==> train ({train}): user_logs/std_log.txt <==\nepoch 1\nepoch 2\n"
    shown = cli("status", run.run_id)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"{run.run_id}  Running  (v1 pipeline run)"
    line = next(li for li in shown.stdout.splitlines() if li.strip().startswith("train "))
    assert "Completed" in line and "120s" in line and train in line
    as_json = json.loads(cli("status", run.run_id, "--json").stdout)
    assert {s["name"] for s in as_json["steps"]} == {"prepare a", "prepare b", "train"}


def test_logs_of_a_parallel_step_end_with_what_failed(cli: Any, standin: StandIn, workspace: Any,
                                                     stub_blob_upload: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from test_operate import PRS_LOGS, SHOWN, expected, submit_parallel

    run = submit_parallel(standin, workspace, monkeypatch)
    score = run.steps["score items"]
    standin.logs[score] = dict(PRS_LOGS)
    logs = cli("logs", run.run_id, "--step", "score items")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == expected("score items", score, SHOWN)
    every = cli("logs", run.run_id, "--step", "score items", "--all")
    assert every.returncode == 0, every.stderr
    assert every.stdout.startswith(logs.stdout)
    assert every.stdout.endswith(expected("score items", score, ["logs/sys/master_role.txt"]))
    assert "): logs/user/stdout/10.0.0.4/process000.stdout.txt <==\nscoring item_03.txt\n" in every.stdout


def test_unknown_run_is_3_and_a_refused_request_is_4(cli: Any, standin: StandIn) -> None:
    unknown = cli("status", "0b6d2a5e-0000-4000-8000-000000000000")
    assert unknown.returncode == 3
    assert unknown.stderr.strip() == ("azml status: no run with id '0b6d2a5e-0000-4000-8000-000000000000' "
                                      "in the AzureML workspace")
    standin.failures.append(("GET", "/runs/0b6d2a5e", 400, {"error": {"code": "UserError",
                                                                      "message": "The request is invalid"}}))
    refused = cli("logs", "0b6d2a5e-0000-4000-8000-000000000000")
    assert refused.returncode == 4, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "The request is invalid" in refused.stderr


def test_bad_credentials_are_one_line_without_the_secret(cli: Any, tmp_path: Path) -> None:
    failing = tmp_path / "badbin"
    failing.mkdir()
    (failing / "az").write_text("#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
    (failing / "az").chmod(0o755)
    done = cli("status", "0b6d2a5e-0000-4000-8000-000000000000",
               extra={"PATH": f"{failing}{os.pathsep}{os.environ['PATH']}", "AZURE_CLIENT_SECRET": SP_SECRET})
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Azure CLI login:" in done.stderr and "no token (Please run 'az login'" in done.stderr


def test_publish_schedule_schedules_unschedule(cli: Any, standin: StandIn) -> None:
    published = cli("publish", "pipeline_config.json", "--name", "fanin", "--endpoint", "fanin-ep")
    assert published.returncode == 0, published.stderr
    endpoint = next(iter(standin.state["pipeline_endpoints"].values()))
    assert f"REST endpoint: {endpoint['Url']}" in published.stdout
    assert '"ParameterAssignments": {"epochs": 3}' in published.stdout
    made = cli("schedule", "pipeline_config.json", "--name", "nightly", "--cron", "0 2 * * *")
    assert made.returncode == 0, made.stderr
    (schedule,) = standin.state["schedules"].values()
    assert made.stdout.strip() == f"schedule nightly ({schedule['Id']}): every 1 day at 02:00, Active"
    listed = cli("schedules")
    assert listed.returncode == 0 and "nightly" in listed.stdout and "every 1 day at 02:00" in listed.stdout
    off = cli("unschedule", "nightly")
    assert off.returncode == 0 and off.stdout.strip().endswith("Disabled")
    assert cli("schedules").stdout.strip() == "no active schedules (--all shows disabled ones)"
    missing = cli("unschedule", "nope")
    assert missing.returncode == 3 and "no schedule named or with id 'nope'" in missing.stderr


def test_bad_input_is_2_before_any_request(cli: Any, standin: StandIn, tmp_path: Path) -> None:
    bad_cron = cli("schedule", "pipeline_config.json", "--name", "x", "--cron", "0 2 * *")
    assert bad_cron.returncode == 2 and "expected 5 fields" in bad_cron.stderr
    no_v1 = cli("schedule", "pipeline_config.json", "--name", "x", "--cron", "0 2 1 * *")
    assert no_v1.returncode == 2 and "has no AzureML v1 equivalent" in no_v1.stderr
    bad_every = cli("schedule", "pipeline_config.json", "--name", "x", "--every", "soon")
    assert bad_every.returncode == 2 and "--every 'soon'" in bad_every.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pipeline_config.json").write_text(json.dumps({"a": {"type": "PythonScriptStep", "name": "a"}}))
    invalid = cli("publish", "pipeline_config.json", "--name", "x", cwd=broken)
    assert invalid.returncode == 2 and "a.script" in invalid.stderr
    assert not standin.calls_to("POST", "/Pipelines/Create") and not standin.calls_to("POST", "/Schedules")
    local = cli("download", "local_20240101T000000_abcdef", "-o", str(tmp_path / "x"))
    assert local.returncode == 2 and "is a local run" in local.stderr
