"""Logging metrics to the step's AzureML run, where there is one.

``Run.get_context()`` is AzureML's (SDK v1) way for a step to log: on AzureML it
is the step run; in a local azml run the same call records into azml's local
MLflow store. Where azureml-core is not installed (plain ``python train.py``),
logging is skipped quietly and training goes on.
"""

from __future__ import annotations

from typing import Any


class _NoRun:
    def log(self, name: str, value: Any, **_: Any) -> None:
        return None


def run_context() -> Any:
    """The step's run, or an object whose ``log`` does nothing without azureml-core."""
    try:
        from azureml.core import Run
    except ImportError:
        return _NoRun()
    return Run.get_context()
