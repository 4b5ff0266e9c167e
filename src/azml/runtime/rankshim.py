"""Per-rank shim: ``python rankshim.py --ppn P -- SCRIPT ARGS...``.

Run by the launcher (mpirun or torchrun) as each rank. It fills in the rank
variables a multi-node AzureML MPI job would show, then replaces itself with
``python SCRIPT ARGS`` (same pid, same environment otherwise):

- ``OMPI_COMM_WORLD_RANK`` / ``_SIZE`` (from torchrun's ``RANK`` / ``WORLD_SIZE``
  when mpirun did not set them), and ``OMPI_COMM_WORLD_LOCAL_RANK`` /
  ``_LOCAL_SIZE`` per *simulated* node: rank ``r`` sits on node ``r // P`` with
  local rank ``r % P``, as Open MPI's default by-slot mapping places ranks;
- under torchrun, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and ``GROUP_RANK`` to match.

This file imports nothing from azml, so it starts fast and runs in any rank.
"""

from __future__ import annotations

import os
import sys


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


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] != "--ppn" or argv[2] != "--":
        sys.stderr.write("usage: rankshim.py --ppn P -- SCRIPT [ARGS...]\n")
        sys.exit(2)
    os.environ.update(rank_variables(dict(os.environ), int(argv[1])))
    command = [sys.executable, *argv[3:]]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main(sys.argv[1:])
