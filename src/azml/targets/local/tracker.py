"""What a local run records in the tracking store, in the calls the runner makes.

A local pipeline run is a parent MLflow run and each step a child run
(:mod:`azml.tracking.store`); each step process gets the ``MLFLOW_*`` variables
AzureML sets in a job, pointing at the local store, so ``mlflow.log_metric`` and
``Run.get_context().log`` land in the same place. Tracking never fails a run: a
store that cannot be used becomes one sentence in the run's reason.

``AZML_TRACKING=off`` turns it off; it is also off when MLflow is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azml.settings import Settings

TRACKING_VARIABLE = "AZML_TRACKING"


class RunTracker:
    """The tracking side of one local run; every method is a no-op when tracking is off."""

    def __init__(self, settings: Settings, warn: Callable[[str], None],
                 say: Callable[[str], None] | None = None) -> None:
        from azml.tracking.server import mlflow_installed

        self.enabled = (settings.get(TRACKING_VARIABLE, "on") or "on").lower() not in (
            "off", "0", "false", "no") and mlflow_installed()
        self._warn = warn
        self._say = say or warn
        self._store: Any = None
        self._handle: Any = None
        if self.enabled:
            from azml.tracking.server import IDLE_VARIABLE
            from azml.tracking.store import Tracking

            self._store = Tracking(settings.azml_home, idle=settings.get(IDLE_VARIABLE))

    def start(self, experiment: str, run_id: str, config: str,
              steps: list[tuple[str, str, str]]) -> None:
        """The parent run, and the child runs created ahead of their steps."""
        if self._store is not None:
            self._handle = self._store.start_pipeline_run(experiment, run_id, {"config": config},
                                                          steps)

    def install_hook(self, site_packages: Path) -> None:
        """Make ``Run.get_context()`` record locally in an environment's interpreter."""
        if self._store is not None:
            from azml.runtime import install_hook

            install_hook(site_packages)

    def step_variables(self, step_id: str, step_run_id: str, name: str,
                       inputs: Mapping[str, Path]) -> dict[str, str]:
        """The ``MLFLOW_*`` variables of a step (empty when tracking is off or broken)."""
        if self._store is None or self._handle is None:
            return {}
        paths = {key: str(value) for key, value in inputs.items()}
        variables: dict[str, str] = self._store.start_step_run(
            self._handle, step_id, step_run_id, name, inputs=paths)
        return variables

    def register(self, step_run_id: str, spec: Any, outputs: Mapping[str, str]) -> str:
        """Register ``spec`` (``register_model``) from a finished step's outputs.

        Returns why the step must fail ('' when it is fine): a path that is not there.
        """
        from azml.errors import ModelPathError
        from azml.tracking.store import model_path

        path = f"{spec.output}/{spec.inside}" if spec.inside else spec.output
        try:
            found = model_path(outputs, path)
        except ModelPathError as exc:
            return str(exc)
        if self._store is not None and self._handle is not None:
            version = self._store.register_model(self._handle, step_run_id, spec.name, found,
                                                 dict(spec.tags))
            if version is not None:
                self._say(f"registered model {spec.name} version {version}")
        return ""

    def step_ended(self, step_run_id: str, status: str) -> None:
        if self._store is not None and self._handle is not None:
            self._store.end_step_run(self._handle, step_run_id, status)

    def step_reused(self, step_id: str, step_run_id: str, name: str, reused_from: str) -> None:
        if self._store is not None and self._handle is not None:
            self._store.record_reused_step(self._handle, step_id, step_run_id, name, reused_from)

    def finish(self, status: str) -> str:
        """Close the parent run; what went wrong with tracking ('' when nothing did)."""
        if self._store is None:
            return ""
        if self._handle is not None:
            self._store.end_pipeline_run(self._handle, status)
        problem: str = self._store.close()
        return f"metrics not recorded: {problem}" if problem else ""
