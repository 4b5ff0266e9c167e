"""Submitted AzureML runs: submission, the run handle, following, cancelling.

Submission prints the portal link, the pipeline run id and, as the service
creates them, each step's name and step run id.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from azml.errors import AzmlError, AzureServiceError, RunNotFoundError
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import error_text, quiet_stdout, require_sdk
from azml.targets.parallel_logs import parallel_logs
from azml.targets.remote import follow

#: Final states as the pipelines service (Finished, PartiallyExecuted, Bypassed) and run
#: history (Completed) name them (azureml.pipeline.core: TaskStatus and
#: _aeva_provider's status codes; azureml._restclient.constants.RunStatus).
FINAL_STATES = frozenset({"Completed", "Finished", "Failed", "Canceled", "NotResponding",
                          "PartiallyExecuted", "Bypassed"})
FAILED_STATES = frozenset({"Failed", "Canceled", "NotResponding"})
POLL_SECONDS = 5.0
LOG_TAIL_LINES = 20


class AzureRun:
    """A submitted pipeline run.

    Attributes:
        run_id: the pipeline run id.
        steps: step run ids by step name, filled as the service creates them.
        portal_url: the run's page in Azure Machine Learning studio.
    """

    def __init__(self, pipeline_run: Any, out: TextIO | None = None, poll: float = POLL_SECONDS,
                 step_names: tuple[str, ...] = ()) -> None:
        self._run = pipeline_run
        self._out = out or sys.stdout
        self._poll = poll
        self._step_names = step_names
        self.run_id: str = pipeline_run.id
        self.steps: dict[str, str] = {}
        self.portal_url = _portal_url(pipeline_run)

    @property
    def step_ids(self) -> list[str]:
        return list(self.steps.values())

    @property
    def status(self) -> str:
        """The pipeline run's status, fresh from the service."""
        return str(self._run.get_status())

    def refresh_steps(self) -> dict[str, str]:
        """Record (and print) step runs the service has created since the last look."""
        for step_run in self._run.get_steps():
            name = step_run.name
            if name not in self.steps:
                self.steps[name] = step_run.id
                print(f"  step {name}: step run {step_run.id}", file=self._out, flush=True)
        return self.steps

    def wait(self, timeout: float | None = None) -> str:
        """Follow the run until a final state (or ``timeout`` seconds); returns the last status."""
        def poll_status() -> str:
            self.refresh_steps()
            return self.status

        return follow(poll_status, FINAL_STATES, f"pipeline run {self.run_id}", self._out,
                      poll=self._poll, timeout=timeout)

    def failed_steps(self) -> list[str]:
        """Names of step runs that ended Failed, Canceled or NotResponding."""
        return [s.name for s in self._run.get_steps() if s.get_status() in FAILED_STATES]

    def failure_details(self) -> list[str]:
        """For each failed step: its name, step run id, and the tail of its driver log."""
        lines: list[str] = []
        for step_run in self._run.get_steps():
            status = step_run.get_status()
            if status not in FAILED_STATES:
                continue
            lines.append(f"step {step_run.name} (step run {step_run.id}) ended {status}")
            tail = _log_tail(step_run)
            lines.extend(f"  | {line}" for line in tail)
        return lines

    def cancel(self, step: str | None = None, timeout: float = 300.0) -> str:
        """Cancel the whole run, or the step run of step name (or step run id) ``step``."""
        if step is None:
            return _cancel_and_wait(self._run, f"pipeline run {self.run_id}", timeout, self._poll)
        self.refresh_steps()
        step_run_id = self.steps.get(step, step)
        for step_run in self._run.get_steps():
            if step_run.id == step_run_id:
                return _cancel_and_wait(step_run, f"step run {step_run.id} ({step_run.name}) of "
                                        f"pipeline run {self.run_id}", timeout, self._poll)
        raise RunNotFoundError(step, f"pipeline run {self.run_id}")


