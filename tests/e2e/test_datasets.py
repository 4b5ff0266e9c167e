"""Registered dataset inputs, run locally: names per step, mount and download, errors.

As in the Azure ML notebooks' NYC-taxi pipeline, two steps each call their input
``raw_data`` for different datasets. Each step sees the path as its argument and as
``$raw_data`` (AzureML v1 makes the ``as_named_input`` name the variable), and
``AZUREML_DATASET_ENVIRONMENT_VARS`` lists it, as ``Run.input_datasets`` reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azml.errors import DatasetNotFoundError, UsageError
from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

CLEANSE = """
import json, os, sys
path = sys.argv[1]
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
rows = sorted(open(os.path.join(path, n)).read().strip() for n in os.listdir(path))
record = {"argv": path, "env": os.environ.get("raw_data"),
          "datasets": os.environ.get("AZUREML_DATASET_ENVIRONMENT_VARS"),
          "dataref": sorted(k for k in os.environ if k.startswith("AZUREML_DATAREFERENCE_")),
          "rows": rows}
if os.environ.get("WRITE_INPUT"):
    open(os.path.join(path, "touched.txt"), "w").write("x")
json.dump(record, open(os.path.join(out, "record.json"), "w"))
"""
MERGE = """
import json, os, sys
rows = []
for folder in sys.argv[1:-1]:
    rows += json.load(open(os.path.join(folder, "record.json")))["rows"]
