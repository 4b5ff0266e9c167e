"""TrainPipeline: the original project's training pipeline, over :mod:`azml.api`.

``construct_pipeline()`` prepares the workspace resources (blob datastores, a
named cluster when one is configured) and builds one SDK step per planned step
(with ``target="v2"``: the azure-ai-ml PipelineJob, built offline);
``run_pipeline()`` submits them and prints the run and step ids. Both are one
call into :mod:`azml.api`, the same the ``azml`` command makes.
"""

from __future__ import annotations

from azml.pipelines.base import BasePipeline


class TrainPipeline(BasePipeline):
    """The training pipeline of the original project, driven by the plan."""
