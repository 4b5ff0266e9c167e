"""The library calls behind each CLI command: one call per command.

Backends are imported inside the functions, so that ``validate`` and ``plan``
load neither the local runner nor azureml.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO, Union

from azml.errors import (
    NoWorkspaceError,
    RunFailedError,
    RunNotFoundError,
    UsageError,
)
from azml.loading import Loaded, load
from azml.settings import load_settings

__all__ = ["Loaded", "azure_logs", "azure_status", "cancel", "construct", "data_list", "data_pull",
           "data_push", "data_register", "download", "export", "load", "logs", "metrics", "models",
           "plan", "publish", "repair_store", "run", "schedule", "schedules", "status", "submit",
           "ui", "unschedule", "validate"]

#: Local run ids start with this (azml.targets.local.ids.RUN_PREFIX); others are AzureML's.
LOCAL_PREFIX = "local_"

#: A config path, or a config already loaded (what the Python façade holds).
ConfigRef = Union[str, "os.PathLike[str]", Loaded]

#: Target names: ``azure`` is AzureML SDK v1 (its historical name), ``v1``/``v2`` the façade's.
V1_TARGETS = ("azure", "azureml-v1", "azureml", "v1")
V2_TARGETS = ("azureml-v2", "v2")
#: Said once by ``azml validate``: SDK v1's end of support and the switch.
V1_ENDED_NOTE = (
    "note: AzureML SDK v1 (azureml-core) support ended on 2026-06-30. Submit the same config "
    "with SDK v2: 'azml submit CONFIG --target azureml-v2' (check it with 'azml validate CONFIG "
    "--target azureml-v2'; see docs/migrating-to-v2.md)")
V2_NOTE = ("note: AzureML SDK v1 support ended on 2026-06-30; this config was checked for SDK v2 "
           "(azure-ai-ml), which 'azml submit CONFIG --target azureml-v2' uses")


def is_v2(target: str) -> bool:
    """True for the AzureML SDK v2 target; UsageError for a name that is no target."""
    if target in V2_TARGETS:
        return True
    if target in V1_TARGETS or target == "local":
        return False
    from azml.errors import UsageError

    raise UsageError(f"unknown target {target!r}: expected local, azure (SDK v1) or azureml-v2")


def _flavor(target: str) -> Any:
    """The contract a local run gives its steps: AzureML v1's, or v2's with ``azureml-v2``."""
    return "azureml_v2" if is_v2(target) else "azureml_v1"


def _loaded(config: ConfigRef, env_file: str | None, params: Sequence[str]) -> Loaded:
    if isinstance(config, Loaded):
        return config
    return load(config, env_file=env_file, params=params)


def validate(config_path: str | os.PathLike[str], *, env_file: str | None = None,
             warn: TextIO | None = None, target: str = "local") -> str:
    """A one-line summary of a valid config (warnings to ``warn``); ConfigError otherwise.

    With ``target="azureml-v2"`` the config must also be one AzureML SDK v2 can run
    (every problem is reported with its JSON path). ``warn`` also gets, once, the note
    that SDK v1 support has ended and how to switch.
    """
    loaded = load(config_path, env_file=env_file)
    v2_warnings = []
    if is_v2(target):
        from azml.targets.azureml_v2 import translate

        translate.check_plan(loaded.plan, translate.plan_to_spec(loaded.plan, experiment="azml-validate"))
        v2_warnings = translate.v2_warnings(loaded.plan)
    if warn is not None:
        print_warnings(loaded, warn)
        for problem in v2_warnings:
            print(f"warning: {problem.render()}", file=warn)
        print(V2_NOTE if is_v2(target) else V1_ENDED_NOTE, file=warn)
    steps = loaded.plan.steps.values()
    mpi = sum(1 for s in steps if s.is_mpi)
    edges = loaded.plan.edges()
    order = sum(1 for e in edges if e.kind == "order")
    return (
        f"{loaded.config.path}: valid, {len(loaded.plan.steps)} step"
        f"{'s' if len(loaded.plan.steps) != 1 else ''} ({mpi} MPI), {len(edges)} dependenc"
        f"{'ies' if len(edges) != 1 else 'y'} ({order} order-only), {len(loaded.plan.parameters)} "
        f"parameter{'s' if len(loaded.plan.parameters) != 1 else ''}"
    )


def print_warnings(loaded: Loaded, out: TextIO) -> None:
    """Each warning of the config and plan on its own line, as ``warning: FILE: PATH: ...``."""
    for problem in loaded.plan.warnings:
        print(f"warning: {problem.render()}", file=out)


def plan(
    config_path: str | os.PathLike[str],
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    target: str = "local",
    as_json: bool = False,
    experiment: str = "DEV-train-pipeline",
) -> str:
    """The plan as text or JSON; ``target="azure"`` shows the SDK objects AzureML would get,
    ``target="azureml-v2"`` the v2 pipeline job (without importing azure.ai.ml)."""
    loaded = load(config_path, env_file=env_file, params=params)
    if is_v2(target):
        from azml.targets.azureml_v2.describe import describe_plan as describe_v2

        return describe_v2(loaded.plan, loaded.settings, experiment=experiment, as_json=as_json)
    if target in V1_TARGETS:
        from azml.targets.azureml_v1 import describe_plan

        return describe_plan(loaded.plan, loaded.settings, as_json=as_json)
    from azml.report import format_plan, plan_json

    return plan_json(loaded.plan) if as_json else format_plan(loaded.plan, loaded.settings)


def run(
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "local",
    reuse: bool = True,
    max_parallel: int | None = None,
    fail_fast: bool = False,
    parameters: Mapping[str, Any] | None = None,
    env_mode: str = "isolated",
    pass_env: Sequence[str] = (),
    pull: bool = False,
    out: TextIO | None = None,
    target: str = "azureml-v1",
) -> Any:
    """Run the pipeline locally; RunFailedError unless every step Completed or was Reused.

    ``parameters`` (name -> typed value) override parameters on top of ``params``.
    ``target`` chooses the contract the steps get: AzureML v1's variables (default)
    or, with ``azureml-v2``, those of a v2 command job; argv is the same.
    """
    from azml.targets.local import run_plan

    out = out or sys.stderr
    loaded = _loaded(config_path, env_file, params)
    print_warnings(loaded, out)
    result = run_plan(
        loaded.plan if parameters is None else loaded.replan(parameters),
        loaded.settings,
        experiment=experiment,
        reuse=reuse,
        max_parallel=max_parallel,
        fail_fast=fail_fast,
        env_mode=env_mode,
        pass_env=pass_env,
        pull=pull,
        out=out,
        flavor=_flavor(target),
    )
    if result.status != "Completed":  # Status.COMPLETED (a str); the local target is imported lazily
        failed = [s.id for s in result.steps if s.status == "Failed"]
        raise RunFailedError(result.run_id, result.status, failed)
    return result


def construct(
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    workspace: Any = None,
    ws_config: str | None = None,
    auth: str | None = None,
    out: TextIO | None = None,
    target: str = "azure",
) -> Any:
    """Prepare the workspace (datastores, cluster) and build the SDK steps, without submitting.

    With ``target="azureml-v2"``: the v2 PipelineJob, built offline (nothing is sent).
    """
    if is_v2(target):
        return _v2_job_of(_loaded(config_path, env_file, params), "DEV-train-pipeline", None)
    from azml.targets.azureml_v1 import prepare
    from azml.targets.azureml_v1.workspace import connect

    loaded = _loaded(config_path, env_file, params)
    ws = workspace if workspace is not None else connect(loaded.settings, ws_config, auth)
    return prepare(loaded.plan, loaded.settings, ws, out or sys.stdout)


def submit(
    config_path: ConfigRef,
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "DEV-train-pipeline",
    ws_config: str | None = None,
    auth: str | None = None,
    workspace: Any = None,
    tags: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = False,
    prepared: Any = None,
    out: TextIO | None = None,
    target: str = "azure",
) -> Any:
    """Submit the pipeline to AzureML; returns the run handle.

    With ``wait``, follows the run and raises RunFailedError (exit code 1) unless
    it completes, naming the failed steps with their log tails. ``target="azureml-v2"``
    submits an azure-ai-ml pipeline job (``parameters`` become its input values).
    """
    loaded = _loaded(config_path, env_file, params)
    print_warnings(loaded, sys.stderr)
    if is_v2(target):
        from azml.targets.azureml_v2.submit import submit_plan as submit_v2

        plan_ = loaded.plan if parameters is None else loaded.replan(parameters)
        return submit_v2(plan_, loaded.settings, experiment=experiment, workspace=workspace,
                         ws_config=ws_config, auth=auth, tags=tags, wait=wait, out=out)
    from azml.targets.azureml_v1 import submit_plan

    return submit_plan(loaded.plan, loaded.settings, experiment=experiment, workspace=workspace,
                       ws_config=ws_config, auth=auth, tags=tags, parameters=parameters,
                       wait=wait, prepared=prepared, out=out)


def export(
    config_path: ConfigRef,
    output: str | os.PathLike[str],
    *,
    env_file: str | None = None,
    params: Sequence[str] = (),
    experiment: str = "DEV-train-pipeline",
    tags: Mapping[str, str] | None = None,
) -> str:
    """Write the AzureML v2 pipeline job as YAML (``az ml job create -f``); returns its path.

    Offline: ``azure.ai.ml.load_job`` reads the file back into an equal job.
    """
    from azml.targets.azureml_v2.yaml_io import dump_job

    job = _v2_job_of(_loaded(config_path, env_file, params), experiment, tags)
    return str(dump_job(job, output))


def _v2_job_of(loaded: Loaded, experiment: str, tags: Mapping[str, str] | None) -> Any:
    """The v2 PipelineJob of a loaded config, checked (ConfigError) and built offline."""
    from azml.targets.azureml_v2.build import build_pipeline_job
    from azml.targets.azureml_v2.submit import checked_spec

    return build_pipeline_job(checked_spec(loaded.plan, experiment=experiment, tags=tags))


def status(run_id: str | None = None, *, env_file: str | None = None, target: str | None = None,
           ws_config: str | None = None) -> Any:
    """Local runs (newest first) or one run, as JSON-ready dicts.

    An id that is no local run is an AzureML run or job (see :func:`azure_status`).
    """
    from azml.targets.local import run_status

    settings = load_settings(env_file)
    if run_id is not None and target is not None:
        return azure_status(run_id, env_file=env_file, target=target, ws_config=ws_config)
    try:
        result = run_status(settings, run_id)
    except RunNotFoundError:
        if run_id is None or run_id.startswith(LOCAL_PREFIX):
            raise
        with _no_local_run(run_id):
            return azure_status(run_id, env_file=env_file, target=target, ws_config=ws_config)
    if isinstance(result, dict):
        _add_step_metrics(settings, result)
    return result


def _add_step_metrics(settings: Any, run: dict[str, Any]) -> None:
    """Each step's latest metrics from the local tracking store (read-only, no server)."""
    from azml.errors import TrackingUnavailable
    from azml.tracking.query import step_metrics

    try:
        found = step_metrics(settings.azml_home, run["run_id"])
    except TrackingUnavailable as exc:
        run["metrics_note"] = str(exc)
        return
    for step in run.get("steps", []):
        step["metrics"] = found.get(step["id"], {})


