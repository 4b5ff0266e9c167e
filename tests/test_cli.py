"""The azml command: exit codes, one-line errors, plan output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azml.cli import main
from tests.conftest import REPO, step


@pytest.fixture
def original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "tests/fixtures/original", tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    return tmp_path / "p" / "pipeline_config.json"


def test_validate_original_example(original: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "pipeline_config.json"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{original}: valid, 1 step (1 MPI), 0 dependencies (0 order-only), 0 parameters"


def test_plan_shows_input(original: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The original code appended ``--input`` (its README said ``--input_data``)."""
    assert main(["plan", "pipeline_config.json"]) == 0
    out = capsys.readouterr().out
    assert ("command:  python train.py --splits splits --train_data_paths normalized_data/file.npy "
            "--label_paths label.npy --input ${{inputs.input_data}}") in out
    assert "datastore normalizeddataconditioned:normalized_data/ (mount" in out
    assert "1 node(s) x 1 process(es)" in out and "image:    pytorch/pytorch" in out


def test_plan_json_with_param(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"parameters": {"lr": 0.1},
                         "a": step("a.py", outputs=[], arguments=["${{parameters.lr}}"],
                                   environment_variables={"API_TOKEN": "t0ps3cret", "MODE": "x"})})
    assert main(["plan", str(path), "--json", "--param", "lr=0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == {"lr": 0.5}
    assert data["steps"][0]["arguments"] == [{"kind": "parameter", "name": "lr"}]
    assert data["steps"][0]["environment_variables"] == {"API_TOKEN": "***", "MODE": "x"}


def test_plan_text_never_shows_secret(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"a": step("a.py", outputs=[], environment_variables={"API_TOKEN": "t0ps3cret"})})
    assert main(["plan", str(path)]) == 0
    assert "t0ps3cret" not in capsys.readouterr().out


def test_bad_param_exits_2(write_config, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config({"parameters": {"lr": 0.1}, "a": step("a.py", outputs=[])})
    assert main(["plan", str(path), "--param", "lr=fast"]) == 2
    assert "parameters.lr: --param 'lr=fast': expected a number" in capsys.readouterr().err


def test_unexpected_error_one_line_with_debug_hint(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("azml.api.validate", boom)
    assert main(["validate", "x.json"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "azml validate: unexpected RuntimeError: disk on fire (rerun with --debug for the traceback)"
    assert main(["validate", "x.json", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["--debug", "validate", "x.json"]) == 1  # before the command too
    assert "Traceback" in capsys.readouterr().err


def test_env_file_before_the_command_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--env-file", str(tmp_path / "missing.env"), "status"]) == 2
    assert "missing.env" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before azml writes its first line
    env = {**os.environ, "AZML_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "azml", "status"], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, check=False)
    os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "validate" in capsys.readouterr().err


def test_console_script_and_module_agree(original: Path) -> None:
    exe = Path(sys.executable).with_name("azml")
    for cmd in ([str(exe)], [sys.executable, "-m", "azml"]):
        proc = subprocess.run([*cmd, "validate", "pipeline_config.json"], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        assert "valid, 1 step" in proc.stdout


def test_validate_and_plan_import_no_azureml(original: Path) -> None:
    code = ("import sys\nfrom azml.cli import main\n"
            "assert main(['validate', 'pipeline_config.json']) == 0\n"
            "assert main(['plan', 'pipeline_config.json']) == 0\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('azureml', 'torch', 'msrest'))\n"
            "print('LOADED', bad)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe), "--no-cache"], capture_output=True, text=True, cwd=REPO,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 broken." in proc.stdout
    kept = int(proc.stdout.split("Contracts: ")[1].split(" kept")[0])
    assert kept >= 4, proc.stdout


def test_cancel_unknown_id_without_workspace(project: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(project))
    monkeypatch.setenv("AZML_HOME", str(project / ".azml"))
    assert main(["cancel", "no-such-run"]) == 3  # an unknown run id, as the README says
    err = capsys.readouterr().err
    assert "no local run has id 'no-such-run', and AzureML cannot be asked: no workspace configuration" in err
    for command in ("metrics", "status", "logs"):  # the same answer from every command
        assert main([command, "no-such-run"]) == 3, command
        assert "no local run has id 'no-such-run'" in capsys.readouterr().err
