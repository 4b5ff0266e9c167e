"""The commands that take a pipeline config: validate, plan, run (locally), construct,
submit and export. Backends are imported inside the functions, so that ``validate`` and
``plan`` load neither the local runner nor azureml.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from azml.api.common import (
    V1_TARGETS,
    ConfigRef,
    flavor,
    is_v2,
    loaded_config,
    print_warnings,
    v2_job,
    v2_job_of,
)
from azml.errors import RunFailedError
from azml.loading import load

#: Said once by ``azml validate``: SDK v1's end of support and the switch.
V1_ENDED_NOTE = (
    "note: AzureML SDK v1 (azureml-core) support ended on 2026-06-30. Submit the same config "
    "with SDK v2: 'azml submit CONFIG --target azureml-v2' (check it with 'azml validate CONFIG "
    "--target azureml-v2'; see docs/migrating-to-v2.md)")
V2_NOTE = ("note: AzureML SDK v1 support ended on 2026-06-30; this config was checked for SDK v2 "
           "(azure-ai-ml), which 'azml submit CONFIG --target azureml-v2' uses")


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
    loaded = loaded_config(config_path, env_file, params)
    print_warnings(loaded, out)
    if is_v2(target):  # not more lenient than v2 itself: what v2 cannot express stops here
        from azml.targets.azureml_v2.translate import check_plan, plan_to_spec

        check_plan(loaded.plan, plan_to_spec(loaded.plan, experiment=experiment))
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
        flavor=flavor(target),
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
        return v2_job(config_path, env_file, params)
    from azml.targets.azureml_v1 import prepare
    from azml.targets.azureml_v1.workspace import connect

    loaded = loaded_config(config_path, env_file, params)
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
    loaded = loaded_config(config_path, env_file, params)
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

    job = v2_job_of(loaded_config(config_path, env_file, params), experiment, tags)
    return str(dump_job(job, output))