def logs(
    run_id: str,
    *,
    step: str | None = None,
    follow: bool = False,
    tail: int | None = None,
    env_file: str | None = None,
    out: TextIO | None = None,
    target: str | None = None,
    ws_config: str | None = None,
    interval: float | None = None,
) -> None:
    """Write a run's logs (one step's, or all; the last ``tail`` lines of each) to ``out``:
    local ids first, then AzureML (``interval``: seconds between polls with ``follow``).

    Streams: memory does not depend on the logs' size.
    """
    from azml.targets.local import stream_logs

    if target is not None:
        azure_logs(run_id, step=step, follow=follow, env_file=env_file, out=out, target=target,
                   ws_config=ws_config, interval=interval)
        return
    try:
        stream_logs(load_settings(env_file), run_id, step=step, follow=follow, tail=tail,
                    out=out or sys.stdout)
    except RunNotFoundError:
        if run_id.startswith(LOCAL_PREFIX):
            raise
        with _no_local_run(run_id):
            azure_logs(run_id, step=step, follow=follow, env_file=env_file, out=out, target=target,
                       ws_config=ws_config, interval=interval)


def repair_store(*, env_file: str | None = None) -> str:
    """Repair a damaged local run store (see :mod:`azml.targets.local.repair`); returns a sentence."""
    from azml.targets.local import repair_store as repair

    return repair(load_settings(env_file).azml_home)


