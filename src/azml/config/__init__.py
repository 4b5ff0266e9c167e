"""The pipeline_config.json contract: schema, loading, validation, typed model.

Knows nothing of Azure.
"""

from __future__ import annotations

from azml.config.loader import load_config
from azml.config.model import (
    ComputeSpec,
    DatasetInput,
    DatastoreInput,
    InputSpec,
    PipelineConfig,
    StepConfig,
    StepOutputInput,
)

__all__ = [
    "ComputeSpec",
    "DatasetInput",
    "DatastoreInput",
    "InputSpec",
    "PipelineConfig",
    "StepConfig",
    "StepOutputInput",
    "load_config",
]
