"""Failures: dependents stay NotStarted, independent branches finish (or stop with fail_fast),
and a failed step's outputs are never published."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from azml.api import run as api_run
from azml.errors import RunFailedError
from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

STEP = {"type": "PythonScriptStep", "source_directory": "src"}


def _graph(proj: Project) -> None:
    proj.script("src/bad.py", "import os, sys\n"
                "os.makedirs(sys.argv[1])\n"
                "open(os.path.join(sys.argv[1], 'half.txt'), 'w').write('half written')\n"
                "print('about to fail')\n"
                "sys.exit(4)\n")
    proj.script("src/slow.py", "import os, sys, time\n"
                "time.sleep(float(sys.argv[2]))\n"
                "os.makedirs(sys.argv[1], exist_ok=True)\n"
                "open(os.path.join(sys.argv[1], 'done.txt'), 'w').write('done')\n")
    proj.script("src/after.py", "print('should never run')\n")
    proj.write_config({
        "bad": {**STEP, "name": "bad", "script": "bad.py", "outputs": ["out"],
                "arguments": ["${{outputs.out}}"]},
        "after_bad": {**STEP, "name": "after bad", "script": "after.py", "inputs": {"x": "bad.out"}},
        "after_after": {**STEP, "name": "after after", "script": "after.py", "inputs": {},
                        "depends_on": ["after_bad"]},
        "slow": {**STEP, "name": "independent", "script": "slow.py", "outputs": ["slow_out"],
                 "arguments": ["${{outputs.slow_out}}", "1.5"]},
    })


def test_failure_leaves_dependents_not_started_and_independent_branch_finishes(proj: Project) -> None:
    _graph(proj)
    run = proj.run(max_parallel=2)
    assert run.status == "Failed"
    bad = run.step("bad")
    assert bad.status == "Failed" and bad.exit_code == 4
    assert bad.reason == "exit code 4: about to fail"
    assert run.step("after_bad").status == "NotStarted"
    assert run.step("after_bad").reason == "upstream bad Failed"
    assert run.step("after_after").status == "NotStarted"
    assert run.step("slow").status == "Completed"
    assert (Path(run.step("slow").outputs["slow_out"]) / "done.txt").read_text() == "done"


def test_failed_step_outputs_are_not_published_nor_reused(proj: Project) -> None:
    _graph(proj)
    first = proj.run()
    bad = first.step("bad")
    assert bad.outputs == {}
    step_dir = proj.home / "runs" / first.run_id / "bad"
    assert not (step_dir / "outputs").exists()
    assert (step_dir / "outputs.partial" / "out" / "half.txt").exists()  # kept for debugging only
    assert proj.status(first.run_id)["steps"][0]["outputs"] == {}
    second = proj.run()
    assert second.step("bad").status == "Failed"
    assert second.step("bad").reason != "" and second.step("slow").status == "Reused"
    assert proj.status(second.run_id)["steps"][0]["reason"].startswith("exit code 4")


def test_previous_attempt_failed_is_the_reason_to_run_again(proj: Project) -> None:
    _graph(proj)
    proj.run()
    again = proj.run()
    status = proj.status(again.run_id)
    assert "exit code 4" in status["steps"][0]["reason"]
    assert "bad: Running (previous attempt Failed)" in proj.outputs[-1]


def test_fail_fast_stops_the_independent_branch(proj: Project) -> None:
    _graph(proj)
    run = proj.run(max_parallel=2, fail_fast=True)
    assert run.status == "Failed"
    slow = run.step("slow")
    assert slow.status == "Canceled"
    assert slow.reason == "fail_fast: step bad Failed"
    assert slow.outputs == {}
    assert run.step("after_bad").status == "NotStarted"


def test_api_run_raises_run_failed_error_naming_the_failed_step(proj: Project) -> None:
    _graph(proj)
    with pytest.raises(RunFailedError) as info:
        api_run("pipeline_config.json", out=io.StringIO())
    assert info.value.failed_steps == ("bad",)
    assert info.value.status == "Failed"
