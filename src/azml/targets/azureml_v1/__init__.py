"""The AzureML SDK v1 target. Importing this package does not import azureml.

Public entry points (each imports the SDK on demand), the counterparts of
``azml.targets.local.run_plan``:

* :func:`submit_plan` -- submit a plan (optionally waiting for its end);
* :func:`prepare` -- register datastores / create a cluster and build the SDK steps;
* :func:`describe_plan` -- what AzureML would receive, built offline;
* :func:`cancel_run` -- cancel a pipeline run or one step run by id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from azml.plan import Plan
    from azml.settings import Settings

__all__ = ["cancel_run", "describe_plan", "prepare", "submit_plan"]


def describe_plan(plan: Plan, settings: Settings, *, as_json: bool = False) -> str:
    """Per step, the SDK objects AzureML would receive (no credentials, no network)."""
    from azml.targets.azureml_v1.describe import describe_plan as describe

    return describe(plan, settings, as_json=as_json)


def prepare(plan: Plan, settings: Settings, workspace: Any, out: TextIO) -> Any:
    """Workspace resources and SDK steps for ``plan`` (see :mod:`.submit`)."""
    from azml.targets.azureml_v1.submit import prepare as build

    return build(plan, settings, workspace, out)


def submit_plan(plan: Plan, settings: Settings, **options: Any) -> Any:
    """Submit ``plan`` to AzureML (see :func:`azml.targets.azureml_v1.submit.submit_plan`)."""
    from azml.targets.azureml_v1.submit import submit_plan as submit

    return submit(plan, settings, **options)


def cancel_run(settings: Settings, run_id: str, *, step_id: str | None = None,
               ws_config: str | None = None, timeout: float = 300.0) -> str:
    """Cancel an AzureML pipeline run, or one of its step runs; a sentence with the outcome."""
    from azml.targets.azureml_v1.runs import cancel_run as cancel

    return cancel(settings, run_id, step_id=step_id, ws_config=ws_config, timeout=timeout)
