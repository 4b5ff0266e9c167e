"""Local runs as strict as the cluster, through ``azml run`` for real.

Each step runs in an environment built from its own requirements (plus what
AzureML v1 adds, azureml-defaults), sees an allow-listed environment only, finds
the snapshot root on ``sys.path``, and gets ``$VAR`` in its arguments expanded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e

# fire is in azml's own (test) environment but in neither requirements file nor what
# azureml-defaults brings: only an isolated environment can catch its absence
USES_FIRE = "import fire\nprint('fire', fire.__name__)\n"


def _one_step(proj: Project, script: str, requirements: str | None, args: list[str] | None = None,
              path: str = "src/step.py") -> None:
    proj.script(path, script)
    step = {"type": "PythonScriptStep", "name": "step", "script": path.removeprefix("src/"),
            "source_directory": "src", "outputs": [], "arguments": args or []}
    if requirements is not None:
        proj.script("env/requirements.txt", requirements)
        step["requirements"] = "env/requirements.txt"
    proj.write_config({"step": step})


def test_a_forgotten_requirement_fails_with_a_hint_then_passes(proj: Project) -> None:
    _one_step(proj, USES_FIRE, "numpy>=1.24\n")
    failed = proj.cli("run", "pipeline_config.json", timeout=600)
    assert failed.returncode == 1
    requirements = proj.root / "env" / "requirements.txt"
    assert f"hint: add 'fire' to {requirements}" in failed.stderr
    current = proj.cli("run", "pipeline_config.json", "--env", "current", timeout=600)
    assert current.returncode == 0, current.stderr  # azml's own interpreter has fire
    assert "--env current" in current.stderr  # the summary says what was not checked
    requirements.write_text("numpy>=1.24\nfire>=0.5\n")
    fixed = proj.cli("run", "pipeline_config.json", timeout=600)
    assert fixed.returncode == 0, fixed.stderr


def test_the_shell_does_not_leak_into_a_step(proj: Project) -> None:
    _one_step(proj, "import json, os\nprint('ENV', json.dumps(sorted(os.environ)))\n", None)
    proj.env = {**proj.env, "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=b",
                "GITHUB_PAT": "ghp_secret", "PYTHONPATH": "/somewhere",
                "MLFLOW_TRACKING_URI": "http://x", "CUDA_VISIBLE_DEVICES": "3"}

    def names(*extra: str) -> list[str]:
        result = proj.cli("run", "pipeline_config.json", "--no-reuse", *extra, timeout=600)
        assert result.returncode == 0, result.stderr
        (run,) = json.loads(proj.cli("status", "--json").stdout)[:1]
        log = Path(json.loads(proj.cli("status", run["run_id"], "--json").stdout)["steps"][0]["log"])
        line = next(x for x in log.read_text().splitlines() if x.startswith("ENV "))
        return list(json.loads(line[4:]))

    seen = names()
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "GITHUB_PAT", "PYTHONPATH", "MLFLOW_TRACKING_URI",
                 "CUDA_VISIBLE_DEVICES"):
        assert name not in seen, name
    assert "AZUREML_RUN_ID" in seen and "PATH" in seen
    assert "PYTHONPATH" in names("--pass-env", "PYTHONPATH")


def test_snapshot_root_on_sys_path_and_arguments_expanded(proj: Project) -> None:
    proj.script("src/helpers.py", "GREETING = 'from the snapshot root'\n")
    _one_step(proj, "import sys\nimport helpers\nprint(helpers.GREETING, sys.argv[1:])\n", None,
              ["--out", "$AZUREML_RUN_ID", "--keep", "${NOT_SET_ANYWHERE}"], path="src/tools/run.py")
    run = proj.run()
    assert run.status == "Completed", proj.outputs[-1]
    text = Path(str(run.steps[0].log)).read_text()
    assert f"from the snapshot root ['--out', '{run.steps[0].step_run_id}', '--keep', " \
           "'${NOT_SET_ANYWHERE}']" in text
