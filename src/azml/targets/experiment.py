"""The experiment name rule both AzureML targets check before anything is sent.

AzureML SDK v1 (``azureml._base_sdk_common.common._valid_experiment_name``): 1 to
255 characters, the first a letter or digit, the rest letters, digits, ``_`` and
``-``. Checked before any datastore is registered or any cluster created.
"""

from __future__ import annotations

import re

from azml.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")


def check_experiment_name(name: str) -> None:
    """UsageError unless ``name`` is a name AzureML accepts for an experiment."""
    if not _NAME.fullmatch(name or ""):
        raise UsageError(
            f"experiment name {name!r} is not valid: expected 1 to 255 characters, the first a "
            "letter or digit, the rest letters, digits, '_' or '-'")
