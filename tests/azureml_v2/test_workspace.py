"""The v2 workspace: config.json, the credential chosen from azml's settings, the client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from azml.errors import SettingsError
from azml.settings import load_settings
from azml.targets.azureml_v2.workspace import check, connect
from tests.azureml_v2.standin import WORKSPACE, StandIn


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "DefaultAzureCredential"),
    ({"AZML_AUTH": "cli"}, "AzureCliCredential"),
    ({"AZML_AUTH": "interactive"}, "InteractiveBrowserCredential"),
    ({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"}, "ClientSecretCredential"),
])
def test_credential_follows_the_v1_settings(tmp_path: Path, environ: dict[str, str], expected: str) -> None:
    from tests.azureml_v2.conftest import write_ws_config

    write_ws_config(tmp_path)
    workspace = connect(load_settings(base_dir=tmp_path, environ=environ))
    assert type(workspace.client._credential).__name__ == expected
    assert workspace.config.workspace_name == WORKSPACE


def test_partial_service_principal_is_a_settings_error(tmp_path: Path) -> None:
    from tests.azureml_v2.conftest import write_ws_config

    write_ws_config(tmp_path)
    settings = load_settings(base_dir=tmp_path, environ={"AZURE_TENANT_ID": "t"})
    with pytest.raises(SettingsError, match="AZURE_CLIENT_ID, AZURE_CLIENT_SECRET: not set"):
        connect(settings)


def test_missing_config_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no workspace configuration") as caught:
        connect(load_settings(base_dir=tmp_path, environ={}))
    assert caught.value.exit_code == 2 and ".azureml/config.json" in str(caught.value)


def test_check_reaches_the_workspace(workspace: Any, standin: StandIn, settings: Any) -> None:
    entity = check(workspace, settings)
    assert entity.name == WORKSPACE
    (call,) = standin.calls_to("GET", f"/workspaces/{WORKSPACE}")
    assert call.headers["Authorization"].startswith("Bearer ")
