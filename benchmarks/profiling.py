"""Profiles of azml where it misses a goal, summed up for RESULTS.md's notes.

``azml run`` and ``azml validate`` are profiled with cProfile (``python -m cProfile
-m azml ...``, main thread only) and ``python -X importtime``; for the chain, a
1-step run also splits azml's extra time into a fixed part and a part per step.
Only the orchestrator is profiled, never the steps.
"""

from __future__ import annotations

import pstats
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.context import Context, Row
from benchmarks.generators import chain, fan_out
from benchmarks.orchestration import FANOUT_WIDTH, fresh_runner, workspace_for_profile
from benchmarks.startup import startup_config
from benchmarks.timing import CaseError, Timing, describe, fmt_seconds, measure, run_command

TOP = 6


def profile_shortfalls(ctx: Context, rows: Sequence[Row]) -> list[str]:
    """Profile every case whose goal was not met; return markdown lines of findings."""
    lines: list[str] = []
    done: set[str] = set()
    for row in rows:
        if row.goal_met() is not False or not row.key or row.key in done:
            continue
        done.add(row.key)
        ctx.log(f"profiling: {row.case}")
        try:
            lines += PROFILERS[row.key.split(":")[0]](ctx, row)
        except CaseError as exc:
            lines += [f"- {row.case}: profiling failed: {exc}"]
    return lines


def _profile_run(ctx: Context, row: Row) -> list[str]:
    """cProfile and ``-X importtime`` of the ``azml run`` of a chain, re-run or fan-out case."""
    kind, _, name = row.key.partition(":")
    if kind == "fanout":
        pipeline = fan_out(FANOUT_WIDTH, ctx.work_per_second)
        extra = ["--no-reuse", "--max-parallel", "2"]
    else:
        steps = int(name.removeprefix("chain"))
        pipeline = chain(steps, ctx.work_per_second if steps == 3 else 0)
        extra = ["--no-reuse"] if kind == "chain" else []
    root = workspace_for_profile(ctx, pipeline)
    env = ctx.env(root)
    command = ["run", "pipeline_config.json", *extra]
    if kind == "noop":
        run_command([*ctx.tools.azml, "run", "pipeline_config.json"], cwd=root, env=env,
                    label="azml run (before profiling the re-run)")
    prof = root / "azml.prof"
    elapsed, _ = run_command([ctx.tools.python, "-m", "cProfile", "-o", str(prof), "-m", "azml",
                              *command], cwd=root, env=env, label="cProfile azml run")
    _, proc = run_command([ctx.tools.python, "-X", "importtime", "-m", "azml", *command],
                          cwd=root, env=env, label="importtime azml run")
    lines = [f"- `{' '.join(['azml run', *extra])}` on {pipeline.name} under cProfile "
             f"({elapsed:.2f} s wall):", *summarize_profile(prof),
             summarize_importtime(proc.stderr)]
    if kind == "chain":
        lines += _fixed_and_per_step(ctx, row, len(pipeline.steps))
    return lines


def _fixed_and_per_step(ctx: Context, row: Row, steps: int) -> list[str]:
    """Split azml's extra time on a chain into a fixed part and a part per step.

    Times a 1-step chain with azml and with the shell loop: their difference is
    the fixed cost of one ``azml run``; the rest of the chain's extra time is
    spread over the other steps.
    """
    if not (isinstance(row.azml, Timing) and isinstance(row.other, Timing)) or steps < 2:
        return []
    one = chain(1)
    got = measure(ctx.fast_reps, {
        "azml": fresh_runner(ctx, one, "azml", ["--no-reuse"], "azml run, 1 step"),
        "shell": fresh_runner(ctx, one, "shell", [], "shell loop, 1 step"),
    })
    azml, shell = got["azml"], got["shell"]
    if not (isinstance(azml, Timing) and isinstance(shell, Timing)):
        return [f"  - fixed/per-step split not measured: {describe(azml)} / {describe(shell)}"]
    fixed = azml.median - shell.median
    per_step = (row.azml.median - row.other.median - fixed) / (steps - 1)
    return [f"  - a 1-step chain takes {fmt_seconds(azml.median)} with azml against "
            f"{fmt_seconds(shell.median)} for the floor: about {fmt_seconds(fixed)} of every "
            f"`azml run` is fixed cost (interpreter, imports, config checks, run store), and "
            f"each further step adds about {per_step * 1000:.0f} ms over the floor's "
            f"{row.other.median / steps * 1000:.0f} ms per step"]


#: Built-ins in which the orchestrator blocks while steps run.
WAITS = ("select.select", "'poll' of 'select.poll' objects", "'poll' of 'select.epoll' objects",
         "posix.waitpid", "posix.wait4", "time.sleep")
