"""The local backend: run a plan on this machine under AzureML's contract.

Importing this package is cheap: the runner, the store and the rest are
imported when one of the functions below is first used. Nothing here imports
azureml or torch.

- ``run_plan(plan, settings, *, experiment, reuse, max_parallel, fail_fast, out) -> LocalRun``
  (:mod:`azml.targets.local.runner`)
- ``run_status(settings, run_id=None)``,
  ``stream_logs(settings, run_id, *, step, follow, tail, all_logs, out)``,
  ``cancel_local(settings, run_id, *, step_id=None)`` (:mod:`azml.targets.local.queries`)
- ``repair_store(home) -> str`` (:mod:`azml.targets.local.repair`)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from azml.targets.local.model import LocalRun, StepRun

if TYPE_CHECKING:  # pragma: no cover
    from azml.targets.local.queries import cancel_local, run_status, stream_logs
    from azml.targets.local.repair import repair_store
    from azml.targets.local.runner import run_plan

__all__ = ["LocalRun", "StepRun", "cancel_local", "repair_store", "run_plan", "run_status",
           "stream_logs"]

_HOMES = {
    "run_plan": "azml.targets.local.runner",
    "run_status": "azml.targets.local.queries",
    "stream_logs": "azml.targets.local.queries",
    "cancel_local": "azml.targets.local.queries",
    "repair_store": "azml.targets.local.repair",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'azml.targets.local' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
