"""Publish and schedule a v2 pipeline job; list and disable schedules.

Each function takes an already built ``PipelineJob`` (see :mod:`.build`), so it serves
whatever translation produced the job.

* publish: v2's counterpart of a v1 pipeline endpoint is a batch endpoint with a
  pipeline component deployment ("Upgrade pipeline endpoints to SDK v2": pipeline
  endpoint -> batch endpoint, published pipeline -> pipeline component deployment,
  pipeline parameters -> job inputs). The job becomes a pipeline component (its
  inputs typed, with the parameters' defaults), registered under the name; the batch
  endpoint is created if missing; a deployment of this component version is created
  and made the endpoint's default, so callers of the REST endpoint get it. The
  example request is the body ``batch_endpoints.invoke`` sends, built by the SDK's own
  schema, with a token for ``https://ml.azure.com/``.
* schedule: a ``JobSchedule`` whose ``create_job`` is the pipeline job, with a
  ``CronTrigger`` (the expression, checked by :mod:`azml.cron`) or a
  ``RecurrenceTrigger`` (``--every``).
* schedules / unschedule: ``schedules.list`` and ``schedules.begin_disable``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from azml.cron import Cron, Every
from azml.errors import ScheduleNotFoundError, UsageError
from azml.targets.azureml_v2._sdk import require_sdk
from azml.targets.azureml_v2.jobs import _service_error
from azml.targets.azureml_v2.workspace import Workspace
from azml.targets.remote import curl_request

TOKEN_AUDIENCE = "https://ml.azure.com/"
#: batch endpoint and deployment names (REST spec: 3-32 characters, a letter first)
ENDPOINT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{2,31}")


def publish(workspace: Workspace, job: Any, *, name: str, endpoint: str | None = None,
            compute: str | None = None, experiment: str = "DEV-train-pipeline") -> dict[str, Any]:
    """Register ``job`` as pipeline component ``name`` and make it batch endpoint ``endpoint``'s
    default deployment (``endpoint`` defaults to ``name``); where and how to call it."""
    require_sdk("Publishing the pipeline (SDK v2)")
    endpoint_name = endpoint or name
    if not ENDPOINT_NAME.fullmatch(endpoint_name):
        raise UsageError(f"batch endpoint name {endpoint_name!r}: expected 3 to 32 letters, digits "
                         "and '-', starting with a letter")
    component = _register_component(workspace, job, name)
    found = _ensure_endpoint(workspace, endpoint_name, name)
    deployment = _deploy(workspace, found, component, compute or _default_compute(job))
    parameters = {k: v.default for k, v in component.inputs.items() if getattr(v, "default", None) is not None}
    return {"target": "azureml_v2", "name": name, "component": f"{component.name}:{component.version}",
            "endpoint": found.name, "deployment": deployment, "version": str(component.version),
            "rest_endpoint": found.scoring_uri, "parameters": parameters,
            "example": example_request(str(found.scoring_uri), component.inputs, experiment)}


def _register_component(workspace: Workspace, job: Any, name: str) -> Any:
    from azure.ai.ml.entities import PipelineComponent

    # what `az ml component create` does with a pipeline job: typed inputs with the defaults
    anonymous = job._to_component()
    component = PipelineComponent(name=name, version=_next_version(workspace, name),
                                  display_name=anonymous.display_name or name,
                                  description=f"azml: published from pipeline job {job.display_name or name}",
                                  inputs=anonymous.inputs, outputs=anonymous.outputs, jobs=anonymous.jobs)
    try:
        return workspace.client.components.create_or_update(component)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        raise _service_error(f"registering pipeline component '{name}'", exc) from None


def _next_version(workspace: Workspace, name: str) -> str:
    try:
        versions = [c.version for c in workspace.client.components.list(name=name)]
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "status_code", None) == 404:
            return "1"
        raise _service_error(f"listing versions of component '{name}'", exc) from None
    numbers = [int(v) for v in versions if str(v).isdigit()]
    return str(max(numbers, default=0) + 1)


def _ensure_endpoint(workspace: Workspace, name: str, component: str) -> Any:
    from azure.ai.ml.entities import BatchEndpoint

    endpoints = workspace.client.batch_endpoints
    try:
        return endpoints.get(name)
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "status_code", None) != 404 and "ResourceNotFound" not in type(exc).__name__:
            raise _service_error(f"looking up batch endpoint '{name}'", exc) from None
    try:
        return endpoints.begin_create_or_update(
            BatchEndpoint(name=name, description=f"azml: pipeline component {component}")).result()
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"creating batch endpoint '{name}'", exc) from None


def _deploy(workspace: Workspace, endpoint: Any, component: Any, compute: str | None) -> str:
    """A deployment of ``component`` on ``endpoint``, made its default; the deployment's name."""
    from azure.ai.ml.entities import PipelineComponentBatchDeployment

    suffix = f"-v{component.version}"
    name = re.sub(r"[^a-zA-Z0-9-]", "-", component.name)[:32 - len(suffix)] + suffix
    settings: dict[str, Any] = {"continue_on_step_failure": False}
    if compute:
        settings["default_compute"] = compute
    deployment = PipelineComponentBatchDeployment(name=name, endpoint_name=endpoint.name,
                                                  component=component, settings=settings)
    try:
        workspace.client.batch_deployments.begin_create_or_update(deployment).result()
        endpoint.defaults.deployment_name = name
        workspace.client.batch_endpoints.begin_create_or_update(endpoint).result()
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"deploying {component.name}:{component.version} to batch endpoint "
                             f"'{endpoint.name}'", exc) from None
    return name


