"""A real local MLflow tracking server for the session, and step environments with the hook."""

from __future__ import annotations

import os
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from azml.runtime import install_hook
from azml.tracking import server
from azml.tracking.store import Tracking


@pytest.fixture(scope="session")
def tracking_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An AZML_HOME whose tracking server runs for the whole session (stopped at the end)."""
    home = tmp_path_factory.mktemp("azml-home")
    info = server.ensure_server(home)
    server.wait_ready(info, server.Layout.of(home))
    yield home
    server.stop_server(home)


@pytest.fixture
def tracking(tracking_home: Path) -> Tracking:
    found = Tracking(tracking_home)
    assert not found.problem, found.problem
    return found


def make_step_env(folder: Path, with_packages: bool = True) -> Path:
    """A real venv with the hook installed; with the test venv's packages (azureml-core,
    mlflow) visible through a .pth line, or with nothing but the standard library."""
    venv.EnvBuilder(with_pip=False).create(folder)
    site = next(folder.glob("lib/python3*/site-packages"))
    if with_packages:
        (site / "zz_test_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install_hook(site)
    return folder / "bin" / "python"


@pytest.fixture(scope="session")
def step_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_step_env(tmp_path_factory.mktemp("stepenv") / "venv")


def step_env(variables: dict[str, str], step_run_id: str) -> dict[str, str]:
    """The environment of a step process: AzureML's variables and the tracking ones."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
            "AZUREML_RUN_ID": step_run_id, "PYTHONUNBUFFERED": "1", **variables}
