"""Generated benchmark pipelines: one step script, and the same DAG three ways.

A :class:`Pipeline` is a small DAG of :class:`StepSpec`. :func:`write_workspace`
writes, into one folder, the shared step script (``src/step.py``) and the same
pipeline as an azml ``pipeline_config.json``, as a bash script running the steps
back to back (the floor), as a bash script running independent steps two at a time (the
parallel floor), and as a DVC ``dvc.yaml``. Every form runs the same
script with the same arguments; only the output paths differ (azml chooses its
own, the others write to ``out/STEP``).

Each step appends its id to the file named by the ``BENCH_TRACE`` environment
variable, when set, so the harness can check how many steps really ran (and
that a fully reused re-run ran none). Passing it in the environment rather than
as an argument keeps a pipeline's files the same wherever they are written, as
a user's config is the same from one run to the next.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The step script every generated pipeline runs (standard library only, so its
#: start-up is that of a bare Python).
STEP_SCRIPT = '''\
"""azml benchmark step: fixed CPU work, then value.txt (1 + sum of inputs) in --output."""
import argparse
import os
import time


def burn(iterations):
    """A busy loop doing a fixed amount of work."""
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def calibrate(seconds):
    """Iterations of burn() per second on this machine (after >= seconds of work)."""
    n = 100_000
    while True:
        start = time.perf_counter()
        burn(n)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return int(n / elapsed)
        n *= 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", default="step")
    parser.add_argument("--output")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--work", type=int, default=0)
    parser.add_argument("--calibrate", type=float)
    args = parser.parse_args()
    if args.calibrate:
        print(calibrate(args.calibrate))
        return
    value = 1
    for folder in args.input:
        with open(os.path.join(folder, "value.txt")) as f:
            value += int(f.read())
    burn(args.work)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "value.txt"), "w") as f:
        f.write(str(value))
    trace = os.environ.get("BENCH_TRACE")
    if trace:
        with open(trace, "a") as f:
            f.write(args.step + "\\n")


if __name__ == "__main__":
    main()
'''

SCRIPT_DIR = "src"
SCRIPT_NAME = "step.py"
OUT_DIR = "out"
CONFIG_NAME = "pipeline_config.json"
SHELL_NAME = "run_steps.sh"
PARALLEL_NAME = "run_steps_parallel.sh"
#: Steps the parallel shell floor runs at once (the machine's 2 cores).
PARALLEL_JOBS = 2
DVC_NAME = "dvc.yaml"
TRACE_NAME = "trace.log"
#: Environment variable naming the trace file steps append their id to.
TRACE_VARIABLE = "BENCH_TRACE"


@dataclass(frozen=True)
class StepSpec:
    """One generated step.

    Attributes:
        id: step id (also the output folder name).
        upstream: ids of the steps whose output this one reads.
        work: busy-loop iterations (0 for a trivial step).
    """

    id: str
    upstream: tuple[str, ...] = ()
    work: int = 0


@dataclass(frozen=True)
class Pipeline:
    """A generated DAG; ``steps`` are in an order where upstream comes first."""

    name: str
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True)
class Workspace:
    """The files :func:`write_workspace` wrote (all absolute)."""

    root: Path
    config: Path
    shell_script: Path
    parallel_script: Path
    dvc_yaml: Path
    trace: Path
    step_count: int


def chain(n: int, work: int = 0, name: str | None = None) -> Pipeline:
    """``n`` steps, each reading the previous one's output."""
    if n < 1:
        raise ValueError("a chain needs at least one step")
    ids = [f"s{i:02d}" for i in range(1, n + 1)]
    steps = tuple(
        StepSpec(sid, (ids[i - 1],) if i else (), work) for i, sid in enumerate(ids)
    )
    return Pipeline(name or f"chain{n}", steps)


def fan_out(width: int, work: int, name: str | None = None) -> Pipeline:
    """``width`` independent steps of ``work`` each, then a trivial join reading all."""
    if width < 1:
        raise ValueError("a fan-out needs at least one branch")
    branches = tuple(StepSpec(f"w{i}", (), work) for i in range(1, width + 1))
    join = StepSpec("join", tuple(b.id for b in branches), 0)
    return Pipeline(name or f"fanout{width}", (*branches, join))


def step_argv(step: StepSpec, python: str) -> list[str]:
    """The command line of ``step`` outside azml (paths relative to the workspace)."""
    argv = [python, f"{SCRIPT_DIR}/{SCRIPT_NAME}", "--step", step.id,
            "--output", f"{OUT_DIR}/{step.id}", "--work", str(step.work)]
    for up in step.upstream:
        argv += ["--input", f"{OUT_DIR}/{up}"]
    return argv


