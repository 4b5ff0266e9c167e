"""Metric tables, run comparison and plots, from per-step metric histories.

The inputs are plain mappings (``{step: {metric: [(step index, value), ...]}}``),
so local runs (read from the SQLite store) and AzureML runs (read through the
SDK) are shown the same way.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from azml.errors import MissingDependencyError, UsageError

Histories = Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]


def metrics_rows(histories: Histories) -> list[dict[str, Any]]:
    """One row per (step, metric): last value, number of values, min and max."""
    rows = []
    for step, metrics in histories.items():
        for name, values in sorted(metrics.items()):
            numbers = [v for _, v in values]
            if not numbers:
                continue
            rows.append({"step": step, "metric": name, "last": numbers[-1], "count": len(numbers),
                         "min": min(numbers), "max": max(numbers)})
    return rows


def metrics_table(histories: Histories, title: str = "") -> str:
    """The rows of :func:`metrics_rows` as an aligned text table."""
    rows = metrics_rows(histories)
    if not rows:
        return f"{title}\n  no metrics recorded" if title else "no metrics recorded"
    header = ["step", "metric", "last", "values", "min", "max"]
    body = [[r["step"], r["metric"], _num(r["last"]), str(r["count"]), _num(r["min"]),
             _num(r["max"])] for r in rows]
    return _align(header, body, title)


def compare_rows(runs: Mapping[str, Histories]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (``step/metric``) and one row per run with the final value of each metric."""
    columns: list[str] = []
    rows = []
    for run_id, histories in runs.items():
        row: dict[str, Any] = {"run": run_id}
        for step, metrics in histories.items():
            for name, values in sorted(metrics.items()):
                if not values:
                    continue
                column = f"{step}/{name}"
                if column not in columns:
                    columns.append(column)
                row[column] = values[-1][1]
        rows.append(row)
    return columns, rows


def compare_table(runs: Mapping[str, Histories]) -> str:
    columns, rows = compare_rows(runs)
    body = [[r["run"], *[_num(r[c]) if c in r else "-" for c in columns]] for r in rows]
    return _align(["run", *columns], body, "")


def plot(histories: Histories, out: str | os.PathLike[str], title: str = "") -> Path:
    """Line plots of every metric with more than one value (loss curves), as a PNG.

    Raises:
        UsageError: no metric has more than one value.
        MissingDependencyError: matplotlib is not installed.
    """
    series = [(f"{step}: {name}", values) for step, metrics in histories.items()
              for name, values in sorted(metrics.items()) if len(values) > 1]
    if not series:
        raise UsageError("no metric has more than one value to plot (log it once per epoch)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "tracking", "Plotting metrics") from None
    figure, axes = plt.subplots(len(series), 1, figsize=(7, 2.6 * len(series)), squeeze=False)
    for ax, (label, values) in zip(axes[:, 0], series):
        ax.plot([s for s, _ in values], [v for _, v in values], marker="o", markersize=3)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp.png")
    figure.savefig(partial, dpi=100)
    plt.close(figure)
    os.replace(partial, target)
    return target


def _num(value: float) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.6g}"


def _align(header: list[str], body: list[list[str]], title: str) -> str:
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = [title] if title else []
    for row in [header, *body]:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
