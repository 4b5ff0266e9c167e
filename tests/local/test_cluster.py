"""AzureML's run-time details: script boot, argument expansion, MPI variables."""

from __future__ import annotations

import importlib.util
import json
import os
import posixpath
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azml.runtime.rankshim import azureml_rank_environment
from azml.targets.local import cluster
from azml.targets.local.cluster import expand_arguments, mpi_job_variables, script_command

BASE = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_expansion_of_dollar_names() -> None:
    env = {"AZUREML_RUN_ID": "local_1.train", "A": "x", "EMPTY": ""}
    args = ["--out", "$AZUREML_RUN_ID", "${A}-$A-${A}b", "$UNKNOWN", "${UNKNOWN}", "$$A",
            "cost: $5", "$EMPTY.", "${A", "plain"]
    assert expand_arguments(args, env) == [
        "--out", "local_1.train", "x-x-xb", "$UNKNOWN", "${UNKNOWN}", "$x", "cost: $5", ".",
        "${A", "plain"]
    assert expand_arguments(["$A"], {"A": "$B", "B": "no"}) == ["$B"]  # not expanded twice


names = st.sampled_from(["A", "B", "AB", "A_1", "x", "LONG_NAME"])
pieces = st.one_of(st.sampled_from(["$", "{", "}", "-", " ", "/", "é", "$$", "${"]), names,
                   names.map(lambda n: f"${n}"), names.map(lambda n: "${" + n + "}"))


@given(st.lists(pieces, max_size=12).map("".join),
       st.dictionaries(names, st.text(max_size=5), max_size=4))
def test_expansion_follows_os_path_expandvars(text: str, env: dict[str, str]) -> None:
    with mock.patch.object(os, "environ", env):  # expandvars reads os.environ
        expected = posixpath.expandvars(text)
    assert expand_arguments([text], env) == [expected]


def _snapshot(root: Path) -> None:
    (root / "src" / "tools").mkdir(parents=True)
    (root / "helpers.py").write_text("NAME = 'top-level helper'\n")
    (root / "src" / "tools" / "sibling.py").write_text("NAME = 'sibling'\n")
    (root / "src" / "tools" / "job.py").write_text(
        "import json, os, sys\n"
        "import helpers, sibling\n"
        "print(json.dumps({'argv': sys.argv, 'path0': sys.path[0], 'last': sys.path[-1],\n"
        "                  'env': sorted(os.environ), 'helper': helpers.NAME,\n"
        "                  'main': __name__}))\n")


def test_script_in_a_subfolder_imports_the_snapshot_root(tmp_path: Path) -> None:
    root = tmp_path / "work"
    _snapshot(root)
    env = {**BASE, "AZUREML_RUN_ID": "local_1.train"}
    argv = script_command(sys.executable, "src/tools/job.py", ["--out", "$AZUREML_RUN_ID"], root)
    done = subprocess.run(argv, cwd=root, env=env, check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["argv"] == ["src/tools/job.py", "--out", "local_1.train"]
    assert seen["path0"] == str(root / "src" / "tools") and seen["last"] == str(root)
    assert seen["helper"] == "top-level helper" and seen["main"] == "__main__"
    assert seen["env"] == sorted(env)  # the boot added no variable
    plain = subprocess.run([sys.executable, "src/tools/job.py"], cwd=root, env=env,
                           check=False, capture_output=True, text=True)
    assert "No module named 'helpers'" in plain.stderr  # what the boot fixes


def test_boot_passes_exit_codes_and_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "fail.py").write_text("import sys\nif sys.argv[1] == 'exit':\n    sys.exit(3)\n"
                                      "raise ValueError('boom')\n")
    for arg, code, text in (("exit", 3, ""), ("raise", 1, "ValueError: boom")):
        done = subprocess.run(script_command(sys.executable, "fail.py", [arg], tmp_path),
                              cwd=tmp_path, env=BASE, check=False, capture_output=True, text=True)
        assert done.returncode == code and text in done.stderr


def test_mpi_job_variables() -> None:
    assert mpi_job_variables(1) == {"AZ_BATCHAI_MPI_MASTER_NODE": "127.0.0.1"}
    assert mpi_job_variables(2, port=7000) == {"AZ_BATCHAI_MPI_MASTER_NODE": "127.0.0.1",
                                               "AZ_BATCH_MASTER_NODE": "127.0.0.1:7000"}


