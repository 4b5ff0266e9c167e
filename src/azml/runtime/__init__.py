"""Code that runs inside a step's own process, in the step's own environment.

Nothing here imports azml outside ``azml.runtime``, nor anything but the
standard library: azml is not installed where a step runs. Targets copy or
point at these files by path (see :func:`path_of`).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def path_of(name: str) -> Path:
    """The file ``name`` of this package, to be run or copied into a step's environment."""
    return HERE / name
