"""Metrics and models: runs' metrics (local store or AzureML), locally registered models,
and the local MLflow UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azml.api.common import no_local_run
from azml.settings import load_settings


def metrics(
    run_ids: Sequence[str],
    *,
    step: str | None = None,
    plot: str | None = None,
    compare: bool = False,
    env_file: str | None = None,
    ws_config: str | None = None,
) -> dict[str, Any]:
    """Metrics of runs: local ids from the local store, others from AzureML through the SDK.

    Returns ``{"runs": {run id: {step: {metric: [(index, value), ...]}}}, "text": table,
    "plot": path or None}``; with ``compare`` the table has one row per run (final values).
    """
    from azml.tracking import views

    settings = load_settings(env_file)
    runs = {run_id: _histories(settings, run_id, step, ws_config) for run_id in run_ids}
    if compare:
        text = views.compare_table(runs)
    else:
        text = "\n\n".join(views.metrics_table(h, f"run {r}") for r, h in runs.items())
    written = None
    if plot:
        first, histories = next(iter(runs.items()))
        written = str(views.plot(histories, plot, title=f"run {first}"))
    return {"runs": runs, "text": text, "plot": written}


def _histories(settings: Any, run_id: str, step: str | None, ws_config: str | None) -> Any:
    """One run's metric histories per step: from the local store, else from AzureML (SDK v1)."""
    from azml.tracking.query import local_histories

    found = local_histories(settings.azml_home, run_id, step)
    if found is not None:
        return found
    from azml.targets.azureml_v1.models import run_metrics

    with no_local_run(run_id):
        remote = run_metrics(settings, run_id, ws_config=ws_config)
    if step is not None:
        remote = {k: v for k, v in remote.items() if k == step}
    return remote


def models(*, env_file: str | None = None) -> list[dict[str, Any]]:
    """Models registered in the local store, newest version first per model."""
    from azml.tracking.query import models as local_models

    return local_models(load_settings(env_file).azml_home)


def ui(*, env_file: str | None = None, stop: bool = False) -> str:
    """Start (or find) the local MLflow server and UI on 127.0.0.1; its address.

    With ``stop``, stop it instead and say so.
    """
    settings = load_settings(env_file)
    home = settings.azml_home
    if stop:
        from azml.tracking.server import stop_server

        return "stopped the local MLflow server" if stop_server(home) else "no local MLflow server was running"
    from azml.tracking.query import ui as start_ui
    from azml.tracking.server import IDLE_VARIABLE

    return start_ui(home, settings.get(IDLE_VARIABLE))
