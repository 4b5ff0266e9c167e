"""What AzureML v1's compute does at run time, as pure functions the local launcher calls.

Sources (docs/local.md has the details and links):

- **sys.path.** AzureML's driver ``azureml-setup/context_manager_injector.py`` runs
  from the snapshot root with the ``ProjectPythonPath`` context manager, which
  appends the snapshot root (the driver folder's parent) to ``sys.path``, then runs
  the script in-process with ``runpy.run_path``. :func:`script_command` starts the
  same way locally through :mod:`azml.runtime.scriptboot` (no variable added).
- **Arguments.** The driver logs the arguments before and "after variable
  expansion": ``$NAME``/``${NAME}`` are replaced from the process environment,
  per process (the v1 docs pass ``$LOCAL_RANK`` as an argument). :func:`expand_arguments`
  follows ``os.path.expandvars``: an unknown name stays as written.
- **MPI.** Open MPI's mpirun sets ``OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE,
  NODE_RANK}`` (and its own ``OMPI_*``/``PMIX_*``); AzureML adds
  ``AZ_BATCHAI_MPI_MASTER_NODE`` (the master's address) and, on several nodes,
  ``AZ_BATCH_MASTER_NODE`` (``address:6105``). It sets neither ``MASTER_ADDR``/
  ``MASTER_PORT`` nor ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``NODE_RANK``: those
  belong to its PyTorch distribution, not to MpiStep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from azml.runtime import path_of
from azml.runtime.rankshim import is_torchrun_name
from azml.runtime.scriptboot import expand_argument, expand_arguments

__all__ = ["BOOT", "MASTER_ADDRESS", "MULTI_NODE_PORT", "SHIM", "expand_argument",
           "expand_arguments", "mpi_job_variables", "rank_shim_args", "script_command"]

BOOT = path_of("scriptboot.py")
SHIM = path_of("rankshim.py")
MASTER_ADDRESS = "127.0.0.1"
#: The port in AZ_BATCH_MASTER_NODE on AzureML (v1 distributed-training guide).
MULTI_NODE_PORT = 6105


def script_command(python: str | Path, script: str, args: Sequence[str], root: str | Path,
                   *, unbuffered: bool = True) -> list[str]:
    """``python [-u] scriptboot.py --root ROOT -- SCRIPT ARGS``: one process of a step.

    ``-u`` gives the live log that ``PYTHONUNBUFFERED=1`` gave, without a variable
    the script can see. Arguments are passed unexpanded: the boot script expands
    them inside the process, from the process's own environment.
    """
    flags = ["-u"] if unbuffered else []
    return [str(python), *flags, str(BOOT), "--root", str(root), "--", script, *args]


def mpi_job_variables(node_count: int, master_address: str = MASTER_ADDRESS,
                      port: int = MULTI_NODE_PORT) -> dict[str, str]:
    """The variables AzureML adds to every rank of an MpiStep (besides Open MPI's own).

    One node: ``AZ_BATCHAI_MPI_MASTER_NODE``. Several: that and
    ``AZ_BATCH_MASTER_NODE=address:port``. Locally, simulated nodes share this
    machine, so two local runs at once need distinct ports: pass a free one.
    """
    env = {"AZ_BATCHAI_MPI_MASTER_NODE": master_address}
    if node_count > 1:
        env["AZ_BATCH_MASTER_NODE"] = f"{master_address}:{port}"
    return env


def rank_shim_args(processes_per_node: int, step_env: Mapping[str, str]) -> list[str]:
    """Options for ``rankshim.py`` in AzureML mode, before ``--``.

    torchrun overwrites or adds ``RANK``, ``MASTER_PORT``...; the shim removes
    them, and gives back the step's own value of any it sets deliberately.
    """
    args = ["--ppn", str(processes_per_node), "--azureml"]
    for name in sorted(step_env):
        if is_torchrun_name(name):
            args += ["--restore", f"{name}={step_env[name]}"]
    return args
