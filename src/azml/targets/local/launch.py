"""The command line that starts a step: the interpreter, or an MPI launcher around it.

Every step runs with the interpreter azml runs under (``sys.executable``); the
step's ``requirements`` and ``base_image`` are not installed or built locally.

An MpiStep starts ``node_count x processes_per_node`` ranks on this machine:

- with ``mpirun`` (Open MPI) when it is on PATH: ``--oversubscribe`` (the ranks
  may outnumber the cores), ``--bind-to none``, ``--tag-output`` (the combined
  log keeps each line's rank), and ``--allow-run-as-root`` when running as root;
- else with torchrun (``python -m torch.distributed.run --standalone``) when torch
  is installed; torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/
  ``MASTER_ADDR``/``MASTER_PORT`` and the rank shim adds the ``OMPI_COMM_WORLD_*``
  names, so scripts written for AzureML's MPI jobs still work;
- else the step fails with a :class:`LaunchError`.

``AZML_MPI_LAUNCHER=mpirun|torchrun`` picks one explicitly. Several nodes are
simulated on one machine: the rank shim gives each rank the local rank it
would have on its node.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from azml.errors import LaunchError
from azml.plan import PlannedStep
from azml.runtime import path_of
from azml.targets.local import procs

LAUNCHER_VARIABLE = "AZML_MPI_LAUNCHER"
SHIM = path_of("rankshim.py")


@dataclass(frozen=True)
class Command:
    """What to execute for a step, and how its combined output is tagged."""

    argv: list[str]
    launcher: str  # "python", "mpirun" or "torchrun"


def step_command(
    step: PlannedStep, args: list[str], environ: Mapping[str, str], log_dir: Path
) -> Command:
    """The command for ``step`` with its resolved ``args``.

    Raises:
        LaunchError: for an MpiStep when no launcher can be used.
    """
    python = sys.executable
    if not step.is_mpi:
        return Command([python, step.script, *args], "python")
    launcher = choose_launcher(step.id, environ)
    if not procs.loopback_works():
        raise LaunchError(
            step.id, f"{launcher} needs the loopback network interface (127.0.0.1), which is down",
            "Bring it up (for example `ip link set lo up` inside `unshare -n`) and run again")
    script = [step.script, *args]
    if step.node_count > 1 or launcher == "torchrun":
        script = [str(SHIM), "--ppn", str(step.processes_per_node), "--", *script]
    ranks = str(step.process_count)
    if launcher == "mpirun":
        argv = [shutil.which("mpirun", path=environ.get("PATH")) or "mpirun"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-run-as-root")
        argv += ["--oversubscribe", "--bind-to", "none", "--tag-output", "-np", ranks, python, *script]
        return Command(argv, "mpirun")
    argv = [python, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", ranks, "--tee", "3", "--log-dir", str(log_dir / "torchrun"),
            *script]
    return Command(argv, "torchrun")


def choose_launcher(step_id: str, environ: Mapping[str, str]) -> str:
    """``"mpirun"`` or ``"torchrun"`` for an MpiStep; LaunchError when neither is usable."""
    wanted = environ.get(LAUNCHER_VARIABLE, "").strip().lower()
    has_mpirun = shutil.which("mpirun", path=environ.get("PATH")) is not None
    has_torch = importlib.util.find_spec("torch") is not None
    if wanted == "mpirun" and not has_mpirun:
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}=mpirun but mpirun is not on PATH",
                          "Install Open MPI (e.g. apt-get install openmpi-bin) or unset the variable")
    if wanted == "torchrun" and not has_torch:
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}=torchrun but torch is not installed "
                          f"for {sys.executable}", "Install torch or unset the variable")
    if wanted not in ("", "mpirun", "torchrun"):
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}={wanted!r} is not a known launcher",
                          "Use mpirun or torchrun")
    if wanted:
        return wanted
    if has_mpirun:
        return "mpirun"
    if has_torch:
        return "torchrun"
    raise LaunchError(
        step_id, "an MpiStep needs an MPI launcher: mpirun (Open MPI) is not on PATH and torch "
        f"is not installed for {sys.executable}",
        "Install Open MPI (e.g. apt-get install openmpi-bin) or torch")
