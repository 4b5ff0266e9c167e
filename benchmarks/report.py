"""RESULTS.md: the machine, the results table, and the notes."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.context import Row
from benchmarks.timing import Timing, describe

HEADER = ("Section", "Case", "azml command", "azml time", "Compared with", "Its time",
          "azml ÷ it", "Goal", "Goal met")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _ratio_cell(row: Row) -> str:
    ratio = row.ratio()
    if ratio is None:
        return "—"
    text = f"{ratio:.2f}"
    if row.goal is not None and row.goal.kind == "speedup_min":
        text += f" (speed-up {1 / ratio:.2f}×)"
    return text


def _met_cell(row: Row) -> str:
    if row.goal is None:
        return "—"
    met = row.goal_met()
    if met is None:
        return "not measured"
    return "met" if met else "**not met**"


def table(rows: Sequence[Row]) -> list[str]:
    """The results table as markdown lines."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = (row.section, row.case, f"`{row.azml_label}`", describe(row.azml),
                 f"`{row.other_label}`" if row.other_label else "—",
                 describe(row.other) if row.other_label else "—",
                 _ratio_cell(row), row.goal.text if row.goal else "—", _met_cell(row))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def derived_notes(rows: Sequence[Row]) -> list[str]:
    """Numbers worth reading off the table: per-step overhead, fan-out against ideal."""
    notes = []
    for row in rows:
        if row.key.startswith("chain:") and isinstance(row.azml, Timing) \
                and isinstance(row.other, Timing):
            steps = int(row.key.removeprefix("chain:chain"))
            extra = (row.azml.median - row.other.median) / steps * 1000
            side = "above" if extra >= 0 else "below (within the noise)"
            notes.append(f"{row.case}: azml's median is {abs(extra):.0f} ms per step {side} "
                         f"the shell loop's ({steps} steps, azml's start-up included).")
        if row.key == "fanout" and isinstance(row.azml, Timing) and isinstance(row.other, Timing):
            notes.append(f"{row.case}: 2 cores at best halve the 4 branches, so the ideal "
                         f"speed-up is a little under 2× (the join runs alone, and azml's own "
                         f"start-up is paid once either way); measured "
                         f"{row.other.median / row.azml.median:.2f}× on medians, "
                         f"{row.other.low / row.azml.low:.2f}× on each side's fastest run "
                         f"(the run least disturbed by other load).")
        if row.key == "fanout-floor" and isinstance(row.azml, Timing) \
                and isinstance(row.other, Timing):
            notes.append(f"{row.case}: azml two at a time took "
                         f"{100 * (row.azml.median / row.other.median - 1):+.0f}% against bash "
                         f"running the same steps two at a time (medians); on a busy machine "
                         f"neither gets two full cores.")
    return notes


def render(
    *,
    command: str,
    machine: Sequence[tuple[str, str]],
    rows: Sequence[Row],
    notes: Sequence[str],
    profile: Sequence[str],
    elapsed: float,
) -> str:
    """The whole RESULTS.md."""
    out = [
        "# azml benchmarks",
        "",
        f"Written by `{command}` in {elapsed:.0f} s; do not edit by hand, run it again. "
        "[docs/benchmarks.md](../docs/benchmarks.md) says what each case measures and how to "
        "read the table.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {_cell(k)} | {_cell(v)} |" for k, v in machine],
        "",
        "## Results",
        "",
        "Wall-clock time of whole commands: median (min–max, number of runs). "
        "`azml ÷ it` is azml's median over the compared command's median; below 1 azml "
        "is faster. Each run starts in a fresh folder with its own `AZML_HOME`.",
        "",
        *table(rows),
        "",
        "## Notes",
        "",
    ]
    seen: set[str] = set()
    for note in [*notes, *derived_notes(rows)]:
        if note not in seen:
            seen.add(note)
            out.append(f"- {note}")
    out += ["", "### Profiles of goals not met", ""]
    out += list(profile) or ["No goal was missed, so nothing was profiled."]
    return "\n".join(out) + "\n"
