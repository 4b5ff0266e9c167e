"""Section 9: scale (issue #16). Cost per step as the pipeline grows, a large fully
reused re-run, and the orchestrator's memory while a step writes a lot of output.

- A fresh chain of 500 and of 2,000 trivial steps against the shell loop: the
  2,000-step ratio has a goal, and the notes give azml's cost per step above the
  floor at both sizes (it should not grow with the pipeline).
- A 500-step chain re-run with nothing changed (every step reused).
- An MpiStep of 2 ranks writing 1 GiB to stdout between them: the orchestrator's
  peak resident memory (``VmHWM`` of the ``azml run`` process, sampled from
  ``/proc`` while it runs), against a goal; the step guard's peak is in the notes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.generators import chain
from benchmarks.orchestration import _azml, fresh_runner, noop_runner
from benchmarks.timing import CaseError, Megabytes, Outcome, Timing, Unavailable, measure

BIG_CHAIN_GOAL = Goal("≤ 1.3× the floor", "ratio_max", 1.3)
BIG_NOOP_GOAL = Goal("≤ 0.3 s", "seconds_max", 0.3)
RSS_GOAL = Goal("≤ 100 MB", "value_max", 100.0)
LOG_BYTES = 1 << 30
RANKS = 2
#: A fresh 2,000-step chain takes a minute or more on a busy 2-core machine.
LONG_TIMEOUT = 900.0

TALK = """\
import sys
total = int(sys.argv[1])
line = ("x" * 119 + "\\n").encode()
block = line * 512
out = sys.stdout.buffer
written = 0
while written < total:
    out.write(block)
    written += len(block)
out.flush()
"""


def section_scale(ctx: Context, pending: Outcome | None) -> list[Row]:
    """9. Scale: big chains fresh and reused, and memory under a large log."""
    title = "9. Scale"
    rows: list[Row] = []
    reps = 1 if ctx.fast_reps <= 2 else 2
    per_step: dict[int, tuple[Outcome, Outcome]] = {}
    for size in (500, 2000):
        pipeline = chain(size, name=f"chain{size}")
        case = f"{size:,}-step chain, trivial steps"
        ctx.log(f"{title}: {case}")
        outcomes = measure(reps, {
            "azml": _azml(pending, fresh_runner(ctx, pipeline, "azml", ["--no-reuse"],
                                                f"azml run --no-reuse ({case})",
                                                timeout=LONG_TIMEOUT)),
            "shell": fresh_runner(ctx, pipeline, "shell", [], f"shell loop ({case})",
                                  timeout=LONG_TIMEOUT),
        })
        per_step[size] = (outcomes["azml"], outcomes["shell"])
        rows.append(Row(title, case, "azml run --no-reuse", outcomes["azml"], "shell loop (floor)",
                        outcomes["shell"], BIG_CHAIN_GOAL if size == 2000 else None))
    _note_per_step(ctx, per_step)
    case = "500-step chain, re-run"
    ctx.log(f"{title}: {case}")
    outcome = measure(ctx.fast_reps, {
        "azml": _azml(pending, noop_runner(ctx, chain(500, name="chain500"), "azml",
                                           f"azml run, all reused ({case})"))})["azml"]
    rows.append(Row(title, case, "azml run (all reused)", outcome, goal=BIG_NOOP_GOAL,
                    key="noop:chain500"))
    rows.append(_log_memory(ctx, title, pending))
    return rows


def _note_per_step(ctx: Context, per_step: dict[int, tuple[Outcome, Outcome]]) -> None:
    parts = []
    for size, (azml, shell) in per_step.items():
        if isinstance(azml, Timing) and isinstance(shell, Timing):
            extra = (azml.median - shell.median) / size * 1000
            parts.append(f"{extra:.1f} ms per step above the floor at {size:,} steps "
                         f"({azml.median / size * 1000:.1f} ms against {shell.median / size * 1000:.1f})")
    if parts:
        ctx.notes.append("Scale: azml's median is " + "; ".join(parts)
                         + " (medians; azml's start-up included).")


def _log_memory(ctx: Context, title: str, pending: Outcome | None) -> Row:
    case = f"MpiStep, {RANKS} ranks writing {LOG_BYTES >> 30} GiB to stdout in all"
    label = "azml run (orchestrator peak RSS)"
    if pending is not None:
        return Row(title, case, label, pending, goal=RSS_GOAL)
    if shutil.which("mpirun") is None:
        return Row(title, case, label, Unavailable("mpirun is not on PATH"), goal=RSS_GOAL)
    ctx.log(f"{title}: {case}")
    try:
        orchestrator, guard = _run_talking_step(ctx)
    except CaseError as exc:
        from benchmarks.timing import Failed

        return Row(title, case, label, Failed(str(exc)), goal=RSS_GOAL)
    ctx.notes.append(f"Large log: the step guard (which reads the launcher's output and writes "
                     f"step.log and the rank logs) peaked at {guard:.0f} MB resident; the "
                     f"orchestrator at {orchestrator:.0f} MB.")
    return Row(title, case, label, Megabytes([orchestrator]), goal=RSS_GOAL)


def _run_talking_step(ctx: Context) -> tuple[float, float]:
    """Run the talking MpiStep once; (orchestrator, guard) peak RSS in MB."""
    root = ctx.folder("bigLog")
    (root / "src").mkdir(parents=True)
    (root / "src" / "talk.py").write_text(TALK)
    config = {"talk": {"type": "MpiStep", "name": "talk", "script": "talk.py",
                       "source_directory": "src", "node_count": RANKS, "processes_per_node": 1,
                       "inputs": {},
                       "arguments": [str(LOG_BYTES // RANKS)]}}
    (root / "pipeline_config.json").write_text(json.dumps(config))
    argv = [*ctx.tools.azml, "run", "pipeline_config.json", "--no-reuse"]
    proc = subprocess.Popen(argv, cwd=root, env=ctx.env(root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    peaks: dict[int, float] = {}
    deadline = time.monotonic() + LONG_TIMEOUT
    while proc.poll() is None:
        for pid in [proc.pid, *_children(proc.pid)]:
            peak = _peak_mb(pid)
            if peak is not None:
                peaks[pid] = max(peaks.get(pid, 0.0), peak)
        if time.monotonic() > deadline:
            proc.kill()
            raise CaseError(f"azml run (large log) took over {LONG_TIMEOUT:.0f} s")
        time.sleep(0.2)
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise CaseError(f"azml run (large log) exited {proc.returncode}: {stderr[-300:]}")
    logs = list((root / ".azml" / "runs").glob("*/talk/step.log"))
    size = logs[0].stat().st_size if logs else 0
    if size < LOG_BYTES:
        raise CaseError(f"the step log holds {size:,} bytes, expected over {LOG_BYTES:,}")
    shutil.rmtree(root / ".azml" / "runs", ignore_errors=True)  # 2+ GiB of logs
    guards = [v for pid, v in peaks.items() if pid != proc.pid]
    return peaks.get(proc.pid, 0.0), max(guards, default=0.0)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` whose command line is the same (the step guards)."""
    try:
        own = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
            if int(stat[stat.rfind(b")") + 2:].split()[1]) != pid:
                continue
            if Path(entry.path, "cmdline").read_bytes() == own:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _peak_mb(pid: int) -> float | None:
    """``VmHWM`` (peak resident set) of ``pid`` in MB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None
