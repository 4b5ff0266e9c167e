"""Fixtures for the AzureML backend tests: offline, honest, with a temporary HOME.

* HOME points at a temporary folder before azureml is imported (the SDK writes
  ~/.azureml and ~/.azure, and fixes some of those paths at import time).
* A socket guard (autouse) fails any test that tries to connect anywhere but
  127.0.0.1; the attempt is refused, so nothing leaves the machine either way.
* ``standin`` is the local stand-in of the AzureML REST API (see standin.py).
* ``workspace`` is a real Workspace reached through the stand-in's discovery
  URL, opened by azml's own ``connect`` with Azure CLI authentication (a stand-in
  ``az`` on PATH hands out a token).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="azml-test-home-")
os.environ["HOME"] = _HOME
for _name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZML_AUTH",
              "AZUREML_DISCOVERY_SERVICE_ENDPOINT", "AZUREML_WORKSPACE_ID", "AZUREML_SERVICE_ENDPOINT"):
    os.environ.pop(_name, None)

sys.path.insert(0, str(Path(__file__).parent))
from standin import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, WORKSPACE_ID, StandIn, install_routes

from tests.netguard import guard_sockets

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FAKE_BIN = FIXTURES / "azure" / "bin"
BLOB_STUB = FIXTURES / "azure" / "blobstub"


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse and record every connection attempt to a non-local address."""
    with guard_sockets(monkeypatch) as attempts:
        yield attempts


@pytest.fixture
def standin() -> Iterator[StandIn]:
    # A fresh stand-in holds no snapshots: forget the SDK's record of the last one it sent
    # to this workspace id (~/.azureml/.projectcontent), or it would send only a diff.
    shutil.rmtree(Path(os.environ["HOME"]) / ".azureml" / ".projectcontent", ignore_errors=True)
    with install_routes(StandIn()) as service:
        yield service
    assert not service.unknown, f"SDK called routes the stand-in lacks: {service.unknown}"


@pytest.fixture
def stub_blob_upload(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the SDK's Azure Blob upload (snapshot and artifact files); returns the URLs."""
    import azureml._restclient.artifacts_client as artifacts
    import azureml._restclient.snapshots_client as snapshots

    uploads: list[str] = []
    for module in (snapshots, artifacts):
        monkeypatch.setattr(module, "upload_blob_from_stream",
                            lambda stream, url, **kw: uploads.append(url))
    return uploads


def write_ws_config(folder: Path) -> Path:
    path = folder / ".azureml" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
                                "workspace_name": WORKSPACE}))
    return path


def standin_env(service: StandIn) -> dict[str, str]:
    """Variables that send azml (and the SDK) to the stand-in with CLI authentication."""
    return {
        "AZML_AUTH": "cli",
        "AZUREML_DISCOVERY_SERVICE_ENDPOINT": service.discovery_url,
        "AZUREML_WORKSPACE_ID": WORKSPACE_ID,
        "PATH": f"{FAKE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


@pytest.fixture
def standin_settings(standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings (and process env) pointing at the stand-in; config.json in tmp_path."""
    from azml.settings import load_settings

    write_ws_config(tmp_path)
    for key, value in standin_env(standin).items():
        monkeypatch.setenv(key, value)
    return load_settings(base_dir=tmp_path)


@pytest.fixture
def workspace(standin_settings: Any) -> Any:
    from azml.targets.azureml_v1.workspace import connect

    return connect(standin_settings)