def cancel(
    run_id: str,
    *,
    step_id: str | None = None,
    env_file: str | None = None,
    ws_config: str | None = None,
    timeout: float = 300.0,
    target: str | None = None,
) -> str:
    """Cancel a run or one step run: local ids first, then AzureML. Returns a sentence.

    An id that is no local run is an AzureML v1 run (a GUID) or v2 job (any other
    name) unless ``target`` says which; with ``step_id``, that step's run or child job.
    """
    settings = load_settings(env_file)
    if target is None:
        from azml.targets.local import cancel_local

        try:
            return cancel_local(settings, run_id, step_id=step_id)
        except RunNotFoundError:
            if run_id.startswith(LOCAL_PREFIX):
                raise
    with _no_local_run(run_id):
        if azure_target(run_id, target) == "azureml_v2":
            from azml.targets.azureml_v2.jobs import cancel_job, child_job_name

            workspace = _v2_workspace(settings, ws_config)
            name = child_job_name(workspace, run_id, step_id) if step_id else run_id
            return cancel_job(workspace, name, timeout=timeout)
        from azml.targets.azureml_v1 import cancel_run

        return cancel_run(settings, run_id, step_id=step_id, ws_config=ws_config, timeout=timeout)



def metrics(
    run_ids: Sequence[str],
    *,
    step: str | None = None,
    plot: str | None = None,
    compare: bool = False,
    env_file: str | None = None,
    ws_config: str | None = None,
) -> dict[str, Any]:
    """Metrics of runs: local ids from the local store, others from AzureML through the SDK.

    Returns ``{"runs": {run id: {step: {metric: [(index, value), ...]}}}, "text": table,
    "plot": path or None}``; with ``compare`` the table has one row per run (final values).
    """
    from azml.tracking import views

    settings = load_settings(env_file)
    runs = {run_id: _histories(settings, run_id, step, ws_config) for run_id in run_ids}
    if compare:
        text = views.compare_table(runs)
    else:
        text = "\n\n".join(views.metrics_table(h, f"run {r}") for r, h in runs.items())
    written = None
    if plot:
        first, histories = next(iter(runs.items()))
        written = str(views.plot(histories, plot, title=f"run {first}"))
    return {"runs": runs, "text": text, "plot": written}


