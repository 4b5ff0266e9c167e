"""azml: describe an AzureML training pipeline in one JSON file; validate it,
run it locally under AzureML's contract, and submit it unchanged.

``BasePipeline``, ``TrainPipeline`` and ``InferencePipeline`` are imported lazily, so that
``import azml`` (and the CLI's validate, plan and run) never load azureml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azml.errors import AzmlError, ConfigError

__version__ = "0.1.0"
__all__ = ["AzmlError", "BasePipeline", "ConfigError", "InferencePipeline", "TrainPipeline",
           "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from azml.pipelines.base import BasePipeline
    from azml.pipelines.inference import InferencePipeline
    from azml.pipelines.train import TrainPipeline


def __getattr__(name: str) -> Any:
    if name == "BasePipeline":
        from azml.pipelines.base import BasePipeline

        return BasePipeline
    if name == "TrainPipeline":
        from azml.pipelines.train import TrainPipeline

        return TrainPipeline
    if name == "InferencePipeline":
        from azml.pipelines.inference import InferencePipeline

        return InferencePipeline
    raise AttributeError(f"module 'azml' has no attribute {name!r}")
