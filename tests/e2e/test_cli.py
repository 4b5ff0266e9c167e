"""The user-facing commands as subprocesses: two runs at once, logs, status, secrets."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Project, wait_for

pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-value-from-dotenv"
SHAPED = "c2hhcGVkLWxpa2UtYS1rZXk9PQ"  # known to no setting: recognised by its place


def test_two_concurrent_runs_share_one_store(proj: Project) -> None:
    proj.copy("graph")
    first = proj.spawn("run", "pipeline_config.json", "--no-reuse")
    second = proj.spawn("run", "pipeline_config.json", "--no-reuse", "--param", "lr=0.3")
    assert first.wait(timeout=60) == 0, first.stdout.read()
    assert second.wait(timeout=60) == 0, second.stdout.read()
    runs = proj.status()
    assert len(runs) == 2 and {r["status"] for r in runs} == {"Completed"}
    assert all(s["status"] == "Completed" for r in runs for s in r["steps"])
    assert runs[0]["run_id"] != runs[1]["run_id"]


def test_status_logs_and_exit_codes(proj: Project) -> None:
    proj.copy("chain")
    result = proj.cli("run", "pipeline_config.json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(proj.cli("status", "--json").stdout)
    run_id = runs[0]["run_id"]
    logs = proj.cli("logs", run_id, "--step", "train")
    assert logs.returncode == 0 and logs.stdout.strip() == "trained with total 12"
    by_name = proj.cli("logs", run_id, "--step", "evaluate model")
    assert "evaluated weight=13" in by_name.stdout
    everything = proj.cli("logs", run_id)
    assert "=== prepare (prepare data) Completed ===" in everything.stdout
    assert proj.cli("logs", run_id, "--step", "nope").returncode == 3
    missing = proj.cli("status", "local_19700101T000000_000000")
    assert missing.returncode == 3 and "no run with id" in missing.stderr
    rerun = proj.cli("run", "pipeline_config.json", "--no-reuse", "--experiment", "nightly")
    assert rerun.returncode == 0
    assert json.loads(proj.cli("status", "--json").stdout)[0]["experiment"] == "nightly"


def test_secrets_never_printed(proj: Project) -> None:
    proj.copy("chain")
    (proj.root / ".env").write_text(f"BLOB_ACCOUNT_KEY={SECRET}\n")
    config = json.loads((proj.root / "pipeline_config.json").read_text())
    config["prepare"]["arguments"] += ["--unused", SECRET]  # a secret pasted into the config
    config["prepare"]["environment_variables"] = {"SERVICE_TOKEN": SECRET}
    (proj.root / "pipeline_config.json").write_text(json.dumps(config))
    proj.script("src/prepare.py", (proj.root / "src" / "prepare.py").read_text().replace(
        "args = parser.parse_args()", "args, _ = parser.parse_known_args()"))
    proj.script("src/train.py", "import os, sys\n"
                "print('key seen by step:', os.environ.get('BLOB_ACCOUNT_KEY'))\n"
                f"print('conn DefaultEndpointsProtocol=https;AccountName=a;AccountKey={SHAPED};')\n"
                f"print('url https://a.blob.core.windows.net/c?sv=2021&sp=r&sig={SHAPED}')\n"
                f"print('leaking {SECRET}')\n"
                "sys.exit(1)\n")
    result = proj.cli("run", "pipeline_config.json")
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert "leaking ***" in result.stderr
    run_id = json.loads(proj.cli("status", "--json").stdout)[0]["run_id"]
    logs = proj.cli("logs", run_id, "--step", "train")
    assert SECRET not in logs.stdout and "leaking ***" in logs.stdout
    assert "key seen by step: None" in logs.stdout
    assert SECRET not in proj.cli("status", run_id, "--json").stdout
    stored = b"".join(p.read_bytes() for p in proj.home.glob("azml.db*"))  # WAL included
    assert b"leaking" in stored and SECRET.encode() not in stored
    assert "AccountKey=***;" in logs.stdout and "sig=***" in logs.stdout
    assert SHAPED not in logs.stdout + result.stdout + result.stderr
    for log in proj.home.glob("runs/*/*/step.log"):  # as stored, not only as shown
        text = log.read_text()
        assert SECRET not in text and SHAPED not in text


def test_logs_follow_until_the_step_ends(proj: Project) -> None:
    proj.script("src/talk.py", "import time\n"
                "for i in range(4):\n"
                "    print('line', i, flush=True)\n"
                "    time.sleep(0.3)\n")
    proj.write_config({"talk": {"type": "PythonScriptStep", "name": "talk", "script": "talk.py",
                                "source_directory": "src", "inputs": {}}})
    orchestrator = proj.spawn("run", "pipeline_config.json")
    try:
        def started() -> str | None:
            runs = proj.status()
            return runs[0]["run_id"] if runs and runs[0]["steps"][0]["status"] == "Running" else None
        run_id = wait_for(started)
        followed = proj.cli("logs", run_id, "--step", "talk", "--follow", timeout=30)
        assert followed.returncode == 0
        assert followed.stdout.splitlines() == [f"line {i}" for i in range(4)]
        assert orchestrator.wait(timeout=30) == 0
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()


def test_unknown_runs(proj: Project) -> None:
    from azml.errors import RunNotFoundError
    from azml.settings import load_settings
    from azml.targets.local import cancel_local, run_status

    settings = load_settings()
    assert run_status(settings) == []
    assert not proj.home.exists()  # reading creates nothing
    with pytest.raises(RunNotFoundError):
        cancel_local(settings, "local_19700101T000000_000000")
    with pytest.raises(RunNotFoundError):
        run_status(settings, "nope")
