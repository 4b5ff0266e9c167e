"""Section 5: the demo's 2-rank train step through azml against ``mpirun`` by hand.

The demo's generate and prepare scripts run once, directly, into a datastore
folder. Then each round times (a) ``azml run --no-reuse`` of a one-step config
whose MpiStep reads those patches through a datastore input, and (b)
``mpirun -np 2 python train.py`` by hand with the same arguments.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from benchmarks.context import Context, Row
from benchmarks.environment import REPO, python_has
from benchmarks.generators import mpi_config
from benchmarks.timing import (
    CaseError,
    Failed,
    Outcome,
    Pending,
    Runner,
    Unavailable,
    measure,
    run_command,
)

DEMO_DIR = REPO / "experiments" / "interpretation" / "dutchf3_patch"
DEMO_SCRIPTS = ("generate_data.py", "prepare_data.py", "train.py")
#: A small survey, so one epoch takes about a second and launch costs show.
SURVEY_ARGS = ("--inlines", "48", "--crosslines", "40", "--depth", "48")
PREPARE_ARGS = ("--section_step", "2")
#: The demo's train arguments with epochs=1 and its default batch size.
TRAIN_OVERRIDES = ("TRAIN.END_EPOCH", "1", "TRAIN.BATCH_SIZE_PER_GPU", "32")
DATASTORE = "bench"
DATA_PATH = "prepared"
RANKS = 2
MPI_TIMEOUT = 180.0
TITLE = "5. MPI"
CASE = f"demo train step, {RANKS} ranks, 1 epoch on a small synthetic survey"


def blocker(ctx: Context) -> Outcome | None:
    """Why the MPI case cannot run here, if it cannot."""
    missing = [s for s in DEMO_SCRIPTS if not (DEMO_DIR / s).exists()]
    if missing:
        return Pending(f"demo not in {DEMO_DIR.relative_to(REPO)} yet ({', '.join(missing)})")
    if ctx.tools.mpirun is None:
        return Unavailable("mpirun not found: install Open MPI")
    if not python_has(ctx.tools, "torch"):
        return Unavailable("torch not installed: pip install -e '.[train]'")
    return None


def prepare_data(ctx: Context, data_root: Path) -> Path:
    """Run the demo's generate and prepare steps once; return the patches folder."""
    survey = data_root / DATASTORE / "survey"
    prepared = data_root / DATASTORE / DATA_PATH
    env = ctx.env(data_root)
    run_command([ctx.tools.python, "generate_data.py", "--output", str(survey), *SURVEY_ARGS],
                cwd=DEMO_DIR, env=env, label="demo generate_data.py")
    run_command([ctx.tools.python, "prepare_data.py", "--input_data", str(survey),
                 "--output", str(prepared), *PREPARE_ARGS],
                cwd=DEMO_DIR, env=env, label="demo prepare_data.py")
    return prepared


def azml_runner(ctx: Context, data_root: Path) -> Runner:
    """``azml run --no-reuse`` of the one-step MpiStep config, in a fresh folder each time.

    azml gives a single-node MPI step the fixed rendezvous port AzureML uses; when
    another process on the machine holds it, the run is repeated once (and a note
    says so) rather than counted as azml's failure.
    """
    label = "azml run --no-reuse (MpiStep)"

    def once() -> float:
        folder = ctx.folder("mpi-azml")
        config = folder / "pipeline_config.json"
        config.write_text(json.dumps(
            mpi_config(DEMO_DIR, DATASTORE, DATA_PATH, TRAIN_OVERRIDES, RANKS), indent=2))
        env = ctx.env(folder)
        env["AZML_DATASTORE_ROOT"] = str(data_root)
        try:
            elapsed, _ = run_command([*ctx.tools.azml, "run", config.name, "--no-reuse"],
                                     cwd=folder, env=env, label=label, timeout=MPI_TIMEOUT)
        except CaseError as exc:
            if _port_taken(folder):
                raise PortTaken(str(exc)) from None
            raise
        if not any(folder.rglob("model.pth")):
            raise CaseError(f"{label}: finished but wrote no model.pth under {folder}")
        return elapsed

    def run(index: int) -> float:
        try:
            return once()
        except PortTaken:
            ctx.notes.append(f"MPI: a `{label}` run failed because another process on the "
                             "machine held the rendezvous port; it was run again.")
            return once()

    return run


class PortTaken(CaseError):
    """A rank could not listen on its rendezvous port: another process holds it."""


def _port_taken(folder: Path) -> bool:
    """Whether a log under ``folder`` says the rendezvous port was in use."""
    for log in folder.rglob("*.log"):
        try:
            if "address already in use" in log.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hand_runner(ctx: Context, prepared: Path) -> Runner:
    """``mpirun -np 2 python train.py`` with the same arguments, started by hand.

    It gets a free ``MASTER_PORT``, as a careful person would on a shared machine.
    """
    label = "mpirun by hand"

    def run(index: int) -> float:
        out = ctx.folder("mpi-hand") / "model"
        assert ctx.tools.mpirun is not None
        argv = [ctx.tools.mpirun, "--allow-run-as-root", "--oversubscribe", "-np", str(RANKS),
                ctx.tools.python, "train.py", "--input_data", str(prepared),
                "--output", str(out), *TRAIN_OVERRIDES]
        env = ctx.env(out.parent)
        env["MASTER_PORT"] = str(free_port())
        elapsed, _ = run_command(argv, cwd=DEMO_DIR, env=env, label=label, timeout=MPI_TIMEOUT)
        if not (out / "model.pth").exists():
            raise CaseError(f"{label}: finished but wrote no {out / 'model.pth'}")
        return elapsed

    return run


def section_mpi(ctx: Context, pending: Outcome | None) -> list[Row]:
    """5. MPI: azml's MpiStep against mpirun by hand on the demo's train script."""
    azml_label, hand_label = "azml run --no-reuse (MpiStep)", "mpirun -np 2 by hand"
    blocked = blocker(ctx)
    if blocked is not None:
        return [Row(TITLE, CASE, azml_label, blocked, hand_label, blocked)]
    ctx.log(f"{TITLE}: preparing the demo's data")
    data_root = ctx.folder("mpi-data") / "datastores"
    try:
        prepared = prepare_data(ctx, data_root)
    except CaseError as exc:
        failed = Failed(str(exc))
        return [Row(TITLE, CASE, azml_label, failed, hand_label, failed)]
    azml: Runner | Outcome
    if pending is None:
        azml = azml_runner(ctx, data_root)
        # one untimed run builds the step's environment from the demo's requirements (torch,
        # numpy, ...), as the first run on a machine does; the timed runs find it built
        ctx.log(f"{TITLE}: building the step environment (untimed)")
        try:
            azml(-1)
        except CaseError:
            pass  # the timed runs report it
    else:
        azml = pending
    ctx.log(f"{TITLE}: {CASE}")
    outcomes = measure(ctx.slow_reps, {
        "azml": azml,
        "hand": hand_runner(ctx, prepared),
    })
    ctx.notes.append(
        f"MPI: the demo's `train.py` on a synthetic survey generated with "
        f"`{' '.join(SURVEY_ARGS)}`, prepared with `{' '.join(PREPARE_ARGS)}`, trained with "
        f"`{' '.join(TRAIN_OVERRIDES)}`; both sides pass exactly these arguments.")
    return [Row(TITLE, CASE, azml_label, outcomes["azml"], hand_label, outcomes["hand"])]
