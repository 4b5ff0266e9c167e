"""Workspace settings: one clear sentence for each way they can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from azml.errors import SettingsError
from azml.settings import load_settings
from azml.targets.azureml_v1.workspace import auth_mode, find_config, read_config


def settings(tmp_path: Path, **values: str):
    return load_settings(environ=values, base_dir=tmp_path)


def test_missing_config_json_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        find_config(None, tmp_path)
    assert "no workspace configuration" in str(info.value) and "--ws-config" in str(info.value)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "is not valid JSON"),
    ("[]", "is not a JSON object"),
    ('{"subscription_id": "s", "resource_group": "r"}', "missing workspace_name"),
])
def test_malformed_config_json(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(SettingsError) as info:
        read_config(find_config(str(path), tmp_path))
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_auth_modes(tmp_path: Path) -> None:
    assert auth_mode(settings(tmp_path)) == "interactive"
    assert auth_mode(settings(tmp_path, AZML_AUTH="cli")) == "cli"
    assert auth_mode(settings(tmp_path), "cli") == "cli"
    full = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s3cr3t-value"}
    assert auth_mode(settings(tmp_path, **full)) == "service_principal"
    with pytest.raises(SettingsError) as info:
        auth_mode(settings(tmp_path, AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c"))
    assert "AZURE_CLIENT_SECRET" in str(info.value)
    with pytest.raises(SettingsError):
        auth_mode(settings(tmp_path, AZML_AUTH="kerberos"))


def test_cli_auth_without_login_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.targets.azureml_v1.workspace import cli_token_getter

    monkeypatch.setenv("PATH", str(tmp_path))  # no az at all
    with pytest.raises(SettingsError) as info:
        cli_token_getter()("https://management.azure.com/")
    assert "az login" in str(info.value)


def test_unreachable_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from conftest import FAKE_BIN, write_ws_config

    from azml.targets.azureml_v1.workspace import connect

    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_ws_config(tmp_path)
    monkeypatch.setenv("PATH", f"{FAKE_BIN}:{monkeypatch.delenv('PATH', raising=False) or ''}")
    s = settings(tmp_path, AZML_AUTH="cli", AZUREML_DISCOVERY_SERVICE_ENDPOINT=f"http://127.0.0.1:{port}/d",
                 AZUREML_WORKSPACE_ID="w", PATH=str(FAKE_BIN))
    with pytest.raises(SettingsError) as info:
        connect(s)
    assert "cannot be reached" in str(info.value)
