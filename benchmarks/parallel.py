"""Section 8: the local ParallelRunStep driver against a hand-written multiprocessing.Pool.

Both score the same 10,000 small files with the same entry script, 2 worker
processes and mini-batches of 10 files: each worker imports the script and calls
``init()`` once, then ``run(mini_batch)`` per mini-batch, and every returned row
ends in one file. The Pool is what a user would write by hand (default start
method, ``imap`` in order, rows written by the parent); azml's driver adds what
AzureML's does (worker logs, retries, timeouts, the error threshold, progress).
Each run gets a fresh output folder; after each, the harness checks the rows file
has one correct row per input file, so a run that skipped work cannot look fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.environment import REPO
from benchmarks.timing import CaseError, Runner, measure, run_command

FILES = 10_000
WORKERS = 2
MINI_BATCH = 10
DRIVER = REPO / "src" / "azml" / "runtime" / "parallel" / "driver.py"
#: Builds a contender's command line for one output folder.
ArgvFor = Callable[[Path], list[str]]
#: Throughput at least 0.9x the Pool's, i.e. wall time at most 1/0.9 of it.
THROUGHPUT_GOAL = Goal("throughput ≥ 0.9× the Pool's (time ≤ 1.11×)", "ratio_max", 1 / 0.9)

ENTRY_SCRIPT = '''\
"""A small scoring script: read each file, hash it, return one row per file."""
import hashlib
import os


def init():
    global salt
    salt = b"model-v1"


def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path, "rb") as handle:
            data = handle.read()
        digest = hashlib.sha256(salt + data).hexdigest()[:12]
        rows.append(f"{os.path.basename(path)} {int(data)} {digest}")
    return rows
'''

POOL_SCRIPT = '''\
"""The hand-written baseline: multiprocessing.Pool making the same init()/run() calls."""
import importlib
import multiprocessing
import os
import sys


def start(source):
    global score
    sys.path.insert(0, source)
    score = importlib.import_module("score")
    score.init()


def run(batch):
    return score.run(batch)


def main(source, data, output, size, workers):
    files = []
    for root, dirs, names in os.walk(data):
        dirs.sort()
        files.extend(os.path.join(root, name) for name in sorted(names))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    os.makedirs(output, exist_ok=True)
    with multiprocessing.Pool(workers, initializer=start, initargs=(source,)) as pool:
        with open(os.path.join(output, "parallel_run_step.txt"), "w") as out:
            for rows in pool.imap(run, batches):
                out.writelines(f"{row}\\n" for row in rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
'''


def write_inputs(root: Path, files: int = FILES) -> tuple[Path, Path, Path]:
    """The entry script folder, the input files (folders of 100) and the Pool script."""
    source, data = root / "src", root / "data"
    source.mkdir()
    (source / "score.py").write_text(ENTRY_SCRIPT)
    for index in range(files):
        folder = data / f"part{index // 100:03d}"
        if index % 100 == 0:
            folder.mkdir(parents=True)
        (folder / f"item{index:05d}.txt").write_text(f"{index}\n")
    pool = root / "pool_baseline.py"
    pool.write_text(POOL_SCRIPT)
    return source, data, pool


def check_rows(output: Path, label: str, files: int = FILES) -> None:
    """The rows file has one row per input file, each naming its file and number."""
    path = output / "parallel_run_step.txt"
    if not path.exists():
        raise CaseError(f"{label}: no {path.name} was written")
    rows = path.read_text().splitlines()
    numbers = sorted(int(row.split()[1]) for row in rows)
    if numbers != list(range(files)):
        raise CaseError(f"{label}: {len(rows)} rows, expected one for each of the {files} files")


def _runner(ctx: Context, root: Path, label: str, argv_for: ArgvFor) -> Runner:
    def run(index: int) -> float:
        output = root / f"out-{label.split()[0]}-{index}"
        seconds, _ = run_command(argv_for(output), cwd=root, env=ctx.env(root), label=label)
        check_rows(output, label)
        return seconds

    return run


def section_parallel(ctx: Context) -> list[Row]:
    """8. Batch inference: 10,000 files, 2 workers, azml's driver against multiprocessing.Pool."""
    title = "8. Batch inference"
    root = ctx.folder("parallel")
    source, data, pool = write_inputs(root)
    python = str(ctx.tools.python)
    ctx.log(f"{title}: {FILES:,} files, {WORKERS} workers, mini batches of {MINI_BATCH}")

    def azml_argv(output: Path) -> list[str]:
        return [python, str(DRIVER), "--entry", "score.py", "--source", str(source),
                "--input", f"items={data}", "--output", str(output), "--output-action", "append_row",
                "--mini-batch-size", str(MINI_BATCH), "--error-threshold", "0",
                "--process-count-per-node", str(WORKERS), "--logs", str(output.with_name(output.name + "-logs"))]

    def pool_argv(output: Path) -> list[str]:
        return [python, str(pool), str(source), str(data), str(output), str(MINI_BATCH), str(WORKERS)]

    outcomes = measure(ctx.slow_reps + 2, {
        "azml": _runner(ctx, root, "azml parallel driver", azml_argv),
        "pool": _runner(ctx, root, "multiprocessing.Pool", pool_argv),
    }, warmup=True)
    case = f"{FILES:,} small files, {WORKERS} workers, mini batches of {MINI_BATCH}, append_row"
    row = Row(title, case, "parallel driver (driver.py)", outcomes["azml"],
              f"multiprocessing.Pool({WORKERS}), same run() calls", outcomes["pool"], THROUGHPUT_GOAL)
    ratio = row.ratio()
    if ratio is not None:
        ctx.notes.append(
            f"Batch inference: {FILES / outcomes['azml'].median:,.0f} items/s with azml's driver, "  # type: ignore[union-attr]
            f"{FILES / outcomes['pool'].median:,.0f} items/s with the Pool (medians, whole commands "  # type: ignore[union-attr]
            f"including interpreter start-up): azml's throughput is {1 / ratio:.2f}× the Pool's.")
    return [row]

