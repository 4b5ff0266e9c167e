"""The original project's own config and scripts written for its code, run locally for real.

The original code appended ``--input <path>`` to every step (its README said
``--input_data``) and ``--output <path>`` when the step had an output. Scripts
written against it declare ``--input``, declare ``--input_data`` (argparse takes
``--input`` as an unambiguous prefix), or use ``fire``; all three must run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

ORIGINAL = Path(__file__).resolve().parents[1] / "fixtures" / "original_project"


def _json_lines(log: str) -> list[dict[str, object]]:
    found = []
    for line in Path(log).read_text().splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[rank") else line
        if text.startswith("{"):
            found.append(json.loads(text))
    return found


def test_original_projects_config_validates_plans_and_runs(proj: Project) -> None:
    shutil.copytree(ORIGINAL, proj.root, dirs_exist_ok=True)
    shutil.copytree(ORIGINAL / "data", proj.datastores, dirs_exist_ok=True)
    assert proj.cli("validate", "pipeline_config.json").returncode == 0
    plan = proj.cli("plan", "pipeline_config.json")
    assert ("python train.py --cfg configs/unet.yaml TRAIN.END_EPOCH 1 TRAIN.SNAPSHOTS 1 "
            "DATASET.ROOT data --input ${{inputs.input_data}}") in plan.stdout
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    (seen,) = _json_lines(str(run.steps[0].log))
    folder = proj.datastores / "deepseismic_test_dataset" / "data"
    assert seen["input"] == str(folder) == seen["reference"]
    assert seen["files"] == ["section_1.txt"] and seen["cfg"] == "configs/unet.yaml"
    assert seen["opts"] == ["TRAIN.END_EPOCH", "1", "TRAIN.SNAPSHOTS", "1", "DATASET.ROOT", "data"]
    assert seen["rank"] == "0"


def _chain(proj: Project, second_script: str, text: str) -> None:
    proj.script("src/first.py", "import argparse, os\n"
                "p = argparse.ArgumentParser(); p.add_argument('--input'); p.add_argument('--output')\n"
                "a = p.parse_args(); os.makedirs(a.output, exist_ok=True)\n"
                "open(os.path.join(a.output, 'made.txt'), 'w').write('x')\n")
    proj.script(f"src/{second_script}", text)
    proj.write_config({
        "step1": {"type": "PythonScriptStep", "name": "first", "script": "first.py",
                  "source_directory": "src", "input_datareference_path": "raw/",
                  "input_datareference_name": "raw", "input_dataset_name": "blobstore",
                  "output": "made"},
        "step2": {"type": "PythonScriptStep", "name": "second", "script": second_script,
                  "source_directory": "src", "arguments": ["--epochs", 2, "--fast", True]},
    })


def test_argparse_script_declaring_input_data_gets_it_by_prefix(proj: Project) -> None:
    proj.copy("chain")
    _chain(proj, "second.py", "import argparse, json, os\n"
           "p = argparse.ArgumentParser(); p.add_argument('--input_data', required=True)\n"
           "p.add_argument('--epochs', type=int); p.add_argument('--fast')\n"
           "a = p.parse_args()\n"
           "print(json.dumps({'files': os.listdir(a.input_data), 'epochs': a.epochs, 'fast': a.fast,"
           " 'ref': os.environ.get('AZUREML_DATAREFERENCE_made')}))\n")
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    (seen,) = _json_lines(str(run.steps[1].log))
    assert seen["files"] == ["made.txt"] and seen["epochs"] == 2 and seen["fast"] == "True"
    assert seen["ref"] == run.steps[0].outputs["made"]


def test_fire_script_gets_input_as_a_keyword(proj: Project) -> None:
    proj.copy("chain")
    proj.script("env/requirements.txt", "fire>=0.5\n")  # the step's environment has fire
    _chain(proj, "second.py", "import json, os\nimport fire\n\n"
           "def run(*options, input=None, epochs=None, fast=None):\n"
           "    print(json.dumps({'files': os.listdir(input), 'epochs': epochs, 'fast': fast}))\n\n"
           "fire.Fire(run)\n")
    config = json.loads((proj.root / "pipeline_config.json").read_text())
    config["step2"]["requirements"] = "env/requirements.txt"
    (proj.root / "pipeline_config.json").write_text(json.dumps(config))
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    (seen,) = _json_lines(str(run.steps[1].log))
    assert seen == {"files": ["made.txt"], "epochs": 2, "fast": True}
