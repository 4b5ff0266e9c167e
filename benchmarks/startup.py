"""Section 4: start-up of ``azml validate``, ``azml plan`` and ``azml plan --target azure``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from benchmarks.context import Context, Goal, Row
from benchmarks.environment import REPO, python_has
from benchmarks.generators import chain, write_workspace
from benchmarks.timing import Outcome, Pending, Runner, Unavailable, measure, run_command

DEMO_CONFIG = REPO / "configs" / "pipeline_config.json"
VALIDATE_GOAL = Goal("< 0.3 s", "seconds_max", 0.3)
AZURE_STEPS = 50
FLOOR_LABEL = "python -c pass (interpreter start)"


def startup_config(ctx: Context, folder: Path) -> tuple[Path, Path, str]:
    """The config to time validate/plan on: (config, cwd, description).

    The demo config when the checkout has it (run from the repo root, as its
    relative paths expect), else a generated 4-step chain.
    """
    if DEMO_CONFIG.exists():
        return DEMO_CONFIG, REPO, "demo config"
    ws = write_workspace(chain(4), folder / "chain4", ctx.tools.python)
    ctx.notes.append("Start-up: `configs/pipeline_config.json` is not in this checkout yet, "
                     "so `azml validate` and `azml plan` ran on a generated 4-step chain.")
    return ws.config, ws.root, "generated 4-step config"


def _timed(ctx: Context, argv: Sequence[str], cwd: Path, env: dict[str, str],
           label: str) -> Runner:
    return lambda index: run_command(argv, cwd=cwd, env=env, label=label)[0]


def azure_blocker(ctx: Context) -> Outcome | None:
    """Why ``plan --target azure`` cannot run here, if it cannot."""
    if not python_has(ctx.tools, "azureml.core"):
        return Unavailable("azureml not installed: pip install -e '.[azure]'")
    if not python_has(ctx.tools, "azml.targets.azureml_v1"):
        return Pending("azml's Azure backend (azml.targets.azureml_v1) is not in this checkout yet")
    return None


def section_startup(ctx: Context) -> list[Row]:
    """4. Start-up: validate and plan the demo config, plan a 50-step config for Azure."""
    title = "4. Start-up"
    folder = ctx.folder("startup")
    env = ctx.env(folder)
    config, cwd, which = startup_config(ctx, folder)
    azml = ctx.tools.azml
    ctx.log(f"{title}: validate / plan on the {which}")
    outcomes = measure(ctx.fast_reps, {
        "validate": _timed(ctx, [*azml, "validate", str(config)], cwd, env, "azml validate"),
        "plan": _timed(ctx, [*azml, "plan", str(config)], cwd, env, "azml plan"),
        "floor": _timed(ctx, [ctx.tools.python, "-c", "pass"], cwd, env, "python -c pass"),
    }, warmup=True)
    big = write_workspace(chain(AZURE_STEPS), folder / f"chain{AZURE_STEPS}", ctx.tools.python)
    ctx.log(f"{title}: plan --target azure on {AZURE_STEPS} steps")
    blocker = azure_blocker(ctx)
    azure = measure(ctx.slow_reps, {"azure": blocker or _timed(
        ctx, [*azml, "plan", "--target", "azure", big.config.name], big.root, env,
        "azml plan --target azure")})["azure"]
    return [
        Row(title, f"azml validate, {which}", "azml validate", outcomes["validate"],
            FLOOR_LABEL, outcomes["floor"], VALIDATE_GOAL, key="validate"),
        Row(title, f"azml plan, {which}", "azml plan", outcomes["plan"],
            FLOOR_LABEL, outcomes["floor"]),
        Row(title, f"azml plan --target azure, generated {AZURE_STEPS}-step config",
            "azml plan --target azure", azure),
    ]