def azml_config(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline as a ``pipeline_config.json`` document (extended form)."""
    doc: dict[str, Any] = {}
    for step in pipeline.steps:
        # output names are unique in a pipeline (AzureML names its data after them)
        args = ["--step", step.id, "--output", f"${{{{outputs.out_{step.id}}}}}", "--work", str(step.work)]
        inputs = {f"in{k}": f"{up}.out_{up}" for k, up in enumerate(step.upstream)}
        for name in inputs:
            args += ["--input", f"${{{{inputs.{name}}}}}"]
        doc[step.id] = {
            "type": "PythonScriptStep",
            "name": step.id,
            "script": SCRIPT_NAME,
            "source_directory": SCRIPT_DIR,
            "arguments": args,
            "inputs": inputs,
            "outputs": [f"out_{step.id}"],
        }
    return doc


def shell_loop(pipeline: Pipeline, python: str) -> str:
    """A bash script running every step in order, nothing else: the floor."""
    lines = [
        "#!/usr/bin/env bash",
        f"# {pipeline.name}: the steps back to back (generated by benchmarks/generators.py)",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
    ]
    lines += [shlex.join(step_argv(s, python)) for s in pipeline.steps]
    return "\n".join(lines) + "\n"


def levels(pipeline: Pipeline) -> list[list[StepSpec]]:
    """The steps grouped by depth: each group needs only steps of earlier groups."""
    depth: dict[str, int] = {}
    for step in pipeline.steps:
        depth[step.id] = 1 + max((depth[u] for u in step.upstream), default=-1)
    groups: list[list[StepSpec]] = [[] for _ in range(max(depth.values()) + 1)]
    for step in pipeline.steps:
        groups[depth[step.id]].append(step)
    return groups


def shell_parallel(pipeline: Pipeline, python: str, jobs: int = PARALLEL_JOBS) -> str:
    """A bash script running independent steps ``jobs`` at a time: the parallel floor.

    Steps of one depth start in batches of ``jobs`` background processes; each
    batch is waited for (``wait PID`` fails the script if a step failed).
    """
    lines = [
        "#!/usr/bin/env bash",
        f"# {pipeline.name}: {jobs} steps at a time (generated by benchmarks/generators.py)",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
    ]
    for group in levels(pipeline):
        for start in range(0, len(group), jobs):
            batch = group[start:start + jobs]
            for k, step in enumerate(batch):
                lines.append(f"{shlex.join(step_argv(step, python))} & p{k}=$!")
            lines.append("; ".join(f"wait $p{k}" for k in range(len(batch))))
    return "\n".join(lines) + "\n"


def dvc_yaml(pipeline: Pipeline, python: str) -> str:
    """``dvc.yaml`` with one stage per step; deps and outs follow the DAG."""
    lines = ["stages:"]
    for step in pipeline.steps:
        cmd = shlex.join(step_argv(step, python))
        lines += [f"  {step.id}:", f"    cmd: {json.dumps(cmd)}", "    deps:",
                  f"      - {SCRIPT_DIR}/{SCRIPT_NAME}"]
        lines += [f"      - {OUT_DIR}/{up}" for up in step.upstream]
        lines += ["    outs:", f"      - {OUT_DIR}/{step.id}"]
    return "\n".join(lines) + "\n"


def write_workspace(pipeline: Pipeline, root: Path, python: str) -> Workspace:
    """Write the step script and all three forms of ``pipeline`` into ``root``.

    Args:
        pipeline: the DAG to write.
        root: the folder (created if missing).
        python: interpreter the shell loop and DVC stages call (azml uses its own).

    Returns:
        The paths written.
    """
    root = root.resolve()
    (root / SCRIPT_DIR).mkdir(parents=True, exist_ok=True)
    (root / SCRIPT_DIR / SCRIPT_NAME).write_text(STEP_SCRIPT)
    config = root / CONFIG_NAME
    config.write_text(json.dumps(azml_config(pipeline), indent=2) + "\n")
    shell = root / SHELL_NAME
    shell.write_text(shell_loop(pipeline, python))
    shell.chmod(0o755)
    parallel = root / PARALLEL_NAME
    parallel.write_text(shell_parallel(pipeline, python))
    parallel.chmod(0o755)
    dvc = root / DVC_NAME
    dvc.write_text(dvc_yaml(pipeline, python))
    return Workspace(root, config, shell, parallel, dvc, root / TRACE_NAME, len(pipeline.steps))


def trace_env(workspace: Workspace) -> dict[str, str]:
    """The environment variable making the steps of ``workspace`` record themselves."""
    return {TRACE_VARIABLE: str(workspace.trace)}


def trace_count(workspace: Workspace) -> int:
    """How many step executions the trace file records so far."""
    if not workspace.trace.exists():
        return 0
    return sum(1 for line in workspace.trace.read_text().splitlines() if line.strip())


def mpi_config(
    demo_dir: Path,
    datastore: str,
    path: str,
    overrides: Sequence[str],
    processes: int = 2,
) -> dict[str, Any]:
    """A one-step config: the demo's ``train.py`` as an MpiStep on a datastore input.

    Args:
        demo_dir: the demo's source directory (holds ``train.py``).
        datastore: datastore name of the prepared patches.
        path: path of the patches on that datastore.
        overrides: ``KEY VALUE`` arguments for train.py.
        processes: MPI ranks on the one node.
    """
    return {
        "train": {
            "type": "MpiStep",
            "name": "train",
            "script": "train.py",
            "source_directory": str(demo_dir.resolve()),
            # the step's environment is built from the demo's requirements, as on AzureML
            "requirements": str((demo_dir / "azureml_requirements.txt").resolve()),
            "node_count": 1,
            "processes_per_node": processes,
            # a CPU size: the benchmark's ranks share this machine's cores, not GPUs
            "compute": {"vm_size": "Standard_D4s_v3"},
            "inputs": {"patches": {"datastore": datastore, "path": path}},
            "outputs": ["model"],
            "arguments": ["--input_data", "${{inputs.patches}}",
                          "--output", "${{outputs.model}}", *overrides],
        }
    }
