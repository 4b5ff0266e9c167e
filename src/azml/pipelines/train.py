"""TrainPipeline: the original project's training pipeline, over :mod:`azml.api`.

``construct_pipeline()`` prepares the workspace resources (blob datastores, a
named cluster when one is configured) and builds one SDK step per planned step
(with ``target="v2"``: the azure-ai-ml PipelineJob, built offline);
``run_pipeline()`` submits them and prints the run and step ids. Both are one
call into :mod:`azml.api`, the same the ``azml`` command makes.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping, TextIO

from azml import api
from azml.pipelines.base import BasePipeline


class TrainPipeline(BasePipeline):
    """The training pipeline of the original project, driven by the plan."""

    sdk: Any = None
    steps: list[Any]

    def construct_pipeline(self, out: TextIO | None = None) -> None:
        """Build the SDK steps against the live workspace (registers datastores if needed).

        With ``target="v2"``: the PipelineJob (``self.sdk``), its command nodes in ``steps``.
        """
        if self.is_v2:
            self.sdk = api.construct(self._loaded, target=self.target)
            self.steps = list(self.sdk.jobs.values())
            return
        self.sdk = api.construct(self._loaded, workspace=self.workspace, out=out)
        self.steps = self.sdk.step_objects()

    def _submit(self, experiment_name: str, tags: Mapping[str, str] | None,
                parameters: Mapping[str, Any] | None, wait: bool, out: TextIO | None) -> Any:
        if self.is_v2:
            return api.submit(self._loaded, experiment=experiment_name, workspace=self.workspace,
                              tags=tags, parameters=parameters, wait=wait, out=out, target=self.target)
        return api.submit(self._loaded, experiment=experiment_name, workspace=self.workspace,
                          tags=tags, parameters=parameters, wait=wait, prepared=self.sdk, out=out)
