"""The local backend: run a plan on this machine under AzureML's contract.

Importing this package is cheap: the runner, the store and the rest are
imported when a function below is first called. Nothing here imports azureml
or torch.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from azml.local.model import LocalRun, StepRun

if TYPE_CHECKING:  # pragma: no cover
    from azml.plan import Plan
    from azml.settings import Settings

__all__ = ["LocalRun", "StepRun", "cancel_local", "run_plan", "run_status", "stream_logs"]


def run_plan(
    plan: Plan,
    settings: Settings,
    *,
    experiment: str = "local",
    reuse: bool = True,
    max_parallel: int | None = None,
    fail_fast: bool = False,
    out: TextIO = sys.stderr,
) -> LocalRun:
    """Run ``plan`` locally; see :func:`azml.local.runner.run_plan`."""
    from azml.local.runner import run_plan as _run_plan

    return _run_plan(plan, settings, experiment=experiment, reuse=reuse,
                     max_parallel=max_parallel, fail_fast=fail_fast, out=out)


def run_status(settings: Settings, run_id: str | None = None) -> list[dict[str, Any]] | dict[str, Any]:
    """Local runs newest first, or one run; see :func:`azml.local.queries.run_status`."""
    from azml.local.queries import run_status as _run_status

    return _run_status(settings, run_id)


def stream_logs(settings: Settings, run_id: str, *, step: str | None = None,
                follow: bool = False, out: TextIO) -> None:
    """Write a local run's logs; see :func:`azml.local.queries.stream_logs`."""
    from azml.local.queries import stream_logs as _stream_logs

    _stream_logs(settings, run_id, step=step, follow=follow, out=out)


def cancel_local(settings: Settings, run_id: str, *, step_id: str | None = None) -> str:
    """Cancel a local run or step run; see :func:`azml.local.queries.cancel_local`."""
    from azml.local.queries import cancel_local as _cancel_local

    return _cancel_local(settings, run_id, step_id=step_id)
