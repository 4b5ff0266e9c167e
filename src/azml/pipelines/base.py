"""Base class of an AzureML pipeline described by ``pipeline_config.json``.

Keeps the original project's shape (``BasePipeline(pipeline_config, ws_config)``,
``construct_pipeline()``, ``run_pipeline(experiment_name, tags)``) while loading
settings, the validated config and its plan up front and the workspace only
when needed: a local run needs no Azure account and never imports azureml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from azml.config import PipelineConfig
from azml.loading import load
from azml.plan import Plan
from azml.settings import Settings


class BasePipeline:
    """Settings, config and plan of one pipeline, and its workspace on demand.

    Args:
        pipeline_config: path of ``pipeline_config.json``; relative paths inside
            it resolve against the current directory, as in the original project.
        ws_config: path of the workspace ``config.json`` (or a folder to search
            from); by default ``.azureml/config.json`` in the current directory
            or a parent.
        env_file: settings file; by default ``.env`` in the current directory.
        params: ``NAME=VALUE`` overrides of pipeline parameters.
        auth: ``"cli"``, ``"service_principal"`` or ``"interactive"``; by default
            ``AZML_AUTH``, else a service principal when its variables are set,
            else interactive login (SDK v1) or DefaultAzureCredential (SDK v2).
        target: ``"v1"`` (AzureML SDK v1, the default) or ``"v2"`` (azure-ai-ml: a
            pipeline job of command jobs). Local runs get that SDK's contract.
    """

    def __init__(
        self,
        pipeline_config: str | os.PathLike[str],
        ws_config: str | os.PathLike[str] | None = None,
        env_file: str | os.PathLike[str] | None = None,
        params: Sequence[str] = (),
        auth: str | None = None,
        target: str = "v1",
    ) -> None:
        from azml.api import is_v2

        self.target = target
        self.is_v2 = is_v2(target)
        self._loaded = load(pipeline_config, env_file=env_file, params=params)
        self.settings: Settings = self._loaded.settings
        self.config: PipelineConfig = self._loaded.config
        self.plan: Plan = self._loaded.plan
        self.ws_config = ws_config
        self.auth = auth
        self.pipeline_tags: dict[str, str] | None = None
        self._workspace: Any = None

    @property
    def workspace(self) -> Any:
        """The AzureML workspace, connected on first use (SettingsError if it cannot be)."""
        if self._workspace is None and self.is_v2:
            from azml.targets.azureml_v2.workspace import connect as connect_v2

            self._workspace = connect_v2(self.settings, self.ws_config, self.auth)
        elif self._workspace is None:
            from azml.targets.azureml_v1.workspace import connect

            self._workspace = connect(self.settings, self.ws_config, self.auth)
        return self._workspace

    @workspace.setter
    def workspace(self, value: Any) -> None:
        self._workspace = value

    #: The original project's name for the workspace.
    ws = workspace

    #: The experiment ``run_pipeline`` submits to when none is named.
    DEFAULT_EXPERIMENT = "DEV-train-pipeline"

    sdk: Any = None
    steps: list[Any]

    def construct_pipeline(self, out: TextIO | None = None) -> None:
        """Build the SDK objects: v1, the steps against the live workspace (registering
        datastores and a named cluster when needed); v2, the PipelineJob, offline.

        ``self.sdk`` holds the result and ``self.steps`` its steps (v2: command nodes).
        """
        from azml import api

        if self.is_v2:
            self.sdk = api.construct(self._loaded, target=self.target)
            self.steps = list(self.sdk.jobs.values())
            return
        self.sdk = api.construct(self._loaded, workspace=self.workspace, out=out)
        self.steps = self.sdk.step_objects()

    def _submit(self, experiment_name: str, tags: Mapping[str, str] | None,
                parameters: Mapping[str, Any] | None, wait: bool, out: TextIO | None) -> Any:
        from azml import api

        prepared = None if self.is_v2 else self.sdk
        return api.submit(self._loaded, experiment=experiment_name, workspace=self.workspace,
                          tags=tags, parameters=parameters, wait=wait, prepared=prepared, out=out,
                          target=self.target)

    def run_pipeline(
        self,
        experiment_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        wait: bool = False,
        local: bool = False,
        out: TextIO | None = None,
        **local_options: Any,
    ) -> Any:
        """Run locally (``local=True``) or submit to AzureML; returns the run handle.

        ``parameters`` override pipeline parameters (name -> value): locally the
        plan is rebuilt with them; on AzureML they are passed with the submission.
        A local run that does not complete raises RunFailedError; so does a
        submission with ``wait=True``. ``experiment_name`` defaults to
        :attr:`DEFAULT_EXPERIMENT`.
        """
        experiment_name = experiment_name or self.DEFAULT_EXPERIMENT
        if local:
            from azml import api

            return api.run(self._loaded, experiment=experiment_name, parameters=parameters,
                           out=out, target=self.target, **local_options)
        if local_options:
            raise TypeError(f"options for local runs only: {', '.join(sorted(local_options))}")
        return self._submit(experiment_name, tags if tags is not None else self.pipeline_tags,
                            parameters, wait, out)