def submit_pipeline(workspace: Any, steps: list[Any], experiment_name: str, *,
                    tags: Mapping[str, str] | None, parameters: Mapping[str, Any] | None,
                    out: TextIO, step_names: tuple[str, ...] = (),
                    settle: float = 10.0, poll: float = POLL_SECONDS) -> AzureRun:
    """Build the pipeline graph, submit it to ``experiment_name`` and print the ids."""
    require_sdk("Submitting to AzureML")
    from azureml.core import Experiment
    from azureml.pipeline.core import Pipeline

    with quiet_stdout():
        pipeline = Pipeline(workspace=workspace, steps=steps)
        pipeline_run = Experiment(workspace, experiment_name).submit(
            pipeline, tags=dict(tags or {}), pipeline_parameters=dict(parameters or {}),
            continue_on_step_failure=False)
    run = AzureRun(pipeline_run, out=out, poll=poll, step_names=step_names)
    print(f"Submitted pipeline run {run.run_id} to experiment '{experiment_name}'", file=out)
    if run.portal_url:
        print(f"  portal: {run.portal_url}", file=out)
    _settle_steps(run, step_names, settle, poll)
    return run


def _settle_steps(run: AzureRun, names: tuple[str, ...], settle: float, poll: float) -> None:
    """Print step run ids that appear within ``settle`` seconds (the rest appear in wait())."""
    deadline = time.monotonic() + settle
    while True:
        run.refresh_steps()
        if set(names) <= set(run.steps) or time.monotonic() >= deadline:
            return
        time.sleep(min(poll, 1.0))


def cancel_run(settings: Settings, run_id: str, *, step_id: str | None = None,
               ws_config: str | None = None, timeout: float = 300.0,
               poll: float = POLL_SECONDS, workspace: Any = None) -> str:
    """Cancel pipeline run ``run_id``, or its step run ``step_id``; wait for a final state."""
    from azml.targets.azureml_v1.workspace import connect

    ws = workspace if workspace is not None else connect(settings, ws_config)
    pipeline_run = _get_run(ws, run_id, "the AzureML workspace")
    if step_id is None:
        return _cancel_and_wait(pipeline_run, f"pipeline run {run_id}", timeout, poll)
    step_run = _get_run(ws, step_id, f"pipeline run {run_id}")
    dto = getattr(step_run, "_run_dto", None) or {}
    parents = {getattr(step_run, "_pipeline_run_id", None), dto.get("parent_run_id"),
               dto.get("root_run_id")}
    if run_id not in parents:
        raise RunNotFoundError(step_id, f"pipeline run {run_id}")
    return _cancel_and_wait(step_run, f"step run {step_id} of pipeline run {run_id}", timeout, poll)


def _get_run(workspace: Any, run_id: str, where: str) -> Any:
    from azureml.core import Run

    try:
        return Run.get(workspace, run_id)
    except AzmlError:  # e.g. no token: a settings problem, not the service's
        raise
    except Exception as exc:
        text = error_text(exc)
        if "not found" in text.lower() or "404" in text or "NotFound" in text:
            raise RunNotFoundError(run_id, where) from None
        raise AzureServiceError(f"looking up run {run_id}", text) from None


def _cancel_and_wait(run: Any, label: str, timeout: float, poll: float,
                     clock: Callable[[], float] = time.monotonic) -> str:
    status = run.get_status()
    if status in FINAL_STATES:
        return f"{label[0].upper()}{label[1:]} had already ended ({status}); nothing to cancel."
    try:
        run.cancel()
    except Exception as exc:
        raise AzureServiceError(f"cancelling {label}", error_text(exc)) from None
    deadline = clock() + timeout
    while True:
        status = run.get_status()
        if status in FINAL_STATES:
            return f"{label[0].upper()}{label[1:]}: cancel requested; final state {status}."
        if clock() >= deadline:
            return (f"{label[0].upper()}{label[1:]}: cancel requested; still {status} after "
                    f"{timeout:g} s (timed out waiting for a final state).")
        time.sleep(poll)


def _log_tail(step_run: Any, count: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a step run's main log (a parallel step's error summary, else the
    user log, else the driver log); [] if none."""
    try:
        details = step_run.get_details_with_logs()
    except Exception as exc:
        return [f"(its logs could not be read: {error_text(exc, 200)})"]
    logs = details.get("logFiles") or {}
    # a parallel step's driver log only says that mini-batches failed: its error
    # summary (then its result) says which and why
    preferred = [*parallel_logs(logs), *sorted(logs, key=lambda name: (
        not name.startswith("user_logs/std_log"), "driver_log" not in name, name))]
    for name in preferred:
        text = logs[name]
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        lines = [line for line in str(text).splitlines() if line.strip()]
        if lines:
            return [f"{name}:"] + lines[-count:]
    return []


def _portal_url(pipeline_run: Any) -> str:
    try:
        return str(pipeline_run.get_portal_url())
    except Exception:
        return ""
