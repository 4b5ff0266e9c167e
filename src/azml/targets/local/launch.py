"""The command line that starts a step: its interpreter, or an MPI launcher around it.

Every process of a step runs ``python -u scriptboot.py --root SNAPSHOT -- SCRIPT ARGS``
with the step's interpreter: the one of its environment built from its
requirements (:mod:`azml.targets.local.envs`), or azml's own with ``--env
current``. The boot script does in the step's process what AzureML's driver
does: it expands ``$VAR`` in the arguments from that process's environment,
puts the snapshot root on ``sys.path``, and runs the script as ``__main__``
(:mod:`azml.targets.local.cluster` names the sources).

An MpiStep starts ``node_count x processes_per_node`` ranks on this machine:

- with ``mpirun`` (Open MPI) when it is on PATH: ``--oversubscribe`` (the ranks
  may outnumber the cores), ``--bind-to none``, ``--tag-output`` (the combined
  log keeps each line's rank), and ``--allow-run-as-root`` when running as root;
- else with torchrun (``python -m torch.distributed.run --standalone``) when the
  step's interpreter has torch; the rank shim then turns torchrun's variables into
  the ``OMPI_COMM_WORLD_*`` ones an AzureML MPI job has, and removes torchrun's own
  (``RANK``, ``MASTER_ADDR``...), which AzureML's MPI jobs do not set;
- else the step fails with a :class:`LaunchError`.

``AZML_MPI_LAUNCHER=mpirun|torchrun`` picks one explicitly. Several nodes are
simulated on one machine: the rank shim gives each rank the local rank it would
have on its node.

A ParallelRunStep runs AzureML's batch contract through the local driver
(:mod:`azml.runtime.parallel`, docs/parallel.md), started by the step's own
interpreter: :func:`parallel_command` passes it every setting of the plan
explicitly, so the driver's own defaults never decide anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from azml.errors import LaunchError
from azml.plan import Flavor, PlannedStep
from azml.runtime import path_of
from azml.targets.local import procs
from azml.targets.local.cluster import BOOT, SHIM, rank_shim_args, script_command

LAUNCHER_VARIABLE = "AZML_MPI_LAUNCHER"
PARALLEL_DRIVER = path_of("parallel/driver.py")


@dataclass(frozen=True)
class Command:
    """What to execute for a step, and how its combined output is tagged."""

    argv: list[str]
    launcher: str  # "python", "mpirun" or "torchrun"


def step_command(step: PlannedStep, args: list[str], environ: Mapping[str, str], log_dir: Path,
                 *, python: str, root: Path, launcher: str | None = None) -> Command:
    """The command for ``step`` run by ``python`` from snapshot ``root`` with ``args``.

    Raises:
        LaunchError: for an MpiStep when no launcher can be used.
    """
    if not step.is_mpi:
        return Command(script_command(python, step.script, args, root), "python")
    launcher = choose_launcher(step.id, environ, python, launcher)
    if not procs.loopback_works():
        raise LaunchError(
            step.id, f"{launcher} needs the loopback network interface (127.0.0.1), which is down",
            "Bring it up (for example `ip link set lo up` inside `unshare -n`) and run again")
    boot = ["-u", str(BOOT), "--root", str(root), "--", step.script, *args]
    ranks = str(step.process_count)
    if step.node_count > 1 or launcher == "torchrun":
        rank = [str(SHIM), *rank_shim_args(step.processes_per_node, environ), "--", *boot]
    else:
        rank = boot
    if launcher == "mpirun":
        argv = [shutil.which("mpirun", path=environ.get("PATH")) or "mpirun"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-run-as-root")
        argv += ["--oversubscribe", "--bind-to", "none", "--tag-output", "-np", ranks, python, *rank]
        return Command(argv, "mpirun")
    argv = [python, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", ranks, "--tee", "3", "--log-dir", str(log_dir / "torchrun"),
            *rank]
    return Command(argv, "torchrun")


def parallel_command(step: PlannedStep, args: list[str], inputs: Mapping[str, Path],
                     outputs: Mapping[str, Path], *, python: str, root: Path, logs: Path,
                     flavor: Flavor = "azureml_v1") -> Command:
    """``python -u driver.py ... -- ARGS``: a ParallelRunStep run by the local batch driver.

    Each partitioned input is ``--input NAME=PATH`` under the name AzureML passes the
    entry script (``--input_fds_N NAME``): v1's dataset name (the binding name),
    v2's input name. The model is not among them: it reaches the script through
    ``args``. ``root`` is the step's snapshot, ``logs`` the driver's ``logs/`` folder.
    """
    settings = step.parallel
    if settings is None:
        raise LaunchError(step.id, "internal: a ParallelRunStep without its settings")
    argv = [python, "-u", str(PARALLEL_DRIVER), "--entry", step.script, "--source", str(root)]
    for name in step.partitioned_inputs:
        label = step.inputs[name].binding_name if flavor == "azureml_v1" else name
        argv += ["--input", f"{label}={inputs[name]}"]
    argv += ["--input-kind", "file"]
    if step.output_name is not None:
        argv += ["--output", str(outputs[step.output_name])]
    argv += [
        "--output-action", settings.output_action,
        "--append-row-file-name", settings.append_row_file_name,
        "--mini-batch-size", settings.mini_batch_size,
        "--error-threshold", str(settings.error_threshold),
        "--run-max-try", str(settings.run_max_try),
        "--run-invocation-timeout", str(settings.run_invocation_timeout),
        "--process-count-per-node", str(step.processes_per_node),
        "--node-count", str(step.node_count),
        "--logging-level", settings.logging_level,
        "--logs", str(logs),
        "--", *args,
    ]
    return Command(argv, "python")


def choose_launcher(step_id: str, environ: Mapping[str, str], python: str,
                    prefer: str | None = None) -> str:
    """``"mpirun"`` or ``"torchrun"`` for an MpiStep; LaunchError when neither is usable.

    The choice is the step's own ``AZML_MPI_LAUNCHER``, else ``prefer`` (the setting).
    """
    wanted = (environ.get(LAUNCHER_VARIABLE) or prefer or "").strip().lower()
    has_mpirun = shutil.which("mpirun", path=environ.get("PATH")) is not None
    if wanted not in ("", "mpirun", "torchrun"):
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}={wanted!r} is not a known launcher",
                          "Use mpirun or torchrun")
    if wanted == "mpirun" and not has_mpirun:
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}=mpirun but mpirun is not on PATH",
                          "Install Open MPI (e.g. apt-get install openmpi-bin) or unset the variable")
    if wanted == "mpirun" or (not wanted and has_mpirun):
        return "mpirun"
    if has_torch(python):
        return "torchrun"
    if wanted == "torchrun":
        raise LaunchError(step_id, f"{LAUNCHER_VARIABLE}=torchrun but torch is not installed "
                          f"for {python}", "Add torch to the step's requirements or unset the variable")
    raise LaunchError(
        step_id, "an MpiStep needs an MPI launcher: mpirun (Open MPI) is not on PATH and torch "
        f"is not installed for {python}",
        "Install Open MPI (e.g. apt-get install openmpi-bin) or add torch to the requirements")


def has_torch(python: str) -> bool:
    """Whether ``python`` (the step's interpreter) can import torch."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
