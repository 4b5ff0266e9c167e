"""An original-style chain (`--input` / `--output` appended; the scripts declare `--input_data`), run for real, then reused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e


def test_chain_runs_each_step_with_real_paths_and_publishes_outputs(proj: Project) -> None:
    proj.copy("chain")
    run = proj.run()
    assert run.status == "Completed"
    assert [s.status for s in run.steps] == ["Completed"] * 3
    assert [s.reason for s in run.steps] == ["first run"] * 3
    report = Path(run.step("evaluate").outputs["report"]) / "report.txt"
    # (1+2+3) * 2 = 12 -> weight 13
    assert report.read_text() == "report for weight=13"
    prepared = Path(run.step("prepare").outputs["prepared"])
    assert prepared.parent.name == "outputs" and prepared.is_relative_to(proj.home)
    assert Path(run.step("train").log).read_text().strip() == "trained with total 12"


def test_original_arguments_and_working_directory(proj: Project) -> None:
    proj.copy("chain")
    proj.script("src/prepare.py", "import json, os, sys\n"
                "os.makedirs(sys.argv[-1], exist_ok=True)\n"
                "json.dump({'argv': sys.argv, 'cwd': os.getcwd(), 'files': sorted(os.listdir('.'))},"
                " open(os.path.join(sys.argv[-1], 'seen.json'), 'w'))\n")
    run = proj.run()
    assert run.step("prepare").status == "Completed"
    seen = json.loads((Path(run.step("prepare").outputs["prepared"]) / "seen.json").read_text())
    argv = seen["argv"]
    assert argv[0] == "prepare.py"
    assert argv[1:4] == ["--scale", "2", "--input"]  # argparse takes it for --input_data
    assert argv[4] == str(proj.datastores / "blobstore" / "raw/")
    assert argv[5] == "--output" and argv[6].endswith("/prepare/outputs.partial/prepared")
    assert Path(seen["cwd"]).name == "work" and Path(seen["cwd"]).is_relative_to(proj.home)
    assert seen["files"] == ["evaluate.py", "prepare.py", "train.py"]


def test_second_run_reuses_everything_and_links_outputs(proj: Project) -> None:
    proj.copy("chain")
    first = proj.run()
    second = proj.run()
    assert second.status == "Completed"
    assert [s.status for s in second.steps] == ["Reused"] * 3
    for old, new in zip(first.steps, second.steps):
        assert new.outputs == old.outputs
        assert new.reused_from == old.step_run_id
        assert new.reason == f"unchanged since {old.step_run_id}"
    # nothing copied or created but the run's record (what `azml store repair` reads)
    assert [p.name for p in (proj.home / "runs" / second.run_id).iterdir()] == ["run.json"]


def test_each_reuse_reason(proj: Project) -> None:
    proj.copy("chain")
    proj.run()
    with open(proj.root / "src" / "train.py", "a") as handle:
        handle.write("# a comment\n")
    edited = proj.run()
    assert edited.step("train").reason.startswith("script changed: train.py")
    assert edited.step("prepare").reason == "source changed: train.py"  # same source_directory
    # train's output is the same content as before, so evaluate reran for its source only
    assert edited.step("evaluate").reason == "source changed: train.py"

    data = proj.datastores / "blobstore" / "raw" / "b.txt"
    data.write_text("30\n")
    changed = proj.run()
    assert changed.step("prepare").reason == "input changed: raw/b.txt"
    assert changed.step("train").reason == "upstream changed: prepare"
    report = Path(changed.step("evaluate").outputs["report"]) / "report.txt"
    assert report.read_text() == "report for weight=67"

    forced = proj.run(reuse=False)
    assert [s.reason for s in forced.steps] == ["reuse disabled"] * 3
    assert [s.status for s in forced.steps] == ["Completed"] * 3


def test_same_size_edit_is_seen(proj: Project) -> None:
    proj.copy("chain")
    proj.run()
    data = proj.datastores / "blobstore" / "raw" / "a.txt"
    stat = data.stat()
    data.write_text("7\n2\n")  # same size as "1\n2\n"
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    again = proj.run()
    assert again.step("prepare").status == "Completed"
    assert again.step("prepare").reason == "input changed: raw/a.txt"


def test_status_json_shape(proj: Project) -> None:
    proj.copy("chain")
    run = proj.run()
    listed = proj.status()
    assert [r["run_id"] for r in listed] == [run.run_id]
    one = proj.status(run.run_id)
    assert set(one) >= {"run_id", "status", "experiment", "started", "ended", "steps"}
    step = one["steps"][0]
    assert set(step) >= {"id", "name", "status", "reason", "outputs", "log", "step_run_id", "exit_code"}
    assert step["id"] == "prepare" and step["name"] == "prepare data"
    assert step["outputs"] == run.steps[0].outputs
    assert one == run.to_dict()


def test_a_producer_that_reran_with_the_same_bytes_does_not_make_its_dependents_rerun(
        proj: Project) -> None:
    """Reuse keys name content, not run ids: a consumer keys on what its input holds."""
    step = {"type": "PythonScriptStep", "source_directory": "src"}
    proj.script("src/make.py", "import os, sys\n"
                "os.makedirs(sys.argv[1], exist_ok=True)\n"
                "open(os.path.join(sys.argv[1], 'v.txt'), 'w').write('42')\n")
    proj.script("src/use.py", "import os, sys\n"
                "print(open(os.path.join(sys.argv[1], 'v.txt')).read())\n")
    proj.write_config({
        # never reused: it runs every time, and writes the same bytes every time
        "make": {**step, "name": "make", "script": "make.py", "outputs": ["out"],
                 "arguments": ["${{outputs.out}}"], "inputs": {}, "allow_reuse": False},
        "use": {**step, "name": "use", "script": "use.py", "arguments": ["${{inputs.x}}"],
                "inputs": {"x": "make.out"}},
    })
    first = proj.run()
    assert first.status == "Completed"
    second = proj.run()
    assert [s.status for s in second.steps] == ["Completed", "Reused"], [s.reason for s in second.steps]
