"""Pipelines kept on AzureML: publish one behind a REST endpoint, schedule it, list and
disable schedules (SDK v1 or v2, chosen by ``target``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from azml.api.common import (
    ConfigRef,
    azure_target,
    is_job_yaml,
    loaded_config,
    print_warnings,
    v2_job,
    v2_workspace,
)
from azml.errors import UsageError
from azml.settings import load_settings


def _schedule_spec(cron: str | None, every: str | None) -> tuple[Any, Any]:
    from azml.cron import parse_cron, parse_every

    if (cron is None) == (every is None):
        raise UsageError("give exactly one of --cron EXPRESSION and --every INTERVAL")
    return (parse_cron(cron) if cron else None), (parse_every(every) if every else None)


def _v2_checked_job(config: ConfigRef, env_file: str | None, params: Sequence[str],
                    ws_config: str | None, experiment: str = "DEV-train-pipeline") -> tuple[Any, Any]:
    """The workspace and the v2 PipelineJob to publish or schedule. A config is checked
    against the workspace as submit checks it (asset versions pinned) before anything is
    created; a job YAML is sent as the SDK reads it."""
    if is_job_yaml(config):
        return v2_workspace(load_settings(env_file), ws_config), v2_job(config, env_file, params)
    from azml.targets.azureml_v2.submit import checked_job

    loaded = loaded_config(config, env_file, params)
    print_warnings(loaded, sys.stderr)
    return checked_job(loaded.plan, loaded.settings, experiment=experiment, ws_config=ws_config,
                       purpose="Publishing or scheduling the pipeline (SDK v2)")


def publish(config: ConfigRef, *, name: str, endpoint: str | None = None, target: str = "azureml-v1",
            env_file: str | None = None, params: Sequence[str] = (), ws_config: str | None = None,
            compute: str | None = None, out: TextIO | None = None) -> dict[str, Any]:
    """Publish the pipeline (v1: PublishedPipeline, default of PipelineEndpoint ``endpoint``;
    v2: pipeline component, default deployment of batch endpoint ``endpoint``); returns the
    REST endpoint and an example request."""
    flavor = azure_target("", target)
    if flavor == "azureml_v1":
        from azml.targets.azureml_v1.operate import connect_workspace
        from azml.targets.azureml_v1.publish import publish as v1_publish

        loaded = loaded_config(config, env_file, params)
        print_warnings(loaded, sys.stderr)
        return v1_publish(loaded.plan, loaded.settings, connect_workspace(loaded.settings, ws_config, None),
                          name=name, endpoint=endpoint, out=out)
    from azml.targets.azureml_v2.publish import publish as v2_publish

    workspace, job = _v2_checked_job(config, env_file, params, ws_config)
    return v2_publish(workspace, job, name=name, endpoint=endpoint, compute=compute)


def schedule(config: ConfigRef, *, name: str, cron: str | None = None, every: str | None = None,
             experiment: str = "DEV-train-pipeline", endpoint: str | None = None,
             target: str = "azureml-v1", env_file: str | None = None, params: Sequence[str] = (),
             ws_config: str | None = None, out: TextIO | None = None) -> dict[str, Any]:
    """Schedule the pipeline ``--cron`` or ``--every`` (v1 Schedule, v2 JobSchedule)."""
    cron_spec, every_spec = _schedule_spec(cron, every)
    flavor = azure_target("", target)
    if flavor == "azureml_v1":
        from azml.targets.azureml_v1.operate import connect_workspace
        from azml.targets.azureml_v1.publish import recurrence
        from azml.targets.azureml_v1.publish import schedule as v1_schedule

        recurrence(cron_spec, every_spec)  # a cron v1 cannot express stops here, before any request
        loaded = loaded_config(config, env_file, params)
        print_warnings(loaded, sys.stderr)
        return v1_schedule(loaded.plan, loaded.settings,
                           connect_workspace(loaded.settings, ws_config, None), name=name,
                           experiment=experiment, cron=cron_spec, every=every_spec, endpoint=endpoint,
                           out=out)
    from azml.targets.azureml_v2.publish import schedule as v2_schedule

    workspace, job = _v2_checked_job(config, env_file, params, ws_config, experiment)
    return v2_schedule(workspace, job, name=name, cron=cron_spec, every=every_spec,
                       experiment=experiment)


def schedules(*, target: str = "azureml-v1", active_only: bool = True, env_file: str | None = None,
              ws_config: str | None = None) -> list[dict[str, Any]]:
    """The workspace's schedules (active ones unless ``active_only`` is False)."""
    settings = load_settings(env_file)
    if azure_target("", target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import connect_workspace
        from azml.targets.azureml_v1.publish import list_schedules

        return list_schedules(connect_workspace(settings, ws_config, None), active_only=active_only)
    from azml.targets.azureml_v2.publish import list_schedules as v2_list

    return v2_list(v2_workspace(settings, ws_config), active_only=active_only)


def unschedule(name: str, *, target: str = "azureml-v1", env_file: str | None = None,
               ws_config: str | None = None) -> dict[str, Any]:
    """Disable schedule ``name`` (a name, or a v1 schedule id)."""
    settings = load_settings(env_file)
    if azure_target("", target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import connect_workspace
        from azml.targets.azureml_v1.publish import unschedule as v1_unschedule

        return v1_unschedule(connect_workspace(settings, ws_config, None), name)
    from azml.targets.azureml_v2.publish import unschedule as v2_unschedule

    return v2_unschedule(v2_workspace(settings, ws_config), name)
