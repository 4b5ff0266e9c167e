"""Settings: .env under the environment, checked numbers, secrets never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from azml.errors import ConfigError
from azml.settings import DEFAULT_VM_SIZE, REDACTED, is_secret, load_settings


def test_env_file_does_not_override_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AML_COMPUTE_CLUSTER_SKU=FromFile\nBLOB_ACCOUNT_NAME=acct\n")
    settings = load_settings(environ={"AML_COMPUTE_CLUSTER_SKU": "FromEnv"}, base_dir=tmp_path)
    assert settings.vm_size == "FromEnv"
    assert settings.get("BLOB_ACCOUNT_NAME") == "acct"
    assert settings.env_file == tmp_path / ".env"


def test_loading_does_not_touch_os_environ(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AZML_TEST_ONLY_VAR=1\n")
    load_settings(base_dir=tmp_path)
    assert "AZML_TEST_ONLY_VAR" not in os.environ


def test_defaults_without_any_settings(tmp_path: Path) -> None:
    settings = load_settings(environ={}, base_dir=tmp_path)
    assert settings.vm_size == DEFAULT_VM_SIZE
    assert settings.azml_home == tmp_path / ".azml"
    assert settings.datastore_root == tmp_path / ".azml" / "datastores"
    assert settings.compute_defaults().priority == "dedicated"


def test_datastore_root_relative_to_project(tmp_path: Path) -> None:
    settings = load_settings(environ={"AZML_DATASTORE_ROOT": "data"}, base_dir=tmp_path)
    assert settings.datastore_root == tmp_path / "data"


def test_bad_numbers_all_reported_with_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "AML_COMPUTE_CLUSTER_MIN_NODES=two\nAML_COMPUTE_CLUSTER_MAX_NODES=0\nAML_COMPUTE_CLUSTER_PRIORITY=cheap\n")
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, base_dir=tmp_path)
    text = str(info.value)
    assert f"{tmp_path / '.env'}: AML_COMPUTE_CLUSTER_MIN_NODES: expected a whole number, got 'two'" in text
    assert "AML_COMPUTE_CLUSTER_MAX_NODES: expected a whole number >= 1, got 0" in text
    assert "AML_COMPUTE_CLUSTER_PRIORITY: expected 'dedicated' or 'lowpriority'" in text


def test_min_above_max_from_environment(tmp_path: Path) -> None:
    env = {"AML_COMPUTE_CLUSTER_MIN_NODES": "3", "AML_COMPUTE_CLUSTER_MAX_NODES": "2"}
    with pytest.raises(ConfigError, match="environment: AML_COMPUTE_CLUSTER_MAX_NODES: expected at least"):
        load_settings(environ=env, base_dir=tmp_path)


def test_explicit_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings("nope.env", environ={}, base_dir=tmp_path)


@pytest.mark.parametrize("name, secret", [("BLOB_ACCOUNT_KEY", True), ("AZURE_CLIENT_SECRET", True),
                                          ("DB_PASSWORD", True), ("GH_TOKEN", True), ("BLOB_ACCOUNT_NAME", False),
                                          ("DB_PWD", True), ("PWD", False), ("OLDPWD", False)])
def test_is_secret(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


def test_the_working_folder_is_not_taken_for_a_secret(tmp_path: Path) -> None:
    # the shell exports PWD and OLDPWD; masking them hid every path in azml's output
    settings = load_settings(environ={"PWD": str(tmp_path), "OLDPWD": "/work"}, base_dir=tmp_path)
    assert settings.redact(f"Plan for {tmp_path}/c.json") == f"Plan for {tmp_path}/c.json"


def test_redact_and_repr_hide_secret_values(tmp_path: Path) -> None:
    key = "c2VjcmV0LWtleS12YWx1ZQ=="
    settings = load_settings(environ={"BLOB_ACCOUNT_KEY": key, "BLOB_ACCOUNT_NAME": "acct"}, base_dir=tmp_path)
    assert settings.redact(f"key={key}") == f"key={REDACTED}"
    assert key not in repr(settings) and "acct" in repr(settings)
