"""The library calls behind each CLI command: one call per command (the one door).

``from azml.api import X`` is how the CLI, the Python façade and the scripts reach every
command; the functions live in modules by what they act on:

- :mod:`azml.api.configs`: validate, plan, run (locally), construct, submit, export
- :mod:`azml.api.runs`: status, logs, cancel, download, repair_store (local and AzureML runs)
- :mod:`azml.api.tracking`: metrics, models, ui
- :mod:`azml.api.publishing`: publish, schedule, schedules, unschedule (AzureML)
- :mod:`azml.api.data`: data_pull, data_push, data_register, data_list
- :mod:`azml.api.common`: target names, loading a config, local ids versus AzureML's

Backends are imported inside the functions, so that ``validate`` and ``plan``
load neither the local runner nor azureml.
"""

from __future__ import annotations

# ``X as X``: importable from here (typed re-exports), though not in __all__, as before
from azml.api.common import AZURE_TARGETS as AZURE_TARGETS
from azml.api.common import LOCAL_PREFIX as LOCAL_PREFIX
from azml.api.common import V1_TARGETS as V1_TARGETS
from azml.api.common import V2_TARGETS as V2_TARGETS
from azml.api.common import ConfigRef as ConfigRef
from azml.api.common import azure_target as azure_target
from azml.api.common import is_v2 as is_v2
from azml.api.common import print_warnings as print_warnings
from azml.api.configs import V1_ENDED_NOTE as V1_ENDED_NOTE
from azml.api.configs import V2_NOTE as V2_NOTE
from azml.api.configs import (
    construct,
    export,
    plan,
    run,
    submit,
    validate,
)
from azml.api.data import data_list, data_pull, data_push, data_register
from azml.api.publishing import publish, schedule, schedules, unschedule
from azml.api.runs import azure_logs, azure_status, cancel, download, logs, repair_store, status
from azml.api.tracking import metrics, models, ui
from azml.loading import Loaded, load
from azml.settings import load_settings as load_settings

__all__ = ["Loaded", "azure_logs", "azure_status", "cancel", "construct", "data_list", "data_pull",
           "data_push", "data_register", "download", "export", "load", "logs", "metrics", "models",
           "plan", "publish", "repair_store", "run", "schedule", "schedules", "status", "submit",
           "ui", "unschedule", "validate"]
