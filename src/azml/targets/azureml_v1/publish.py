"""Publish and schedule a pipeline on AzureML v1; list and disable schedules.

* publish: the SDK steps of the plan (built as for a submission, :func:`.submit.prepare`)
  become ``Pipeline.publish`` (a PublishedPipeline with the plan's parameters and
  their defaults). With an endpoint name it is added to that PipelineEndpoint as the
  new default version (``PipelineEndpoint.add_default``), or the endpoint is created
  with it (``PipelineEndpoint.publish``). The REST endpoint is printed with an example
  request: a POST with a bearer token (audience ``https://management.azure.com/``) and
  the body ``{"ExperimentName": ..., "ParameterAssignments": {...}}`` (Azure ML docs,
  "Publish and track machine learning pipelines", v1; ``PipelineVersion`` picks an
  endpoint's version).
* schedule: ``Schedule.create`` (or ``create_for_pipeline_endpoint``) with a
  ``ScheduleRecurrence``: ``--every`` is its frequency and interval; ``--cron`` is
  mapped by :func:`azml.cron.v1_recurrence` (v1 has no cron), or refused saying why.
* schedules / unschedule: ``Schedule.list`` and ``Schedule.disable``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from azml.cron import Cron, Every, v1_recurrence
from azml.errors import AzureServiceError, ScheduleNotFoundError
from azml.plan import Plan
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import error_text, quiet_stdout, require_sdk
from azml.targets.remote import curl_request

TOKEN_AUDIENCE = "https://management.azure.com/"


def publish(plan: Plan, settings: Settings, workspace: Any, *, name: str,
            endpoint: str | None = None, description: str = "", out: TextIO | None = None) -> dict[str, Any]:
    """Publish ``plan`` as ``name`` (and make it ``endpoint``'s default); what to call it by."""
    published = _published(plan, settings, workspace, name, description, out)
    record: dict[str, Any] = {"target": "azureml_v1", "name": name, "pipeline_id": published.id,
                              "rest_endpoint": published.endpoint, "version": None, "endpoint": None}
    if endpoint is not None:
        found = _endpoint(workspace, endpoint, published, description)
        record.update(endpoint=found.name, endpoint_id=found.id, rest_endpoint=found.endpoint,
                      version=str(getattr(found, "default_version", "") or "") or None)
    used = {n for step in plan.steps.values() for n in step.referenced_parameters()}
    record["parameters"] = {n: v for n, v in plan.parameters.items() if n in used}
    record["example"] = example_request(record["rest_endpoint"], record["parameters"], record["version"])
    return record


def _published(plan: Plan, settings: Settings, workspace: Any, name: str, description: str,
               out: TextIO | None) -> Any:
    from azml.targets.azureml_v1.submit import prepare

    require_sdk("Publishing the pipeline")
    from azureml.pipeline.core import Pipeline

    pipeline = prepare(plan, settings, workspace, out or sys.stdout)
    try:
        with quiet_stdout():
            graph = Pipeline(workspace=workspace, steps=pipeline.step_objects())
            return graph.publish(name=name, description=description or f"azml: {plan.config_path.name}",
                                 continue_on_step_failure=False)
    except Exception as exc:
        raise AzureServiceError(f"publishing pipeline '{name}'", settings.redact(error_text(exc))) from None


def _endpoint(workspace: Any, name: str, published: Any, description: str) -> Any:
    """Endpoint ``name`` with ``published`` as its default version (created if missing)."""
    from azureml.pipeline.core import PipelineEndpoint

    try:
        with quiet_stdout():
            try:
                found = PipelineEndpoint.get(workspace=workspace, name=name)
            except Exception as exc:
                if not _not_found(exc):
                    raise
                return PipelineEndpoint.publish(workspace=workspace, name=name, pipeline=published,
                                                description=description or f"azml endpoint {name}")
            found.add_default(published)
            return PipelineEndpoint.get(workspace=workspace, name=name)
    except Exception as exc:
        raise AzureServiceError(f"publishing to pipeline endpoint '{name}'", error_text(exc)) from None


def example_request(url: str, parameters: Mapping[str, Any], version: str | None = None,
                    experiment: str = "DEV-train-pipeline") -> str:
    """A curl command that submits the published pipeline (the token comes from ``az``)."""
    body: dict[str, Any] = {"ExperimentName": experiment, "ParameterAssignments": dict(parameters)}
    if version:
        body["PipelineVersion"] = version
    return curl_request(url, body, TOKEN_AUDIENCE)


def recurrence(cron: Cron | None, every: Every | None) -> Any:
    """The ScheduleRecurrence for ``--cron`` (mapped, or UsageError) or ``--every``."""
    require_sdk("Scheduling the pipeline")
    from azureml.pipeline.core import ScheduleRecurrence

    if cron is not None:
        frequency, hours, minutes, week_days = v1_recurrence(cron)
        return ScheduleRecurrence(frequency=frequency, interval=1, hours=hours, minutes=minutes,
                                  week_days=week_days or None)
    assert every is not None
    return ScheduleRecurrence(frequency=every.frequency, interval=every.interval)


def schedule(plan: Plan, settings: Settings, workspace: Any, *, name: str, experiment: str,
             cron: Cron | None = None, every: Every | None = None, endpoint: str | None = None,
             out: TextIO | None = None) -> dict[str, Any]:
    """Publish ``plan`` and schedule it (or schedule ``endpoint``'s default version)."""
    from azureml.pipeline.core import Schedule

    pattern = recurrence(cron, every)
    published = publish(plan, settings, workspace, name=name, endpoint=endpoint, out=out)
    try:
        with quiet_stdout():
            if endpoint is not None:
                created = Schedule.create_for_pipeline_endpoint(
                    workspace, name=name, pipeline_endpoint_id=published["endpoint_id"],
                    experiment_name=experiment, recurrence=pattern)
            else:
                created = Schedule.create(workspace, name=name, pipeline_id=published["pipeline_id"],
                                          experiment_name=experiment, recurrence=pattern)
    except Exception as exc:
        raise AzureServiceError(f"creating schedule '{name}'", error_text(exc)) from None
    return {**schedule_record(created), "published": published}


def schedule_record(found: Any) -> dict[str, Any]:
    """A v1 Schedule as a JSON-ready record."""
    pattern = found.recurrence
    return {"target": "azureml_v1", "id": found.id, "name": found.name, "status": found.status,
            "pipeline_id": found.pipeline_id, "pipeline_endpoint_id": found.pipeline_endpoint_id,
            "recurrence": describe_recurrence(pattern) if pattern is not None else None}


def describe_recurrence(pattern: Any) -> str:
    """``every 1 day at 02:00`` style text for a ScheduleRecurrence."""
    unit = str(pattern.frequency).lower()
    text = f"every {pattern.interval} {unit}{'s' if pattern.interval != 1 else ''}"
    if pattern.week_days:
        text += " on " + ", ".join(pattern.week_days)
    if pattern.hours is not None or pattern.minutes is not None:
        times = [f"{h:02d}:{m:02d}" for h in (pattern.hours or [0]) for m in (pattern.minutes or [0])]
        text += " at " + (", ".join(times) if len(times) <= 6 else f"{len(times)} times a day")
    return text


def list_schedules(workspace: Any, *, active_only: bool = True) -> list[dict[str, Any]]:
    """The workspace's schedules (active ones unless ``active_only`` is False)."""
    require_sdk("Listing schedules")
    from azureml.pipeline.core import Schedule

    try:
        with quiet_stdout():
            return [schedule_record(s) for s in Schedule.list(workspace, active_only=active_only)]
    except Exception as exc:
        raise AzureServiceError("listing schedules", error_text(exc)) from None


def unschedule(workspace: Any, name_or_id: str) -> dict[str, Any]:
    """Disable the schedule with that id (or that name); its record afterwards."""
    require_sdk("Disabling a schedule")
    from azureml.pipeline.core import Schedule

    try:
        with quiet_stdout():
            every = list(Schedule.list(workspace, active_only=False))
            matches = [s for s in every if name_or_id in (s.id, s.name)]
            if not matches:
                raise ScheduleNotFoundError(name_or_id, f"workspace '{workspace.name}'",
                                            sorted({s.name for s in every}))
            for found in matches:
                found.disable(wait_for_provisioning=False)
            return schedule_record(Schedule.get(workspace, matches[0].id))
    except ScheduleNotFoundError:
        raise
    except Exception as exc:
        raise AzureServiceError(f"disabling schedule '{name_or_id}'", error_text(exc)) from None


def _not_found(exc: BaseException) -> bool:
    text = error_text(exc, 2000).lower()
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status == 404 or "not found" in text or "notfound" in text