def _histories(settings: Any, run_id: str, step: str | None, ws_config: str | None) -> Any:
    from azml.tracking.query import local_histories

    found = local_histories(settings.azml_home, run_id, step)
    if found is not None:
        return found
    from azml.targets.azureml_v1.models import run_metrics

    with _no_local_run(run_id):
        remote = run_metrics(settings, run_id, ws_config=ws_config)
    if step is not None:
        remote = {k: v for k, v in remote.items() if k == step}
    return remote


def models(*, env_file: str | None = None) -> list[dict[str, Any]]:
    """Models registered in the local store, newest version first per model."""
    from azml.tracking.query import models as local_models

    return local_models(load_settings(env_file).azml_home)


def ui(*, env_file: str | None = None, stop: bool = False) -> str:
    """Start (or find) the local MLflow server and UI on 127.0.0.1; its address.

    With ``stop``, stop it instead and say so.
    """
    settings = load_settings(env_file)
    home = settings.azml_home
    if stop:
        from azml.tracking.server import stop_server

        return "stopped the local MLflow server" if stop_server(home) else "no local MLflow server was running"
    from azml.tracking.query import ui as start_ui
    from azml.tracking.server import IDLE_VARIABLE

    return start_ui(home, settings.get(IDLE_VARIABLE))


def data_pull(spec: str, *, workers: int | None = None, verify: bool = False,
              env_file: str | None = None, out: TextIO | None = sys.stderr) -> Any:
    """Pull ``DATASTORE[/PATH]`` from the configured blob container into the local datastore folder."""
    from azml.data import DEFAULT_WORKERS, pull, split_spec

    datastore, path = split_spec(spec)
    return pull(load_settings(env_file), datastore, path, workers=workers or DEFAULT_WORKERS,
                verify=verify, out=out)


