"""Section 4: start-up of ``azml validate``, ``azml plan``, ``azml plan --target azure`` and the
AzureML SDK v2 path: ``azml plan --target azureml-v2`` (which must not import azure.ai.ml)
and ``azml export`` (which builds the job with the SDK and writes its YAML)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.environment import REPO, python_has
from benchmarks.generators import chain, write_workspace
from benchmarks.timing import Outcome, Pending, Runner, Unavailable, measure, run_command

DEMO_CONFIG = REPO / "configs" / "pipeline_config.json"
VALIDATE_GOAL = Goal("< 0.3 s", "seconds_max", 0.3)
PLAN_V2_GOAL = Goal("< 1.5 s", "seconds_max", 1.5)
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


def v2_blocker(ctx: Context) -> Outcome | None:
    """Why the SDK v2 rows cannot run here, if they cannot."""
    if not python_has(ctx.tools, "azml.targets.azureml_v2"):
        return Pending("azml's SDK v2 backend (azml.targets.azureml_v2) is not in this checkout yet")
    if not python_has(ctx.tools, "azure.ai.ml"):
        return Unavailable("azure-ai-ml not installed: pip install -e '.[v2]'")
    return None


def v2_rows(ctx: Context, config: Path, cwd: Path, which: str, folder: Path) -> list[Row]:
    """``plan --target azureml-v2`` (goal < 1.5 s, no SDK import) and ``export`` of ``config``."""
    title, env, azml = "4. Start-up", ctx.env(folder), ctx.tools.azml
    blocker = v2_blocker(ctx)
    ctx.log(f"{title}: plan --target azureml-v2 / export on the {which}")
    outcomes = measure(ctx.fast_reps, {
        "plan": blocker or _timed(ctx, [*azml, "plan", str(config), "--target", "azureml-v2"], cwd, env,
                                  "azml plan --target azureml-v2"),
        "export": blocker or _timed(ctx, [*azml, "export", str(config), "-o", str(folder / "pipeline.yml")],
                                    cwd, env, "azml export"),
    }, warmup=blocker is None)
    return [
        Row(title, f"azml plan --target azureml-v2, {which}", "azml plan --target azureml-v2",
            outcomes["plan"], goal=PLAN_V2_GOAL),
        Row(title, f"azml export (SDK v2 YAML), {which}", "azml export", outcomes["export"]),
    ]


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
        *v2_rows(ctx, config, cwd, which, folder),
    ]
