"""The training pipeline: ``TrainPipeline`` and its dev scripts (kickoff, cancel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from azml.train_pipeline.train_pipeline import TrainPipeline

__all__ = ["TrainPipeline"]


def __getattr__(name: str) -> Any:
    if name == "TrainPipeline":
        from azml.train_pipeline.train_pipeline import TrainPipeline

        return TrainPipeline
    raise AttributeError(f"module 'azml.train_pipeline' has no attribute {name!r}")
