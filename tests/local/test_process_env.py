"""The allow-listed environment of a step process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from azml.targets.local.process_env import step_environ, visible_names

SHELL = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/me", "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp", "USER": "me", "TERM": "xterm",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0",
    "SAS_URL": "https://acct.blob.core.windows.net/c?sv=2020&sig=abc",
    "GITHUB_PAT": "ghp_secret", "PYTHONPATH": "/home/me/src", "CUDA_VISIBLE_DEVICES": "0",
    "MLFLOW_RUN_ID": "abc", "MLFLOW_TRACKING_URI": "http://localhost:5000",
    "AZUREML_RUN_ID": "stale-from-shell", "VIRTUAL_ENV": "/home/me/.venv",
}
LEAKY = ("AZURE_STORAGE_CONNECTION_STRING", "SAS_URL", "GITHUB_PAT", "PYTHONPATH",
         "CUDA_VISIBLE_DEVICES", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV")


def test_only_the_allow_list_reaches_a_step() -> None:
    result = step_environ(SHELL)
    assert set(result.env) == {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TERM"}
    assert result.warnings == () and result.names == tuple(sorted(result.env))
    assert "PYTHONUNBUFFERED" not in result.env


def test_pass_env_config_and_contract_in_order() -> None:
    result = step_environ(
        SHELL, pass_env=["PYTHONPATH", "NOT_SET_ANYWHERE", "NCCL_DEBUG"],
        config={"NCCL_DEBUG": "WARN"}, contract={"AZUREML_RUN_ID": "local_1.train"},
        path_prefix=["/envs/abc/bin"])
    assert result.env["PYTHONPATH"] == "/home/me/src"
    assert result.env["NCCL_DEBUG"] == "WARN" and result.env["AZUREML_RUN_ID"] == "local_1.train"
    assert result.env["PATH"] == "/envs/abc/bin:/usr/local/bin:/usr/bin:/bin"
    for name in LEAKY[:-2] + ("VIRTUAL_ENV",):
        if name != "PYTHONPATH":
            assert name not in result.env
    not_set = "--pass-env NOT_SET_ANYWHERE: not set in this shell, so the step will not see it"
    taken = ("--pass-env NCCL_DEBUG: the step sets NCCL_DEBUG itself (config or AzureML); "
             "the shell's value is not used")
    assert result.warnings == (not_set, taken)


def test_names_for_plan_json_have_no_values() -> None:
    names = visible_names(SHELL, pass_env=["GITHUB_PAT", "UNSET"], config_names=["A"],
                          contract_names=["AZUREML_RUN_ID"])
    assert names == ["A", "AZUREML_RUN_ID", "GITHUB_PAT", "HOME", "LANG", "LC_ALL", "PATH",
                     "TERM", "TMPDIR", "USER"]
    assert names == sorted(step_environ(SHELL, pass_env=["GITHUB_PAT", "UNSET"], config={"A": "1"},
                                        contract={"AZUREML_RUN_ID": "x"}).names)


def test_a_real_process_sees_none_of_the_shell_secrets(tmp_path: Path) -> None:
    script = tmp_path / "show.py"
    script.write_text("import json, os; print(json.dumps(dict(os.environ)))\n")
    shell = {**SHELL, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    for pass_env, passed in (((), None), (("PYTHONPATH",), "/home/me/src")):
        env = step_environ(shell, pass_env=pass_env).env
        seen = json.loads(subprocess.run([sys.executable, str(script)], env=env, check=True,
                                         capture_output=True, text=True).stdout)
        assert seen.get("PYTHONPATH") == passed
        for name in ("AZURE_STORAGE_CONNECTION_STRING", "GITHUB_PAT", "MLFLOW_TRACKING_URI",
                     "SAS_URL", "CUDA_VISIBLE_DEVICES", "MLFLOW_RUN_ID"):
            assert name not in seen
        assert set(seen) == set(env)  # the interpreter added nothing either


def test_missing_path_gets_a_default() -> None:
    assert step_environ({}).env == {"PATH": "/usr/local/bin:/usr/bin:/bin"}