def data_push(spec: str, *, source: str | None = None, workers: int | None = None,
              env_file: str | None = None, out: TextIO | None = sys.stderr) -> Any:
    """Push the local datastore folder ``DATASTORE[/PATH]`` (or ``source``) to the blob container."""
    from pathlib import Path

    from azml.data import DEFAULT_WORKERS, push, split_spec

    datastore, path = split_spec(spec)
    return push(load_settings(env_file), datastore, path, source=Path(source) if source else None,
                workers=workers or DEFAULT_WORKERS, out=out)


def data_register(name: str, source: str, *, version: int | None = None,
                  env_file: str | None = None) -> Any:
    """Register a local folder or file (or an azureml://datastores/... URI) as dataset ``name``."""
    from azml.data import register

    return register(load_settings(env_file), name, source, version=version)


def data_list(*, name: str | None = None, env_file: str | None = None) -> Any:
    """Registered datasets (every version), optionally of one name."""
    from azml.data import get_dataset, list_datasets

    settings = load_settings(env_file)
    if name is not None:
        get_dataset(settings, name)  # an unknown name is an error listing the known ones
    return [d for d in list_datasets(settings) if name is None or d.name == name]


# -- AzureML runs and jobs operated from here (v1 pipeline runs, v2 pipeline jobs) -----------

#: ``--target`` values of the AzureML commands, and the flavor each names
AZURE_TARGETS = {"azureml-v1": "azureml_v1", "azureml-v2": "azureml_v2"}


def azure_target(run_id: str, target: str | None) -> str:
    """``azureml_v1`` or ``azureml_v2``: ``--target`` when given, else by the id's shape.

    v1 pipeline and step run ids are GUIDs; v2 job names are not (``<adjective>_<noun>_<id>``
    as the service names them, or the name given), so an id that is a GUID is taken for v1.
    """
    if target is not None:
        if target not in AZURE_TARGETS and target not in AZURE_TARGETS.values():
            raise UsageError(f"--target {target!r}: expected one of {', '.join(AZURE_TARGETS)}")
        return AZURE_TARGETS.get(target, target)
    import uuid

    try:
        uuid.UUID(run_id)
    except ValueError:
        return "azureml_v2"
    return "azureml_v1"


def _v2_workspace(settings: Any, ws_config: str | None) -> Any:
    from azml.targets.azureml_v2.workspace import connect

    return connect(settings, ws_config)


@contextlib.contextmanager
def _no_local_run(run_id: str) -> Iterator[None]:
    """An id that is no local run, where no AzureML workspace is configured, is unknown (exit 3).

    With a workspace configured, its settings' own error stands (a failed sign-in is exit 2):
    the id may well be AzureML's.
    """
    try:
        yield
    except NoWorkspaceError as exc:
        raise RunNotFoundError(
            run_id, message=f"no local run has id '{run_id}', and AzureML cannot be asked: "
            f"{exc.problem} ({exc.what}). {exc.advice}") from None


def azure_status(run_id: str, *, env_file: str | None = None, target: str | None = None,
                 ws_config: str | None = None) -> dict[str, Any]:
    """An AzureML pipeline run (v1) or pipeline job (v2) with its steps: status, durations,
    ids, portal link, and the earlier run a reused step took its results from."""
    settings = load_settings(env_file)
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import run_status as v1_status

        return v1_status(settings, run_id, ws_config=ws_config)
    from azml.targets.azureml_v2.operate import job_record

    return job_record(_v2_workspace(settings, ws_config), run_id)


def azure_logs(run_id: str, *, step: str | None = None, follow: bool = False,
               env_file: str | None = None, out: TextIO | None = None, target: str | None = None,
               ws_config: str | None = None, interval: float | None = None) -> list[str]:
    """Print the step's log (``user_logs/std_log*``) of an AzureML run; ``follow`` polls to its end."""
    settings = load_settings(env_file)
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import stream_logs as v1_logs
        from azml.targets.azureml_v1.runs import POLL_SECONDS as V1_POLL

        return v1_logs(settings, run_id, step=step, follow=follow, out=out, ws_config=ws_config,
                       poll=V1_POLL if interval is None else interval)
    from azml.targets.azureml_v2.jobs import POLL_SECONDS as V2_POLL
    from azml.targets.azureml_v2.operate import stream_logs as v2_logs

    return v2_logs(_v2_workspace(settings, ws_config), run_id, step=step, follow=follow, out=out,
                   poll=V2_POLL if interval is None else interval)


