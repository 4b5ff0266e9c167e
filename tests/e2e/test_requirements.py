"""Requirements are read once, by the plan: what AzureML gets is what local reuse keys on."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e


def _project(proj: Project) -> None:
    proj.copy("chain")
    # outside the source directory, so only the requirements (not the snapshot) change
    proj.script("env/requirements.txt", "numpy>=1.24\n-r more.txt\n")
    proj.script("env/more.txt", "pyyaml>=6  # config files\n")
    config = proj.root / "pipeline_config.json"
    text = config.read_text().replace('"source_directory": "src/",',
                                      '"source_directory": "src/", "requirements": "env/requirements.txt",')
    config.write_text(text)


def test_editing_an_included_requirements_file_invalidates_reuse(proj: Project) -> None:
    _project(proj)
    assert proj.run().status == "Completed", proj.outputs[-1]
    again = proj.run()
    assert all(s.status == "Reused" for s in again.steps)
    proj.script("env/more.txt", "pyyaml>=6  # config files, with a new comment\n")
    comment_only = proj.run()
    assert all(s.status == "Reused" for s in comment_only.steps)  # nothing AzureML would see changed
    proj.script("env/more.txt", "pyyaml>=6.0.1\n")
    edited = proj.run()
    assert [s.status for s in edited.steps] == ["Completed"] * len(edited.steps)
    assert "environment changed" in edited.steps[0].reason


def test_a_line_azureml_cannot_carry_is_a_validate_error(proj: Project) -> None:
    _project(proj)
    proj.script("env/more.txt", "pyyaml>=6\n-e ./vendored\n./wheels/thing-1.0-py3-none-any.whl\n")
    result = proj.cli("validate", "pipeline_config.json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    more = proj.root / "env" / "more.txt"
    assert f"{more}: line 2: '-e ./vendored': an editable install" in result.stderr
    assert f"{more}: line 3: './wheels/thing-1.0-py3-none-any.whl': a local path" in result.stderr


def test_validate_warns_when_a_later_step_names_another_datastore(proj: Project) -> None:
    proj.copy("chain")
    config = proj.root / "pipeline_config.json"
    import json

    doc = json.loads(config.read_text())
    later = list(doc)[1]
    doc[later]["input_dataset_name"] = "otherstore"
    config.write_text(json.dumps(doc))
    result = proj.cli("validate", "pipeline_config.json")
    assert result.returncode == 0, result.stderr
    assert (f"warning: {config}: {later}.input_dataset_name: names datastore 'otherstore', but the "
            "original project used the first step's 'blobstore'") in result.stderr
