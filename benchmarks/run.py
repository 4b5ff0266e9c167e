"""Benchmark azml against a shell loop, DVC and mpirun; write benchmarks/RESULTS.md.

Usage (from the repository root, with azml installed in the interpreter)::

    python benchmarks/run.py                 # everything, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick         # fewer repetitions, for development
    python benchmarks/run.py --only fanout   # one section (repeatable)

``--quick`` and ``--only`` write to ``benchmarks/.work/RESULTS.md`` unless
``--output`` says otherwise, so a partial run never replaces the real results.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bigdata import section_bigdata
from benchmarks.context import Context, Row, calibrate
from benchmarks.data import section_data
from benchmarks.environment import (
    BENCH_DIR,
    REPO,
    azml_works,
    cpu_snapshot,
    ensure_dvc,
    find_tools,
    interference,
    machine,
)
from benchmarks.mpi import section_mpi
from benchmarks.orchestration import (
    local_backend_pending,
    section_chain,
    section_fanout,
    section_noop,
    warm_up,
)
from benchmarks.parallel import section_parallel
from benchmarks.profiling import profile_shortfalls
from benchmarks.report import render
from benchmarks.scale import section_scale
from benchmarks.startup import section_startup
from benchmarks.timing import Failed

SECTIONS = ("chain", "noop", "fanout", "startup", "mpi", "data", "bigdata", "parallel", "scale")
NEEDS_DVC = {"chain", "noop", "fanout"}
FULL_REPS = (5, 3)
QUICK_REPS = (2, 1)
RESULTS = BENCH_DIR / "RESULTS.md"
SCRATCH_RESULTS = BENCH_DIR / ".work" / "RESULTS.md"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Measure azml's overhead against a shell loop, DVC and mpirun, "
                    "and write the table to benchmarks/RESULTS.md.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPS[0]}/{QUICK_REPS[1]} repetitions instead of "
                             f"{FULL_REPS[0]}/{FULL_REPS[1]} (fast/slow cases)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="NAME",
                        help=f"run only this section ({', '.join(SECTIONS)}); repeatable")
    parser.add_argument("--output", type=Path,
                        help="where to write the results (default: benchmarks/RESULTS.md; "
                             "benchmarks/.work/RESULTS.md with --quick or --only)")
    parser.add_argument("--no-profile", action="store_true",
                        help="do not profile azml where it misses a goal")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the scratch folders under benchmarks/.work/")
    return parser.parse_args(argv)


def _log_to_stderr(start: float) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    return log


def _run_sections(ctx: Context, sections: Sequence[str]) -> list[Row]:
    """Every selected section, in order; a crashing section becomes a failed row."""
    needs_backend = set(sections) & {"chain", "noop", "fanout", "mpi", "bigdata", "scale"}
    pending = local_backend_pending(ctx) if needs_backend else None
    runners: dict[str, Callable[[], list[Row]]] = {
        "chain": lambda: section_chain(ctx, pending),
        "noop": lambda: section_noop(ctx, pending),
        "fanout": lambda: section_fanout(ctx, pending),
        "startup": lambda: section_startup(ctx),
        "mpi": lambda: section_mpi(ctx, pending),
        "data": lambda: section_data(ctx),
        "bigdata": lambda: section_bigdata(ctx, pending),
        "parallel": lambda: section_parallel(ctx),
        "scale": lambda: section_scale(ctx, pending),
    }
    rows: list[Row] = []
    for name in sections:
        try:
            rows += runners[name]()
        except Exception as exc:  # a harness bug must not lose the other sections
            traceback.print_exc()
            rows.append(Row(name, "(whole section)", "—",
                            Failed(f"harness error {exc.__class__.__name__}: {exc}")))
    return rows


def _command_text(args: argparse.Namespace) -> str:
    parts = ["python benchmarks/run.py"]
    if args.quick:
        parts.append("--quick")
    parts += [f"--only {name}" for name in args.only or []]
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 if every case was measured (or is n/a), 1 if any failed."""
    args = parse_args(argv)
    start = time.perf_counter()
    log = _log_to_stderr(start)
    tools = find_tools()
    if not azml_works(tools):
        print(f"benchmarks: `{' '.join(tools.azml)} --help` fails; install azml first "
              "(see README.md) and run this with that interpreter", file=sys.stderr)
        return 2
    sections = [s for s in SECTIONS if not args.only or s in args.only]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = BENCH_DIR / ".work" / f"run-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    if set(sections) & NEEDS_DVC:
        ensure_dvc(tools, log)
    else:
        tools.dvc_reason = "not needed by the sections run"
    fast, slow = QUICK_REPS if args.quick else FULL_REPS
    ctx = Context(tools=tools, work=work, fast_reps=fast, slow_reps=slow,
                  work_per_second=calibrate(tools, work), log=log)
    ctx.notes.append(f"About 1 s of CPU work = {ctx.work_per_second:,} iterations of the step "
                     "script's busy loop, calibrated at the start of this run.")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        ctx.notes.append("This shell had PYTHONDONTWRITEBYTECODE set; the harness clears it, "
                         "so commands use cached bytecode as in a default Python set-up.")
    ctx.notes.append("azml remembers configs it found schema-valid under $XDG_CACHE_HOME/azml; "
                     "the harness gives it a cache of its own for the whole run, so the first "
                     "run of each generated config checks the schema and later ones skip it, "
                     "as when you re-run a config.")
    warm_up(ctx)
    if tools.dvc_install_seconds is not None:
        ctx.notes.append(f"DVC was installed into benchmarks/.venv-dvc by this run "
                         f"({tools.dvc_install_seconds:.0f} s, not counted in any case).")
    before = cpu_snapshot()
    rows = _run_sections(ctx, sections)
    load = interference(before, cpu_snapshot())
    profile = [] if args.no_profile else profile_shortfalls(ctx, rows)
    elapsed = time.perf_counter() - start
    facts = [*machine(tools), *load]
    text = render(command=_command_text(args), machine=facts, rows=rows,
                  notes=ctx.notes, profile=profile, elapsed=elapsed)
    output = args.output or (SCRATCH_RESULTS if args.quick or args.only else RESULTS)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    failed = [r for r in rows if isinstance(r.azml, Failed) or isinstance(r.other, Failed)]
    print(text)
    log(f"wrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    if failed:
        log(f"{len(failed)} row(s) failed; kept {work} (logs of azml runs are in .azml/runs)")
    elif not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