def test_rank_environment_drops_torchrun_names_and_restores_the_steps_own() -> None:
    torchrun = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "29400", "TORCHELASTIC_RUN_ID": "x", "OMP_NUM_THREADS": "1",
                "GROUP_RANK": "1", "PATH": "/bin"}
    env = azureml_rank_environment(torchrun, 2, {"MASTER_PORT": "1234"})
    assert env == {"PATH": "/bin", "MASTER_PORT": "1234", "OMPI_COMM_WORLD_RANK": "3",
                   "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
                   "OMPI_COMM_WORLD_LOCAL_SIZE": "2", "OMPI_COMM_WORLD_NODE_RANK": "1"}
    mpi = azureml_rank_environment({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4",
                                    "OMPI_COMM_WORLD_LOCAL_RANK": "2", "PMIX_RANK": "2"}, 2, {})
    assert mpi["OMPI_COMM_WORLD_LOCAL_RANK"] == mpi["OMPI_COMM_WORLD_NODE_RANK"] == "0"
    assert mpi["PMIX_RANK"] == "2"  # Open MPI's own variables stay
    assert cluster.rank_shim_args(2, {"MASTER_PORT": "1234", "A": "b"}) == [
        "--ppn", "2", "--azureml", "--restore", "MASTER_PORT=1234"]


def _ranks(folder: Path) -> dict[int, dict[str, Any]]:
    seen = [json.loads(path.read_text()) for path in folder.glob("rank*.json")]
    return {int(s["env"]["OMPI_COMM_WORLD_RANK"]): s for s in seen}


RANK_SCRIPT = ("import json, os, sys\n"
               "seen = {'argv': sys.argv[1:], 'env': {k: v for k, v in os.environ.items()"
               " if k.startswith(('OMPI_COMM_WORLD_', 'AZ_BATCH', 'MASTER_', 'TORCHELASTIC'))"
               " or k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'OMP_NUM_THREADS')}}\n"
               "rank = os.environ['OMPI_COMM_WORLD_RANK']\n"
               "open(f'rank{rank}.json', 'w').write(json.dumps(seen))\n")


def _launch(launcher: list[str], tmp_path: Path) -> dict[int, dict[str, Any]]:
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    step_env = {**BASE, **mpi_job_variables(2, port=7001)}
    inner = [str(cluster.SHIM), *cluster.rank_shim_args(2, step_env), "--", "-u",
             str(cluster.BOOT), "--root", str(tmp_path), "--", "rank.py", "--rank",
             "$OMPI_COMM_WORLD_RANK"]
    done = subprocess.run([*launcher, *inner], cwd=tmp_path, env=step_env, check=False, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return _ranks(tmp_path)


def _check_two_nodes(ranks: dict[int, dict[str, Any]]) -> None:
    assert sorted(ranks) == [0, 1, 2, 3]
    for rank, seen in ranks.items():
        env = seen["env"]
        assert seen["argv"] == ["--rank", str(rank)]  # expanded in each rank
        assert env["OMPI_COMM_WORLD_LOCAL_RANK"] == env["OMPI_COMM_WORLD_NODE_RANK"] == str(rank % 2)
        assert env["OMPI_COMM_WORLD_LOCAL_SIZE"] == "2" and env["OMPI_COMM_WORLD_SIZE"] == "4"
        assert env["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"
        assert env["AZ_BATCH_MASTER_NODE"] == "127.0.0.1:7001"
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                     "OMP_NUM_THREADS", "TORCHELASTIC_RUN_ID"):
            assert name not in env


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="Open MPI's mpirun is not installed")
def test_two_simulated_nodes_under_mpirun(tmp_path: Path) -> None:
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    _check_two_nodes(_launch([shutil.which("mpirun") or "mpirun", *root, "--oversubscribe",
                              "--bind-to", "none", "--tag-output", "-np", "4", sys.executable],
                             tmp_path))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_two_simulated_nodes_under_torchrun_show_only_azureml_names(tmp_path: Path) -> None:
    _check_two_nodes(_launch([sys.executable, "-m", "torch.distributed.run", "--standalone",
                              "--nnodes", "1", "--nproc-per-node", "4"], tmp_path))
