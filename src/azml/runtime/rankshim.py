"""Per-rank shim: ``python rankshim.py --ppn P [--azureml] [--restore NAME=VALUE]... -- PYTHON_ARGS...``.

Run by the launcher (mpirun or torchrun) as each rank. It fills in the rank
variables a multi-node AzureML MPI job would show, then replaces itself with
``python PYTHON_ARGS`` (same pid; PYTHON_ARGS may start with interpreter flags such as ``-u``):

- ``OMPI_COMM_WORLD_RANK`` / ``_SIZE`` (from torchrun's ``RANK`` / ``WORLD_SIZE``
  when mpirun did not set them), and ``OMPI_COMM_WORLD_LOCAL_RANK`` /
  ``_LOCAL_SIZE`` / ``_NODE_RANK`` per *simulated* node: rank ``r`` sits on node
  ``r // P`` with local rank ``r % P``, as Open MPI's default by-slot mapping
  places ranks. (Open MPI's ``NODE_RANK`` is the rank among the processes on the
  node, so it equals the local rank for one job: it is not the node's index.)
- without ``--azureml`` (the historical mode), under torchrun also ``LOCAL_RANK``,
  ``LOCAL_WORLD_SIZE`` and ``GROUP_RANK`` to match;
- with ``--azureml``, the variables torchrun adds and an AzureML MPI job does not
  have (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, ``TORCHELASTIC_*``,
  ``OMP_NUM_THREADS``...) are removed, except those the step itself sets, whose
  values are given back with ``--restore NAME=VALUE``.
- each simulated node gets its own share of this machine's CPUs (the process's affinity
  is narrowed to a disjoint slice per node, when there are at least as many CPUs as
  nodes): on AzureML every node is a VM of its own, so a script that sizes its thread
  pool from the CPUs it sees must not oversubscribe this machine by the node count.

This file imports nothing from azml, so it starts fast and runs in any rank.
"""

from __future__ import annotations

import os
import sys

#: What torchrun (torch.distributed.run) adds to each worker's environment.
TORCHRUN_NAMES = frozenset({
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
    "ROLE_RANK", "ROLE_NAME", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
    "OMP_NUM_THREADS", "TORCH_NCCL_ASYNC_ERROR_HANDLING", "NCCL_ASYNC_ERROR_HANDLING",
})
TORCHRUN_PREFIXES = ("TORCHELASTIC_",)


def is_torchrun_name(name: str) -> bool:
    return name in TORCHRUN_NAMES or name.startswith(TORCHRUN_PREFIXES)


def rank_variables(environ: dict[str, str], ppn: int) -> dict[str, str]:
    """The variables to add for a rank, given its environment and processes per node."""
    rank = int(environ.get("OMPI_COMM_WORLD_RANK") or environ["RANK"])
    size = int(environ.get("OMPI_COMM_WORLD_SIZE") or environ["WORLD_SIZE"])
    update = {
        "OMPI_COMM_WORLD_RANK": str(rank),
        "OMPI_COMM_WORLD_SIZE": str(size),
        "OMPI_COMM_WORLD_LOCAL_RANK": str(rank % ppn),
        "OMPI_COMM_WORLD_LOCAL_SIZE": str(ppn),
    }
    if "RANK" in environ:
        update.update({
            "LOCAL_RANK": str(rank % ppn),
            "LOCAL_WORLD_SIZE": str(ppn),
            "GROUP_RANK": str(rank // ppn),
        })
    return update


def azureml_rank_environment(
    environ: dict[str, str], ppn: int, restore: dict[str, str]
) -> dict[str, str]:
    """The whole environment of a rank as an AzureML MPI job gives it.

    Open MPI's own variables stay (AzureML launches ranks with Open MPI's mpirun
    too); the simulated node's local rank, local size and node rank replace
    what one-machine mpirun set; torchrun's variables go, except those in
    ``restore`` (names the step sets itself), which get the step's values back.
    """
    rank = int(environ.get("OMPI_COMM_WORLD_RANK") or environ["RANK"])
    size = int(environ.get("OMPI_COMM_WORLD_SIZE") or environ["WORLD_SIZE"])
    env = {k: v for k, v in environ.items() if not is_torchrun_name(k)}
    env.update(restore)
    env.update({
        "OMPI_COMM_WORLD_RANK": str(rank),
        "OMPI_COMM_WORLD_SIZE": str(size),
        "OMPI_COMM_WORLD_LOCAL_RANK": str(rank % ppn),
        "OMPI_COMM_WORLD_LOCAL_SIZE": str(ppn),
        "OMPI_COMM_WORLD_NODE_RANK": str(rank % ppn),
    })
    return env


def node_cpus(cpus: list[int], rank: int, size: int, ppn: int) -> list[int] | None:
    """The CPUs of rank ``rank``'s simulated node: a disjoint, contiguous slice of ``cpus``
    per node; ``None`` when the job has one node or there are fewer CPUs than nodes."""
    nodes = -(-size // ppn)
    if nodes < 2 or len(cpus) < nodes:
        return None
    node = rank // ppn
    ordered = sorted(cpus)
    return ordered[node * len(ordered) // nodes:(node + 1) * len(ordered) // nodes]


def pin_to_node(environ: dict[str, str], ppn: int) -> None:
    """Narrow this process's CPU affinity to its simulated node's share (Linux only)."""
    rank = environ.get("OMPI_COMM_WORLD_RANK") or environ.get("RANK")
    size = environ.get("OMPI_COMM_WORLD_SIZE") or environ.get("WORLD_SIZE")
    if rank is None or size is None or not hasattr(os, "sched_setaffinity"):
        return
    share = node_cpus(list(os.sched_getaffinity(0)), int(rank), int(size), ppn)
    if share:
        os.sched_setaffinity(0, share)


def parse(argv: list[str]) -> tuple[int, bool, dict[str, str], list[str]]:
    """``(ppn, azureml, restore, python_args)`` from the command line."""
    ppn: int | None = None
    azureml = False
    restore: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] != "--":
        option = rest.pop(0)
        if option == "--ppn" and rest:
            ppn = int(rest.pop(0))
        elif option == "--azureml":
            azureml = True
        elif option == "--restore" and rest and "=" in rest[0]:
            name, _, value = rest.pop(0).partition("=")
            restore[name] = value
        else:
            ppn = None
            break
    if ppn is None or ppn < 1 or len(rest) < 2:
        sys.stderr.write("usage: rankshim.py --ppn P [--azureml] [--restore NAME=VALUE]... "
                         "-- SCRIPT [ARGS...]\n")
        sys.exit(2)
    return ppn, azureml, restore, rest[1:]


def main(argv: list[str]) -> None:
    ppn, azureml, restore, command = parse(argv)
    if azureml:
        env = azureml_rank_environment(dict(os.environ), ppn, restore)
        os.environ.clear()
        os.environ.update(env)
    else:
        os.environ.update(rank_variables(dict(os.environ), ppn))
    pin_to_node(dict(os.environ), ppn)
    os.execv(sys.executable, [sys.executable, *command])


if __name__ == "__main__":
    main(sys.argv[1:])
