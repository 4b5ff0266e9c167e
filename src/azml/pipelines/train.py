"""TrainPipeline: every step of ``pipeline_config.json`` as an AzureML step.

``construct_pipeline()`` prepares the workspace resources (blob datastores,
a named cluster when one is configured) and builds one SDK step per planned
step; ``run_pipeline()`` submits them and prints the run and step ids.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping, TextIO

from azml.pipelines.base import BasePipeline


class TrainPipeline(BasePipeline):
    """The training pipeline of the original project, driven by the plan."""

    sdk: Any = None

    def construct_pipeline(self, out: TextIO = sys.stdout) -> None:
        """Build the SDK steps against the live workspace (registers datastores if needed)."""
        from azml.targets.azureml_v1.builder import build_sdk_steps, datastore_names
        from azml.targets.azureml_v1.resources import ensure_cluster, ensure_datastores

        workspace = self.workspace
        datastores = ensure_datastores(workspace, datastore_names(self.plan), self.settings, out)
        self._ensure_clusters(workspace, ensure_cluster, out)
        self.sdk = build_sdk_steps(self.plan, self.settings, datastores)
        self.steps = self.sdk.step_objects()

    def _ensure_clusters(self, workspace: Any, ensure: Any, out: TextIO) -> None:
        wanted: dict[str, tuple[Any, int]] = {}
        for step in self.plan.steps.values():
            name = step.compute.cluster_name
            if name:
                _, nodes = wanted.get(name, (step.compute, 0))
                wanted[name] = (step.compute, max(nodes, step.node_count))
        for spec, nodes in wanted.values():
            ensure(workspace, spec, nodes, out)

    def _submit(self, experiment_name: str, tags: Mapping[str, str] | None,
                parameters: Mapping[str, Any] | None, wait: bool, out: TextIO) -> Any:
        from azml.targets.azureml_v1.runs import submit_pipeline

        if self.sdk is None:
            self.construct_pipeline(out=out)
        names = tuple(s.name for s in self.plan.steps.values())
        run = submit_pipeline(self.workspace, self.sdk.step_objects(), experiment_name, tags=tags,
                              parameters=parameters, out=out, step_names=names)
        if wait:
            run.wait()
        return run