def _default_compute(job: Any) -> str | None:
    settings = getattr(job, "settings", None)
    return getattr(settings, "default_compute", None) if settings is not None else None


def example_request(scoring_uri: str, inputs: Any, experiment: str) -> str:
    """A curl command invoking the endpoint with the inputs' defaults, the body built by the
    schema ``batch_endpoints.invoke`` uses."""
    from azure.ai.ml import Input
    from azure.ai.ml._schema._deployment.batch.batch_job import BatchJobSchema
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY, PARAMS_OVERRIDE_KEY
    from azure.ai.ml.constants._endpoint import EndpointYamlFields

    literal = {k: Input(type=v.type, default=v.default) for k, v in inputs.items()
               if getattr(v, "default", None) is not None}
    override = [{EndpointYamlFields.BATCH_JOB_INPUT_DATA: literal},
                {EndpointYamlFields.BATCH_JOB_PROPERTIES: {"experimentName": experiment}}]
    schema = BatchJobSchema(context={BASE_PATH_CONTEXT_KEY: Path("."),  # type: ignore[no-untyped-call]
                                     PARAMS_OVERRIDE_KEY: override})
    body = {"properties": schema.load(data={})}
    return curl_request(scoring_uri, body, TOKEN_AUDIENCE)


def trigger(cron: Cron | None, every: Every | None) -> Any:
    """A CronTrigger for ``--cron``, a RecurrenceTrigger for ``--every``."""
    require_sdk("Scheduling the pipeline (SDK v2)")
    from azure.ai.ml.entities import CronTrigger, RecurrenceTrigger

    if cron is not None:
        return CronTrigger(expression=cron.expression)
    assert every is not None
    return RecurrenceTrigger(frequency=every.frequency.lower(), interval=every.interval)


def schedule(workspace: Workspace, job: Any, *, name: str, cron: Cron | None = None,
             every: Every | None = None, experiment: str | None = None) -> dict[str, Any]:
    """Schedule ``job`` as JobSchedule ``name``; its record."""
    from azure.ai.ml.entities import JobSchedule

    if experiment:
        job.experiment_name = experiment
    created = JobSchedule(name=name, trigger=trigger(cron, every), create_job=job,
                          description=f"azml schedule {name}")
    try:
        result = workspace.client.schedules.begin_create_or_update(created).result()
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"creating schedule '{name}'", exc) from None
    return schedule_record(result)


def schedule_record(found: Any) -> dict[str, Any]:
    """A JobSchedule as a JSON-ready record."""
    rule = found.trigger
    if getattr(rule, "expression", None):
        text = f"cron {rule.expression}"
    else:
        text = f"every {rule.interval} {rule.frequency}{'s' if rule.interval != 1 else ''}"
    return {"target": "azureml_v2", "id": found.name, "name": found.name,
            "status": "Active" if found.is_enabled else "Disabled", "recurrence": text,
            "provisioning_state": getattr(found, "provisioning_state", None)}


def list_schedules(workspace: Workspace, *, active_only: bool = True) -> list[dict[str, Any]]:
    """The workspace's job schedules (enabled ones unless ``active_only`` is False)."""
    from azure.ai.ml._restclient.arm_ml_service.models import ScheduleListViewType

    view = ScheduleListViewType.ENABLED_ONLY if active_only else ScheduleListViewType.ALL
    try:
        return [schedule_record(s) for s in workspace.client.schedules.list(list_view_type=view)]
    except Exception as exc:  # noqa: BLE001
        raise _service_error("listing schedules", exc) from None


def unschedule(workspace: Workspace, name: str) -> dict[str, Any]:
    """Disable schedule ``name``; its record afterwards."""
    require_sdk("Disabling a schedule (SDK v2)")
    schedules = workspace.client.schedules
    try:
        schedules.get(name)
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "status_code", None) == 404 or "ResourceNotFound" in type(exc).__name__:
            known = [s["name"] for s in list_schedules(workspace, active_only=False)]
            raise ScheduleNotFoundError(name, f"workspace '{workspace.config.workspace_name}'",
                                        known) from None
        raise _service_error(f"looking up schedule '{name}'", exc) from None
    try:
        return schedule_record(schedules.begin_disable(name).result())
    except Exception as exc:  # noqa: BLE001
        raise _service_error(f"disabling schedule '{name}'", exc) from None
