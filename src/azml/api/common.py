"""What the command modules of :mod:`azml.api` share: target names, loading a config once,
printing its warnings, and telling local run ids from AzureML's.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO, Union

from azml.errors import NoWorkspaceError, RunNotFoundError, UsageError
from azml.loading import Loaded, load

#: Local run ids start with this (azml.targets.local.ids.RUN_PREFIX); others are AzureML's.
LOCAL_PREFIX = "local_"

#: A config path, or a config already loaded (what the Python façade holds).
ConfigRef = Union[str, "os.PathLike[str]", Loaded]

#: Target names: ``azure`` is AzureML SDK v1 (its historical name), ``v1``/``v2`` the façade's.
V1_TARGETS = ("azure", "azureml-v1", "azureml", "v1")
V2_TARGETS = ("azureml-v2", "v2")

#: ``--target`` values of the AzureML commands, and the flavor each names
AZURE_TARGETS = {"azureml-v1": "azureml_v1", "azureml-v2": "azureml_v2"}


def is_v2(target: str) -> bool:
    """True for the AzureML SDK v2 target; UsageError for a name that is no target."""
    if target in V2_TARGETS:
        return True
    if target in V1_TARGETS or target == "local":
        return False
    raise UsageError(f"unknown target {target!r}: expected local, azure (SDK v1) or azureml-v2")


def flavor(target: str) -> Any:
    """The contract a local run gives its steps: AzureML v1's, or v2's with ``azureml-v2``."""
    return "azureml_v2" if is_v2(target) else "azureml_v1"


def loaded_config(config: ConfigRef, env_file: str | None, params: Sequence[str]) -> Loaded:
    """``config`` itself when already loaded, else the config at that path, loaded."""
    if isinstance(config, Loaded):
        return config
    return load(config, env_file=env_file, params=params)


def print_warnings(loaded: Loaded, out: TextIO) -> None:
    """Each warning of the config and plan on its own line, as ``warning: FILE: PATH: ...``."""
    for problem in loaded.plan.warnings:
        print(f"warning: {problem.render()}", file=out)


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


def v2_workspace(settings: Any, ws_config: str | None) -> Any:
    """The SDK v2 workspace client of these settings (azure.ai.ml is imported only now)."""
    from azml.targets.azureml_v2.workspace import connect

    return connect(settings, ws_config)


@contextlib.contextmanager
def no_local_run(run_id: str) -> Iterator[None]:
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


def v2_job_of(loaded: Loaded, experiment: str, tags: Mapping[str, str] | None) -> Any:
    """The v2 PipelineJob of a loaded config, checked (ConfigError) and built offline."""
    from azml.targets.azureml_v2.build import build_pipeline_job
    from azml.targets.azureml_v2.submit import checked_spec

    return build_pipeline_job(checked_spec(loaded.plan, experiment=experiment, tags=tags))


def is_job_yaml(config: ConfigRef) -> bool:
    """``config`` names a v2 job YAML (``az ml job create``'s format) rather than a config."""
    from pathlib import Path

    return not isinstance(config, Loaded) and Path(config).suffix in (".yml", ".yaml")


def v2_job(config: ConfigRef, env_file: str | None, params: Sequence[str],
           experiment: str = "DEV-train-pipeline") -> Any:
    """The v2 PipelineJob of a job YAML (read by the SDK) or of a config (translated from its
    plan, checked offline): built without asking the workspace anything."""
    if not isinstance(config, Loaded) and is_job_yaml(config):
        from azml.targets.azureml_v2.yaml_io import load_job_file

        return load_job_file(config)
    loaded = loaded_config(config, env_file, params)
    print_warnings(loaded, sys.stderr)
    return v2_job_of(loaded, experiment, None)
