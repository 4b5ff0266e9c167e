"""Step dependency graph and its topological order (stdlib ``graphlib``)."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence

from azml.errors import ConfigError, ConfigProblem


def topological_order(
    predecessors: Mapping[str, Iterable[str]],
    *,
    file: str,
    file_order: Sequence[str] | None = None,
) -> list[str]:
    """Order nodes so that each comes after its predecessors.

    Among nodes ready at the same time, file order wins, so a chain written
    top to bottom keeps its order. A cycle raises :class:`ConfigError` naming
    the steps on it.
    """
    rank = {node: i for i, node in enumerate(file_order or list(predecessors))}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node, preds in predecessors.items():
        sorter.add(node, *preds)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        shown = " -> ".join(cycle)
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    cycle[0],
                    f"steps depend on each other in a cycle ({shown}); a pipeline must be acyclic",
                )
            ]
        ) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: rank.get(n, len(rank)))
        for node in ready:
            order.append(node)
            sorter.done(node)
    return order