os.makedirs(sys.argv[-1], exist_ok=True)
open(os.path.join(sys.argv[-1], "merged.txt"), "w").write(",".join(sorted(rows)))
"""


def _step(name: str, script: str, inputs: dict, outputs: list[str], args: list[str]) -> dict:
    return {"type": "PythonScriptStep", "name": name, "script": script, "source_directory": "src",
            "inputs": inputs, "outputs": outputs, "arguments": args}


def taxi_config(proj: Project, yellow_version: int | None = 1) -> Path:
    proj.script("src/cleanse.py", CLEANSE)
    proj.script("src/merge.py", MERGE)
    yellow: dict = {"dataset": "yellow_taxi", "mode": "download"}
    if yellow_version is not None:
        yellow["version"] = yellow_version
    return proj.write_config({
        "cleanse_green": _step("cleanse green", "cleanse.py",
                               {"raw_data": {"dataset": "green_taxi", "version": 2}}, ["green"],
                               ["${{inputs.raw_data}}", "${{outputs.green}}"]),
        "cleanse_yellow": _step("cleanse yellow", "cleanse.py", {"raw_data": yellow}, ["yellow"],
                                ["${{inputs.raw_data}}", "${{outputs.yellow}}"]),
        "merge": _step("merge", "merge.py", {"g": "cleanse_green.green", "y": "cleanse_yellow.yellow"},
                       ["merged"], ["${{inputs.g}}", "${{inputs.y}}", "${{outputs.merged}}"]),
    })


def register(proj: Project, name: str, folder: str, rows: list[str], version: int | None = None) -> Path:
    data = proj.root / "data" / folder
    data.mkdir(parents=True)
    for i, row in enumerate(rows):
        (data / f"{i}.csv").write_text(row)
    args = ["data", "register", name, str(data)] + (["--version", str(version)] if version else [])
    done = proj.cli(*args)
    assert done.returncode == 0, done.stderr
    return data


def records(run: object) -> dict[str, dict]:
    steps = {s.id: s for s in run.steps}  # type: ignore[attr-defined]
    return {sid: json.loads((Path(steps[sid].outputs[sid.split("_")[1]]) / "record.json").read_text())
            for sid in ("cleanse_green", "cleanse_yellow")}


def test_two_steps_name_their_input_raw_data_for_different_datasets(proj: Project) -> None:
    register(proj, "green_taxi", "green_v1", ["stale"])
    green = register(proj, "green_taxi", "green_v2", ["g1", "g2"])
    yellow = register(proj, "yellow_taxi", "yellow", ["y1"])
    taxi_config(proj)
    assert proj.cli("validate", "pipeline_config.json").returncode == 0
    run = proj.run(env_mode="current")
    assert run.status == "Completed", proj.outputs[-1]
    seen = records(run)
    # mount: the registered folder itself; download: a private copy of it
    assert seen["cleanse_green"]["argv"] == seen["cleanse_green"]["env"] == str(green)
    assert seen["cleanse_green"]["rows"] == ["g1", "g2"]  # version 2, not the latest-but-one
    copy = seen["cleanse_yellow"]["argv"]
    assert copy == seen["cleanse_yellow"]["env"] and copy != str(yellow) and seen["cleanse_yellow"]["rows"] == ["y1"]
    assert seen["cleanse_green"]["datasets"] == "raw_data:mount"
    assert seen["cleanse_yellow"]["datasets"] == "raw_data:download"
    assert seen["cleanse_green"]["dataref"] == ["AZUREML_DATAREFERENCE_green"]  # its output only
    merged = Path({s.id: s for s in run.steps}["merge"].outputs["merged"]) / "merged.txt"
    assert merged.read_text() == "g1,g2,y1"
    again = proj.run(env_mode="current")
    assert [s.status for s in again.steps] == ["Reused"] * 3


def test_new_data_under_a_dataset_reruns_its_step(proj: Project) -> None:
    register(proj, "green_taxi", "green_v1", ["a"], version=2)
    yellow = register(proj, "yellow_taxi", "yellow", ["y1"])
    taxi_config(proj, yellow_version=None)  # the latest version, whatever it is when the step runs
    assert proj.run(env_mode="current").status == "Completed"
    (yellow / "9.csv").write_text("y9")
    again = proj.run(env_mode="current")
    status = {s.id: (s.status, s.reason) for s in again.steps}
    assert status["cleanse_green"][0] == "Reused"
    assert status["cleanse_yellow"] == ("Completed", "input changed: dataset yellow_taxi/9.csv")


def test_unknown_dataset_or_version_stops_before_anything_runs(proj: Project) -> None:
    register(proj, "green_taxi", "green", ["g"], version=2)
    taxi_config(proj)
    with pytest.raises(DatasetNotFoundError, match="no dataset 'yellow_taxi' version 1 in the local "
                       "dataset registry .registered: green_taxi."):
        proj.run(env_mode="current")
    result = proj.cli("run", "pipeline_config.json")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "azml run: no dataset 'yellow_taxi' version 1 in the local dataset registry (registered: green_taxi)")
    assert not (proj.home / "runs").exists() or not any((proj.home / "runs").iterdir())


def test_datastore_backed_dataset_not_pulled_yet(proj: Project) -> None:
    register(proj, "green_taxi", "green", ["g"], version=2)
    assert proj.cli("data", "register", "yellow_taxi", "azureml://datastores/taxi/paths/yellow/").returncode == 0
    taxi_config(proj)
    with pytest.raises(UsageError, match=r"dataset 'yellow_taxi' version 1 is azureml://datastores/taxi/"
                       r"paths/yellow/, not on this machine yet .* run `azml data pull taxi/yellow/`"):
        proj.run(env_mode="current")
    (proj.datastores / "taxi" / "yellow").mkdir(parents=True)
    (proj.datastores / "taxi" / "yellow" / "0.csv").write_text("y0")
    run = proj.run(env_mode="current")
    assert run.status == "Completed"
    assert records(run)["cleanse_yellow"]["rows"] == ["y0"]


def test_schema_rejects_a_bad_dataset_input(proj: Project) -> None:
    proj.script("src/cleanse.py", CLEANSE)
    proj.write_config({"a": _step("a", "cleanse.py", {"raw_data": {"dataset": "f3", "version": 0,
                                                                    "mode": "copy"}}, [], [])})
    result = proj.cli("validate", "pipeline_config.json")
    assert result.returncode == 2
    assert "a.inputs.raw_data" in result.stderr


def test_original_form_input_dataset_is_the_steps_input(proj: Project) -> None:
    import shutil

    from tests.e2e.conftest import FIXTURES

    taxi = FIXTURES.parent / "azure" / "taxi"
    shutil.copytree(taxi / "src", proj.root / "src")
    shutil.copy(taxi / "pipeline_config.original.json", proj.root / "pipeline_config.json")
    register(proj, "green_taxi", "g1", ["old"])
    register(proj, "green_taxi", "g2", ["g1", "g2"])
    run = proj.run(env_mode="current")
    assert run.status == "Completed", proj.outputs[-1]
    copied = Path({s.id: s for s in run.steps}["step2"].outputs["copied_again"])
    assert sorted(p.read_text() for p in copied.iterdir()) == ["g1", "g2"]


def test_original_form_rejects_two_inputs(proj: Project) -> None:
    proj.script("src/a.py", "")
    proj.write_config({"s": {"type": "PythonScriptStep", "name": "s", "script": "a.py", "source_directory": "src",
                             "input_dataset": {"name": "f3"}, "input_datareference_path": "raw",
                             "input_datareference_name": "raw", "input_dataset_name": "store"}})
    done = proj.cli("validate", "pipeline_config.json")
    assert done.returncode == 2
    assert "s.input_dataset: expected either input_dataset or input_datareference_path/_name" in done.stderr


DATASETS_STEP = """
import os, sys
from azureml.core import Run
run = Run.get_context()
print("input_datasets", run.input_datasets["raw_data"] == sys.argv[1] == os.environ["raw_data"])
"""


def test_run_input_datasets_names_the_dataset_path(proj: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.tracking import server

    monkeypatch.setenv("AZML_TRACKING", "on")
    proj.env = {**proj.env, "AZML_TRACKING": "on", "AZML_TRACKING_IDLE": "60"}
    register(proj, "green_taxi", "g", ["g1"], version=2)
    proj.script("src/ds.py", DATASETS_STEP)
    proj.write_config({"s": _step("s", "ds.py", {"raw_data": {"dataset": "green_taxi", "version": 2}}, [],
                                  ["${{inputs.raw_data}}"])})
    try:
        done = proj.cli("run", "pipeline_config.json", timeout=300)
    finally:
        server.stop_server(proj.home)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = json.loads(proj.cli("status", "--json").stdout)
    assert "input_datasets True" in Path(run["steps"][0]["log"]).read_text()
