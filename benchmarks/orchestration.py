"""Sections 1–3: orchestration overhead, nothing-changed re-runs, and fan-out.

Each timed run gets a fresh folder with the pipeline written anew (and, for azml,
its own ``AZML_HOME``). After every run the step trace is checked: a ``--no-reuse``
or ``repro -f`` run must have executed every step, a nothing-changed run none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.environment import python_has
from benchmarks.generators import (
    TRACE_VARIABLE,
    Pipeline,
    Workspace,
    chain,
    fan_out,
    trace_count,
    trace_env,
    write_workspace,
)
from benchmarks.timing import (
    COMMAND_TIMEOUT,
    CaseError,
    Outcome,
    Pending,
    Runner,
    Unavailable,
    measure,
    run_command,
)

CHAIN_GOAL = Goal("≤ 1.5× the floor", "ratio_max", 1.5)
NOOP_GOAL = Goal("< 0.5 s", "seconds_max", 0.5)
FANOUT_GOAL = Goal("speed-up ≥ 1.8×", "speedup_min", 1.8)
FANOUT_WIDTH = 4


def _argv(ctx: Context, tool: str, ws: Workspace, extra: Sequence[str]) -> list[str]:
    if tool == "azml":
        # steps get a clean environment, as on AzureML: the trace variable is let through
        return [*ctx.tools.azml, "run", ws.config.name, "--pass-env", TRACE_VARIABLE, *extra]
    if tool == "dvc":
        assert ctx.tools.dvc is not None
        return [ctx.tools.dvc, "repro", *extra]
    if tool == "shell-parallel":
        return ["bash", ws.parallel_script.name]
    return ["bash", ws.shell_script.name]


def _run_checked(ctx: Context, tool: str, ws: Workspace, extra: Sequence[str],
                 expect_steps: int, label: str, timeout: float = COMMAND_TIMEOUT) -> float:
    """Time one command in ``ws``; check the trace grew by ``expect_steps``."""
    before = trace_count(ws)
    env = {**ctx.env(ws.root), **trace_env(ws)}
    elapsed, _ = run_command(_argv(ctx, tool, ws, extra), cwd=ws.root, env=env, label=label,
                             timeout=timeout)
    ran = trace_count(ws) - before
    if ran != expect_steps:
        raise CaseError(f"{label}: expected {expect_steps} step(s) to run, the trace shows {ran}")
    return elapsed


def _workspace(ctx: Context, pipeline: Pipeline, tool: str) -> Workspace:
    ws = write_workspace(pipeline, ctx.folder(f"{pipeline.name}-{tool}"), ctx.tools.python)
    if tool == "dvc":
        ctx.init_dvc(ws.root)
    return ws


def fresh_runner(ctx: Context, pipeline: Pipeline, tool: str, extra: Sequence[str],
                 label: str, timeout: float = COMMAND_TIMEOUT) -> Runner:
    """A runner doing one full run in a fresh workspace each time it is called."""
    def run(index: int) -> float:
        ws = _workspace(ctx, pipeline, tool)
        return _run_checked(ctx, tool, ws, extra, ws.step_count, label, timeout)

    return run


def noop_runner(ctx: Context, pipeline: Pipeline, tool: str, label: str) -> Runner:
    """A runner re-running an up-to-date workspace (set up by one untimed full run)."""
    state: dict[str, Workspace] = {}

    def run(index: int) -> float:
        if "ws" not in state:
            ws = _workspace(ctx, pipeline, tool)
            _run_checked(ctx, tool, ws, [], ws.step_count, f"{label} (first run)")
            state["ws"] = ws
        return _run_checked(ctx, tool, state["ws"], [], 0, label)

    return run


def _azml(pending: Outcome | None, runner: Runner) -> Runner | Outcome:
    """The azml runner, or why azml cannot run here yet."""
    return pending if pending is not None else runner


def _dvc(ctx: Context, runner: Runner) -> Runner | Outcome:
    """The DVC runner, or why DVC is not available."""
    return runner if ctx.tools.dvc else Unavailable(ctx.tools.dvc_reason)


def section_chain(ctx: Context, pending: Outcome | None) -> list[Row]:
    """1. Orchestration overhead: 20 trivial steps and 3 one-second steps in a chain."""
    title = "1. Orchestration overhead"
    label = "azml run --no-reuse"
    rows: list[Row] = []
    cases = [(chain(20), ctx.fast_reps, "20-step chain, trivial steps", CHAIN_GOAL),
             (chain(3, ctx.work_per_second), ctx.slow_reps, "3-step chain, ~1 s CPU per step",
              None)]
    for pipeline, reps, case, goal in cases:
        ctx.log(f"{title}: {case}")
        outcomes = measure(reps, {
            "azml": _azml(pending, fresh_runner(ctx, pipeline, "azml", ["--no-reuse"],
                                                f"{label} ({case})")),
            "shell": fresh_runner(ctx, pipeline, "shell", [], f"shell loop ({case})"),
            "dvc": _dvc(ctx, fresh_runner(ctx, pipeline, "dvc", ["-f"], f"dvc repro -f ({case})")),
        })
        rows.append(Row(title, case, label, outcomes["azml"], "shell loop (floor)",
                        outcomes["shell"], goal, key=f"chain:{pipeline.name}"))
        rows.append(Row(title, case, label, outcomes["azml"], "dvc repro -f", outcomes["dvc"]))
    return rows


def section_noop(ctx: Context, pending: Outcome | None) -> list[Row]:
    """2. Nothing changed: azml re-run with every step reused against DVC's no-op."""
    title = "2. Nothing changed"
    rows: list[Row] = []
    for pipeline, case in [(chain(20), "20-step chain, re-run"),
                           (chain(3, ctx.work_per_second), "3-step chain (~1 s/step), re-run")]:
        ctx.log(f"{title}: {case}")
        outcomes = measure(ctx.fast_reps, {
            "azml": _azml(pending, noop_runner(ctx, pipeline, "azml",
                                               f"azml run, all reused ({case})")),
            "dvc": _dvc(ctx, noop_runner(ctx, pipeline, "dvc", f"dvc repro ({case})")),
        })
        rows.append(Row(title, case, "azml run (all reused)", outcomes["azml"],
                        "dvc repro (no-op)", outcomes["dvc"], NOOP_GOAL,
                        key=f"noop:{pipeline.name}"))
    return rows