def download(run_id: str, dest: str, *, step: str | None = None, output: str | None = None,
             logs: bool = True, env_file: str | None = None, target: str | None = None,
             ws_config: str | None = None, out: TextIO | None = sys.stderr) -> list[dict[str, Any]]:
    """Download the outputs (or one ``output``) and logs of an AzureML run's steps into ``dest``."""
    from pathlib import Path

    if run_id.startswith(LOCAL_PREFIX):
        raise UsageError(f"{run_id} is a local run: its outputs are already on this machine "
                         f"(`azml status {run_id} --json` shows where)")
    settings = load_settings(env_file)
    folder = Path(dest).expanduser()
    if azure_target(run_id, target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import download as v1_download

        return v1_download(settings, run_id, folder, step=step, output=output, logs=logs,
                           ws_config=ws_config, out=out)
    from azml.targets.azureml_v2.operate import download as v2_download

    return v2_download(_v2_workspace(settings, ws_config), settings, run_id, folder, step=step,
                       output=output, logs=logs, out=out)


def _schedule_spec(cron: str | None, every: str | None) -> tuple[Any, Any]:
    from azml.cron import parse_cron, parse_every

    if (cron is None) == (every is None):
        raise UsageError("give exactly one of --cron EXPRESSION and --every INTERVAL")
    return (parse_cron(cron) if cron else None), (parse_every(every) if every else None)


def _v2_job(config: ConfigRef, env_file: str | None, params: Sequence[str], ws_config: str | None,
            experiment: str = "DEV-train-pipeline") -> tuple[Any, Any]:
    """The workspace and the v2 PipelineJob to publish or schedule: a job YAML (``az ml job
    create``'s format, read by the SDK), or a config translated from its plan and checked
    against the workspace as submit checks it (assets pinned), before anything is created."""
    from pathlib import Path

    if not isinstance(config, Loaded) and Path(config).suffix in (".yml", ".yaml"):
        from azml.targets.azureml_v2.yaml_io import load_job_file

        job = load_job_file(config)
        return _v2_workspace(load_settings(env_file), ws_config), job
    loaded = _loaded(config, env_file, params)
    print_warnings(loaded, sys.stderr)
    from azml.targets.azureml_v2.submit import checked_job

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

        loaded = _loaded(config, env_file, params)
        print_warnings(loaded, sys.stderr)
        return v1_publish(loaded.plan, loaded.settings, connect_workspace(loaded.settings, ws_config, None),
                          name=name, endpoint=endpoint, out=out)
    from azml.targets.azureml_v2.publish import publish as v2_publish

    workspace, job = _v2_job(config, env_file, params, ws_config)
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
        loaded = _loaded(config, env_file, params)
        print_warnings(loaded, sys.stderr)
        return v1_schedule(loaded.plan, loaded.settings,
                           connect_workspace(loaded.settings, ws_config, None), name=name,
                           experiment=experiment, cron=cron_spec, every=every_spec, endpoint=endpoint,
                           out=out)
    from azml.targets.azureml_v2.publish import schedule as v2_schedule

    workspace, job = _v2_job(config, env_file, params, ws_config, experiment)
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

    return v2_list(_v2_workspace(settings, ws_config), active_only=active_only)


def unschedule(name: str, *, target: str = "azureml-v1", env_file: str | None = None,
               ws_config: str | None = None) -> dict[str, Any]:
    """Disable schedule ``name`` (a name, or a v1 schedule id)."""
    settings = load_settings(env_file)
    if azure_target("", target) == "azureml_v1":
        from azml.targets.azureml_v1.operate import connect_workspace
        from azml.targets.azureml_v1.publish import unschedule as v1_unschedule

        return v1_unschedule(connect_workspace(settings, ws_config, None), name)
    from azml.targets.azureml_v2.publish import unschedule as v2_unschedule

    return v2_unschedule(_v2_workspace(settings, ws_config), name)
