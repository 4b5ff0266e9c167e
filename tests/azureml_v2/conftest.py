"""Fixtures for the AzureML v2 backend tests: offline, with real SDK objects.

* HOME is a temporary folder (the SDKs write under ~/.azure and ~/.azureml).
* A socket guard (autouse) refuses and records any connection to an address other
  than 127.0.0.1 and fails the test that tried.
* ``standin`` is the local HTTPS stand-in of the v2 REST API (standin.py), reached the
  way azure-ai-ml reaches any non-public cloud: ``ARM_CLOUD_METADATA_URL``; its
  certificate is trusted through ``REQUESTS_CA_BUNDLE``; tokens come from a stand-in
  ``az`` on PATH through ``AZML_AUTH=cli`` (AzureCliCredential, as a user would).
* ``workspace`` is azml's own :func:`connect` against it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azureml_v2.standin import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, StandIn
from tests.netguard import guard_sockets

if "AZML_TEST_HOME" not in os.environ:
    os.environ["AZML_TEST_HOME"] = os.environ["HOME"] = tempfile.mkdtemp(prefix="azml-test-home-")
BIN = Path(__file__).parent / "bin"
_CLEARED = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZML_AUTH",
            "ARM_CLOUD_METADATA_URL", "AZUREML_CURRENT_CLOUD", "REQUESTS_CA_BUNDLE")


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse and record every connection attempt to a non-local address."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    with guard_sockets(monkeypatch) as attempts:
        yield attempts


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    service = StandIn()
    service.start()
    monkeypatch.setenv("ARM_CLOUD_METADATA_URL", service.metadata_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(service.ca_file))
    monkeypatch.setenv("AZML_AUTH", "cli")
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    try:
        yield service
    finally:
        service.stop()
    assert not service.unknown, f"the SDK called routes the stand-in lacks: {service.unknown}"


def write_ws_config(folder: Path) -> Path:
    path = folder / ".azureml" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
                                "workspace_name": WORKSPACE}))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from azml.settings import load_settings

    write_ws_config(tmp_path)
    return load_settings(base_dir=tmp_path)


@pytest.fixture
def workspace(standin: StandIn, settings: Any) -> Any:
    from azml.targets.azureml_v2.workspace import connect

    return connect(settings)


def plan_in_fresh_interpreter(cwd: Path, *args: str) -> str:
    """``azml plan ARGS`` in a new interpreter (with no network when ``unshare`` can give
    it none): its output, after asserting it loaded no ``azure``/``azureml`` module."""
    code = ("import sys\nfrom azml.cli import main\n"
            f"assert main(['plan', *{list(args)!r}]) == 0\n"
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'azureml')))\n")
    argv = [sys.executable, "-c", code]
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True,
                                                  check=False).returncode == 0:
        argv = ["unshare", "-n", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("LOADED []"), done.stdout[-300:]
    return done.stdout[:done.stdout.rindex("LOADED")]
