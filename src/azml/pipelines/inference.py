"""InferencePipeline: the original project's batch-inference pipeline, over :mod:`azml.api`.

The same façade as :class:`~azml.pipelines.train.TrainPipeline` (one base class, one
call into :mod:`azml.api` per method), for a config that scores data with at least
one ``ParallelRunStep``: ``construct_pipeline()`` builds the SDK steps (the
ParallelRunStep on its named cluster), ``run_pipeline()`` submits them or, with
``local=True``, runs them on this machine through the local batch driver.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from azml import api
from azml.errors import ConfigError, ConfigProblem
from azml.pipelines.base import BasePipeline


class InferencePipeline(BasePipeline):
    """A batch-inference pipeline: a config with one or more ParallelRunSteps."""

    DEFAULT_EXPERIMENT = "DEV-inference-pipeline"
    sdk: Any = None
    steps: list[Any]

    def __init__(self, pipeline_config: str | os.PathLike[str],
                 ws_config: str | os.PathLike[str] | None = None,
                 env_file: str | os.PathLike[str] | None = None, params: Sequence[str] = (),
                 auth: str | None = None) -> None:
        super().__init__(pipeline_config, ws_config, env_file, params, auth)
        if not self.scoring_steps:
            raise ConfigError([ConfigProblem(
                str(self.config.path), "", "an inference pipeline scores with a ParallelRunStep; "
                "this config has none (use TrainPipeline for it)")])

    @property
    def scoring_steps(self) -> list[str]:
        """Ids of the ParallelRunSteps, in plan order."""
        return [sid for sid, step in self.plan.steps.items() if step.is_parallel]

    def construct_pipeline(self, out: TextIO | None = None) -> None:
        """Build the SDK steps against the live workspace (registers datastores if needed)."""
        self.sdk = api.construct(self._loaded, workspace=self.workspace, out=out)
        self.steps = self.sdk.step_objects()

    def _submit(self, experiment_name: str, tags: Mapping[str, str] | None,
                parameters: Mapping[str, Any] | None, wait: bool, out: TextIO | None) -> Any:
        return api.submit(self._loaded, experiment=experiment_name, workspace=self.workspace,
                          tags=tags, parameters=parameters, wait=wait, prepared=self.sdk, out=out)