#: azml functions with more of the total than this are the entry points wrapping it all.
WRAPPER_SHARE = 0.9
#: A wait shorter than this share of the total is not where the orchestrator blocks.
WAIT_SHARE = 0.05


def summarize_profile(prof: Path, top: int = TOP) -> list[str]:
    """Where the orchestrator's time went, apart from waiting for its steps.

    Returns lines: the split into waiting / importing / the rest, the azml
    functions with most cumulative time that are not merely waiting (none of the
    callers of a wait), and the biggest self times outside the waits.
    """
    entries = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    total = max((ct for (_, _, _, ct, _) in entries.values()), default=0.0)
    waits = {key for key, (_, _, tt, _, _) in entries.items()
             if any(w in key[2] for w in WAITS) and tt >= WAIT_SHARE * total}
    waited = sum(entries[key][2] for key in waits)
    imports = max((ct for key, (_, _, _, ct, _) in entries.items()
                   if key[2] == "_find_and_load"), default=0.0)
    blocking = _callers_of(entries, waits)
    azml = sorted(((ct, _where(key)) for key, (_, _, _, ct, _) in entries.items()
                   if _where(key).startswith("azml/") and key not in blocking
                   and ct < WRAPPER_SHARE * total), reverse=True)
    own = sorted(((tt, _where(key)) for key, (_, _, tt, _, _) in entries.items()
                  if key not in waits), reverse=True)
    return [
        f"  - {total:.2f} s profiled: {waited:.2f} s waiting for step processes, "
        f"{imports:.2f} s importing modules, {total - waited - imports:.2f} s the rest",
        "  - heaviest azml functions (cumulative, not counting waits): " + "; ".join(
            f"`{where}` {ct:.3f} s" for ct, where in azml[:top]),
        "  - most self time outside the waits: " + "; ".join(
            f"`{where}` {tt:.3f} s" for tt, where in own[:top]),
    ]


def _callers_of(entries: dict, keys: set) -> set:
    """The azml functions that (directly or through other azml functions) called ``keys``.

    The walk stops at code outside azml: cProfile merges every call of
    ``builtins.exec`` or the import machinery, so going through them would make
    any function that imports something look like a caller of everything.
    """
    found: set = set()
    todo = list(keys)
    while todo:
        for caller in entries.get(todo.pop(), (0, 0, 0, 0, {}))[4]:
            if caller not in found and _where(caller).startswith("azml/"):
                found.add(caller)
                todo.append(caller)
    return found


def _where(key: tuple[str, int, str]) -> str:
    """``azml/targets/local/run.py:42(run_step)`` or ``~:0(<built-in ...>)``, shortened."""
    filename, line, func = key
    if "/azml/" in filename:
        filename = "azml/" + filename.rsplit("/azml/", 1)[1]
    elif "/" in filename:
        filename = "/".join(filename.split("/")[-2:])
    return f"{filename}:{line}({func})"


def _profile_validate(ctx: Context, row: Row) -> list[str]:
    """``-X importtime`` and cProfile of ``azml validate`` on the start-up config."""
    folder = ctx.folder("profile-validate")
    config, cwd, which = startup_config(ctx, folder)
    env = ctx.env(folder)
    _, proc = run_command([ctx.tools.python, "-X", "importtime", "-m", "azml", "validate",
                           str(config)], cwd=cwd, env=env, label="importtime azml validate")
    imports = summarize_importtime(proc.stderr)
    prof = folder / "validate.prof"
    elapsed, _ = run_command([ctx.tools.python, "-m", "cProfile", "-o", str(prof), "-m", "azml",
                              "validate", str(config)], cwd=cwd, env=env,
                             label="cProfile azml validate")
    return [f"- `azml validate` on the {which}:", imports,
            f"  - under cProfile ({elapsed:.2f} s wall):",
            *["  " + line for line in summarize_profile(prof)]]


def summarize_importtime(stderr: str, top: int = 8) -> str:
    """The slowest top-level imports from ``-X importtime`` output, as one line."""
    found: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        name = parts[2].rstrip()[1:]  # "| name", two more spaces per nesting level
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 0:
            found.append((int(parts[1].strip()), name.strip()))
    total = sum(us for us, _ in found)
    found.sort(reverse=True)
    shown = "; ".join(f"`{name}` {us / 1000:.0f} ms" for us, name in found[:top])
    return f"  - imports take {total / 1000:.0f} ms in all; slowest top-level: {shown}"


PROFILERS: dict[str, Callable[[Context, Row], list[str]]] = {
    "chain": _profile_run,
    "noop": _profile_run,
    "fanout": _profile_run,
    "validate": _profile_validate,
}
