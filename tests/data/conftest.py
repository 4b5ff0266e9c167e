"""Fixtures for the data tests: one real Azurite per session, a fresh container per test.

Azurite must be installed (``scripts/test`` runs ``npm ci --prefix tests/azurite``);
when it is not, every test using it fails with the reason, never skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from azml.settings import Settings, load_settings
from tests.azurite.server import Azurite, running


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with running(tmp_path_factory.mktemp("azurite"), "the blob tests") as server:
        yield server


@dataclass
class Workspace:
    """A project folder whose .env points at a fresh container of the emulator."""

    root: Path
    container: str
    azurite: Azurite
    env: dict[str, str]

    @property
    def client(self) -> Any:
        return self.azurite.service().get_container_client(self.container)

    def upload(self, name: str, data: bytes, **kwargs: Any) -> None:
        self.client.upload_blob(name, data, overwrite=True, **kwargs)

    def settings(self, **overrides: str) -> Settings:
        return load_settings(environ={**self.env, **overrides}, base_dir=self.root)

    @property
    def datastores(self) -> Path:
        return self.root / "datastores"

    def cli(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "azml", *args], cwd=self.root,
                              env=env or self.env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def ws(azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    container = f"t{uuid.uuid4().hex[:20]}"
    azurite.service().create_container(container)
    root = tmp_path / "proj"
    root.mkdir()
    for name in list(os.environ):
        if name.startswith(("AZML_", "BLOB_", "AML_", "AZUREML_", "AZURE_")):
            monkeypatch.delenv(name, raising=False)
    settings_env = {**azurite.env(container), "AZML_HOME": str(root / ".azml"), "AZML_TRACKING": "off",
                    "AZML_DATASTORE_ROOT": str(root / "datastores")}
    for key, value in settings_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(root)
    return Workspace(root, container, azurite, dict(os.environ))
