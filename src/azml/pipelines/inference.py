"""InferencePipeline: the original project's batch-inference pipeline, over :mod:`azml.api`.

The same façade as :class:`~azml.pipelines.train.TrainPipeline` (one base class, one
call into :mod:`azml.api` per method), for a config that scores data with at least
one ``ParallelRunStep``: ``construct_pipeline()`` builds the SDK steps (the
ParallelRunStep on its named cluster; with ``target="v2"`` the PipelineJob), ``run_pipeline()`` submits them or, with
``local=True``, runs them on this machine through the local batch driver.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from azml.errors import ConfigError, ConfigProblem
from azml.pipelines.base import BasePipeline


class InferencePipeline(BasePipeline):
    """A batch-inference pipeline: a config with one or more ParallelRunSteps."""

    DEFAULT_EXPERIMENT = "DEV-inference-pipeline"

    def __init__(self, pipeline_config: str | os.PathLike[str],
                 ws_config: str | os.PathLike[str] | None = None,
                 env_file: str | os.PathLike[str] | None = None, params: Sequence[str] = (),
                 auth: str | None = None, target: str = "v1") -> None:
        super().__init__(pipeline_config, ws_config, env_file, params, auth, target)
        if not self.scoring_steps:
            raise ConfigError([ConfigProblem(
                str(self.config.path), "", "an inference pipeline scores with a ParallelRunStep; "
                "this config has none (use TrainPipeline for it)")])

    @property
    def scoring_steps(self) -> list[str]:
        """Ids of the ParallelRunSteps, in plan order."""
        return [sid for sid, step in self.plan.steps.items() if step.is_parallel]
