"""The AzureML backend. Importing this package does not import azureml.

Public entry points (each imports the SDK on demand):

* :func:`describe_plan` -- what AzureML would receive, built offline;
* :func:`cancel_run` -- cancel a pipeline run or one step run by id.

Submission goes through :class:`azml.pipelines.TrainPipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from azml.plan import Plan
    from azml.settings import Settings

__all__ = ["cancel_run", "describe_plan"]


def describe_plan(plan: "Plan", settings: "Settings", *, as_json: bool = False) -> str:
    """Per step, the SDK objects AzureML would receive (no credentials, no network)."""
    from azml.targets.azureml_v1.describe import describe_plan as describe

    return describe(plan, settings, as_json=as_json)


def cancel_run(settings: "Settings", run_id: str, *, step_id: str | None = None,
               ws_config: str | None = None, timeout: float = 300.0) -> str:
    """Cancel an AzureML pipeline run, or one of its step runs; a sentence with the outcome."""
    from azml.targets.azureml_v1.runs import cancel_run as cancel

    return cancel(settings, run_id, step_id=step_id, ws_config=ws_config, timeout=timeout)
