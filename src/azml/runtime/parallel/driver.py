"""Run a ParallelRunStep entry script locally, as AzureML's batch driver runs it.

Usage (the step's own interpreter, this file by path; see docs/parallel.md)::

    python driver.py --entry score.py --source SRC --input images=DATA/images \\
        --output OUT --output-action append_row --mini-batch-size 10 \\
        --error-threshold 10 --run-max-try 3 --run-invocation-timeout 60 \\
        --process-count-per-node 2 --node-count 1 --logging-level INFO \\
        --logs LOGS -- --model_name mnist

Exit codes: 0 the job succeeded; 1 it failed (a threshold was exceeded, init()
kept failing, or no mini-batch succeeded in append_row mode); 2 a bad argument
or input found before any worker started.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

if not __package__:  # run by path: import the sibling modules as the package ``parallel``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "parallel"

from .inputs import check_entry, check_inputs, plan_batches
from .job import Counts, Job, JobFailed
from .layout import Layout
from .options import Options, UsageError, azureml_argv, expand_arguments, parse
from .pool import Pool

NO_ROWS = ("No temp file found. The job failed. A job should generate temp files or should fail "
           "before this (AzureML's message): no mini batch succeeded, so there are no rows to append")


def prepare(options: Options) -> None:
    """Every check that can be made before a worker starts."""
    check_entry(options)
    check_inputs(options)
    if options.input_kind == "tabular" and importlib.util.find_spec("pandas") is None:
        raise UsageError("tabular input needs pandas in the step's environment (AzureML passes "
                         "each mini-batch to run() as a pandas DataFrame); add it to the requirements")


def worker_config(options: Options, layout: Layout) -> dict[str, object]:
    """What every worker is told when it starts (the per-worker parts are added by the pool)."""
    output = str(options.output) if options.output is not None else ""
    return {
        "entry": options.entry, "module": options.module_name,
        "source": str(options.source), "argv": azureml_argv(options, str(Path(__file__).resolve())),
        "working_dir": os.getcwd(), "logging_level": options.logging_level,
        "input_kind": options.input_kind, "output_action": options.output_action,
        "output": output, "append_row_file_name": options.append_row_file_name,
    }


def write_rows(options: Options, job: Job) -> Path | None:
    """Concatenate the workers' rows, in mini-batch order, into the append_row file."""
    if options.output_action != "append_row" or options.output is None:
        return None
    if not job.spans:
        raise JobFailed(NO_ROWS)
    target = options.output / options.append_row_file_name
    partial = options.output / f".{options.append_row_file_name}.partial"
    handles: dict[Path, object] = {}
    try:
        with partial.open("wb") as out:
            for bid in sorted(job.spans):
                path, offset, length = job.spans[bid]
                source = handles.get(path) or handles.setdefault(path, path.open("rb"))
                source.seek(offset)  # type: ignore[attr-defined]
                out.write(source.read(length))  # type: ignore[attr-defined]
        os.replace(partial, target)
    finally:
        for handle in handles.values():
            handle.close()  # type: ignore[attr-defined]
        partial.unlink(missing_ok=True)
    return target


def summary(options: Options, job: Job, counts: Counts, rows: Path | None) -> str:
    threshold = "ignored (-1)" if options.error_threshold < 0 else str(options.error_threshold)
    head = (f"ParallelRunStep succeeded: {job.total_items:,} items in {len(job.batches):,} mini batches, "
            f"{counts.items_ok:,} succeeded, {counts.items_failed:,} failed (error_threshold {threshold}); "
            f"{counts.tries_failed} failed tries")
    lines = [head]
    if rows is not None:
        lines.append(f"rows: {rows}")
    if counts.items_failed or counts.tries_failed or counts.init_failures:
        logs = ", ".join(sorted(counts.error_logs))
        lines.append(f"failures: {job.layout.errors} (tracebacks in {logs}); first: {counts.first_error}")
    lines.append(f"logs: {job.layout.root}")
    return "\n".join(lines)


def make_temp_root() -> Path:
    """A private folder for the workers' working directories (``tempfile`` would import shutil)."""
    base = Path(os.environ.get("TMPDIR") or "/tmp")
    for attempt in range(100):
        path = base / f"azml-prs-{os.getpid()}-{time.monotonic_ns()}-{attempt}"
        try:
            path.mkdir(mode=0o700)
            return path
        except FileExistsError:
            continue
    raise UsageError(f"cannot create a temporary folder in {base}")


def remove_tree(root: Path) -> None:
    """Remove ``root`` and everything in it, ignoring what is already gone."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            Path(folder, name).unlink(missing_ok=True)
        for name in dirs:
            path = Path(folder, name)
            path.unlink(missing_ok=True) if path.is_symlink() else path.rmdir()
    if root.exists():
        root.rmdir()


def execute(options: Options) -> int:
    # AzureML's control script expands $VARS in the arguments before the driver starts.
    options = options._replace(user_args=expand_arguments(options.user_args, os.environ))
    # Workers run in temporary folders; on AzureML these are absolute mount paths anyway.
    options = options._replace(source=options.source.resolve(), logs=options.logs.resolve(),
                      output=options.output.resolve() if options.output is not None else None)
    prepare(options)
    layout = Layout(options.logs)
    layout.prepare()
    if options.output is not None:
        options.output.mkdir(parents=True, exist_ok=True)
        os.environ["AZUREML_BI_OUTPUT_PATH"] = str(options.output)
    temp_root = make_temp_root()
    pool = Pool(layout, worker_config(options, layout), temp_root, dict(os.environ))
    job = Job(options, pool, layout)
    try:
        job.start_workers()  # they start Python and run init() while the inputs are listed
        job.load(plan_batches(options))
        counts = job.run()
        rows = write_rows(options, job)
        text = summary(options, job, counts, rows)
        layout.append(layout.result, text.replace("\n", "; "))
        print(text, flush=True)
        return 0
    except JobFailed as exc:
        # The reason last: a step's last log line is what `azml status` shows as its reason.
        message = f"logs: {layout.root} (start with {layout.errors})\nParallelRunStep failed: {exc}"
        layout.append(layout.result, message.replace("\n", "; "))
        print(message, file=sys.stderr, flush=True)
        return 1
    finally:
        pool.close()
        layout.close()
        for path in job.rows_files:
            path.unlink(missing_ok=True)
        remove_tree(temp_root)


def stop_on_signal(signum: int, frame: object) -> None:
    """SIGTERM/SIGHUP (a cancelled step): unwind, so that workers are killed and temp files go."""
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_signal)
    try:
        return execute(parse(argv))
    except UsageError as exc:
        print(f"ParallelRunStep: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
