"""The local dataset registry: versions, immutability, resolution, and its errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from azml.cli import main
from azml.data.registry import get_dataset, list_datasets, register, registry_path, resolve_dataset
from azml.errors import DatasetNotFoundError, UsageError
from azml.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith(("AZML_", "BLOB_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for folder in ("f3_v1", "f3_v2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "data.npy").write_bytes(folder.encode())
    return load_settings(environ={"AZML_HOME": str(tmp_path / "home"),
                                  "AZML_DATASTORE_ROOT": str(tmp_path / "stores")}, base_dir=tmp_path)


def test_versions_count_up_and_the_latest_is_the_default(settings: Settings, tmp_path: Path) -> None:
    one = register(settings, "f3", "f3_v1")
    two = register(settings, "f3", str(tmp_path / "f3_v2"))
    assert (one.version, two.version) == (1, 2)
    assert one.path == str(tmp_path / "f3_v1")  # relative paths resolve against the project
    assert resolve_dataset(settings, "f3") == tmp_path / "f3_v2"
    assert resolve_dataset(settings, "f3", 1) == tmp_path / "f3_v1"
    assert [(d.name, d.version) for d in list_datasets(settings)] == [("f3", 1), ("f3", 2)]


def test_a_version_never_changes(settings: Settings, tmp_path: Path) -> None:
    register(settings, "f3", "f3_v1", version=3)
    assert register(settings, "f3", "f3_v1", version=3).version == 3  # same source: a no-op
    with pytest.raises(UsageError, match="dataset 'f3' version 3 is already registered with .*f3_v1; "
                                         "versions never change"):
        register(settings, "f3", "f3_v2", version=3)
    assert register(settings, "f3", "f3_v2").version == 4


def test_unknown_name_or_version_lists_what_exists(settings: Settings) -> None:
    register(settings, "f3", "f3_v1")
    register(settings, "labels", "f3_v2")
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_dataset(settings, "f4")
    assert str(info.value) == "no dataset 'f4' in the local dataset registry (registered: f3, labels)"
    with pytest.raises(DatasetNotFoundError) as info:
        get_dataset(settings, "f3", 7)
    assert str(info.value) == "no dataset 'f3' version 7 in the local dataset registry (registered: f3:1)"
    assert info.value.exit_code == 3


def test_empty_registry_says_so(settings: Settings) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"\(none registered\)"):
        resolve_dataset(settings, "f3", 3)


def test_datastore_uri_resolves_to_the_datastore_folder(settings: Settings) -> None:
    found = register(settings, "raw", "azureml://datastores/f3/paths/raw/")
    assert (found.datastore, found.datastore_path) == ("f3", "raw/")
    with pytest.raises(UsageError, match=r"not on this machine yet .*run `azml data pull f3/raw/` "
                                         r"or `azml run --pull`"):
        resolve_dataset(settings, "raw")
    (settings.datastore_root / "f3" / "raw").mkdir(parents=True)
    assert resolve_dataset(settings, "raw") == settings.datastore_root / "f3" / "raw/"


def test_bad_sources_and_names_are_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"cannot register {tmp_path}/nope: it does not exist"):
        register(settings, "f3", "nope")
    with pytest.raises(UsageError, match="expected azureml://datastores/<NAME>/paths/<PATH>"):
        register(settings, "f3", "azureml:f3:1")
    with pytest.raises(UsageError, match="dataset name 'bad name'"):
        register(settings, "bad name", "f3_v1")
    with pytest.raises(UsageError, match="must not contain '..'"):
        register(settings, "f3", "azureml://datastores/f3/paths/../x")


def test_a_moved_folder_is_reported(settings: Settings, tmp_path: Path) -> None:
    register(settings, "f3", "f3_v1")
    os.rename(tmp_path / "f3_v1", tmp_path / "moved")
    with pytest.raises(UsageError, match="f3_v1 no longer exists"):
        resolve_dataset(settings, "f3")


def test_corrupt_registry_is_an_error_naming_the_file(settings: Settings) -> None:
    registry_path(settings).parent.mkdir(parents=True)
    registry_path(settings).write_text("[1, 2")
    with pytest.raises(UsageError, match=f"dataset registry {registry_path(settings)} is unreadable"):
        list_datasets(settings)


def test_register_and_list_on_the_command_line(settings: Settings, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AZML_HOME", str(tmp_path / "home"))
    assert main(["data", "register", "f3", "f3_v1"]) == 0
    assert capsys.readouterr().out == f"dataset f3 version 1: {tmp_path / 'f3_v1'}\n"
    assert main(["data", "register", "f3", "f3_v2", "--version", "5"]) == 0
    capsys.readouterr()
    assert main(["data", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["version"], d["source"]) for d in listed] == [
        ("f3", 1, str(tmp_path / "f3_v1")), ("f3", 5, str(tmp_path / "f3_v2"))]
    assert main(["data", "list", "nope"]) == 3
    assert capsys.readouterr().err == ("azml data: no dataset 'nope' in the local dataset registry "
                                       "(registered: f3)\n")


def test_registry_and_validate_load_no_storage_sdk(settings: Settings, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom azml.cli import main\nimport azml.data\n"
            "assert main(['data', 'list']) == 0\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith(('azure.storage', 'azure.identity'))))\n")
    env = {**os.environ, "AZML_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