def section_fanout(ctx: Context, pending: Outcome | None) -> list[Row]:
    """3. Fan-out: four ~1 s steps and a join, 2 at a time against 1 at a time and DVC."""
    title = "3. Fan-out"
    case = f"{FANOUT_WIDTH} × ~1 s CPU steps + join"
    pipeline = fan_out(FANOUT_WIDTH, ctx.work_per_second)
    ctx.log(f"{title}: {case}")

    def azml(parallel: int) -> Runner | Outcome:
        return _azml(pending, fresh_runner(ctx, pipeline, "azml",
                                           ["--no-reuse", "--max-parallel", str(parallel)],
                                           f"azml run --max-parallel {parallel}"))

    # Parallel timings suffer most from other load on the machine: one round more
    # than other slow cases (4 in a full run), within the 5-minute budget.
    outcomes = measure(max(ctx.slow_reps, ctx.fast_reps - 1), {
        "azml2": azml(2),
        "azml1": azml(1),
        "floor": fresh_runner(ctx, pipeline, "shell-parallel", [], "parallel shell floor"),
        "dvc": _dvc(ctx, fresh_runner(ctx, pipeline, "dvc", ["-f"], "dvc repro -f")),
    })
    label = "azml run --no-reuse --max-parallel 2"
    return [
        Row(title, case, label, outcomes["azml2"], "azml --max-parallel 1", outcomes["azml1"],
            FANOUT_GOAL, key="fanout"),
        Row(title, case, label, outcomes["azml2"], "bash, 2 steps at a time (floor)",
            outcomes["floor"], key="fanout-floor"),
        Row(title, case, label, outcomes["azml2"], "dvc repro -f (sequential)", outcomes["dvc"]),
    ]


def warm_up(ctx: Context) -> None:
    """One untimed ``azml validate`` and ``azml run`` of a 1-step chain.

    They compile azml's bytecode and fill the file cache, so no case pays for that.
    A failure here is ignored: the cases themselves report it.
    """
    ws = write_workspace(chain(1), ctx.folder("warm-up"), ctx.tools.python)
    for args in (["validate", ws.config.name], ["run", ws.config.name]):
        try:
            run_command([*ctx.tools.azml, *args], cwd=ws.root, env=ctx.env(ws.root),
                        label="warm-up")
        except CaseError:
            return


def local_backend_pending(ctx: Context) -> Outcome | None:
    """Pending if this checkout has no local backend yet (``azml run`` cannot work)."""
    if python_has(ctx.tools, "azml.targets.local"):
        return None
    return Pending("azml run's local backend (azml.targets.local) is not in this checkout yet")


def workspace_for_profile(ctx: Context, pipeline: Pipeline) -> Path:
    """A fresh azml workspace of ``pipeline`` (for :mod:`benchmarks.profiling`)."""
    return _workspace(ctx, pipeline, "azml").root
