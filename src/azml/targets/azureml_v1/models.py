"""Models and metrics on AzureML (SDK v1): the registration step, and reading a run's metrics.

Registration happens *inside the pipeline*, in a small step the plan adds after
the step whose output holds the model (the pattern of Microsoft's MLOpsPython
``register_model.py`` step): it runs on the cluster with the pipeline run's own
identity, so the model is registered whether or not the submitter waits, and the
registration is part of the pipeline run's record. The step's script is
:mod:`azml.runtime.register_model` (standard library plus the azureml-core that
AzureML v1 environments carry through ``azureml-defaults``).

Functions here take plain values; the builder wires them (see the report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azml.errors import AzureServiceError, RunNotFoundError
from azml.runtime import path_of
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import error_text, quiet_stdout, require_sdk

REGISTER_SCRIPT = "register_model.py"


def registration_arguments(model_input: Any, model_name: str, inside: str = "",
                           source_step: str = "", tags: Mapping[str, str] | None = None
                           ) -> list[Any]:
    """The argument list of the registration step.

    ``model_input`` is the SDK object of the producing step's output as this step's
    input (``PipelineData`` bound with ``as_input``), ``inside`` the path within it,
    ``source_step`` the producing step's *name* (its metrics and run id go with the
    model).
    """
    return ["--model_path", model_input, "--inside", inside or ".", "--name", model_name,
            "--source_step", source_step, "--tags", json.dumps(dict(tags or {}), sort_keys=True)]


def registration_step(model_input: Any, model_name: str, *, inside: str = "",
                      source_step: str = "", tags: Mapping[str, str] | None = None,
                      compute_target: Any = None, runconfig: Any = None,
                      allow_reuse: bool = False) -> Any:
    """A ``PythonScriptStep`` that registers ``model_input[/inside]`` as ``model_name``.

    ``runconfig`` should be the producing step's run configuration (same environment,
    which has azureml-core through azureml-defaults); ``allow_reuse`` is False so a
    re-run registers a new version only when the pipeline really ran again.
    """
    require_sdk("Building the model registration step")
    from azureml.pipeline.steps import PythonScriptStep

    arguments = registration_arguments(model_input, model_name, inside, source_step, tags)
    with quiet_stdout():
        return PythonScriptStep(
            name=f"register {model_name}", script_name=REGISTER_SCRIPT,
            source_directory=str(path_of(REGISTER_SCRIPT).parent), arguments=arguments,
            inputs=[model_input], compute_target=compute_target, runconfig=runconfig,
            allow_reuse=allow_reuse)


def run_metrics(settings: Settings, run_id: str, *, ws_config: str | None = None,
                workspace: Any = None) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Numeric metrics of an AzureML run through the SDK, per step run (or the run itself).

    ``{step name: {metric: [(index, value), ...]}}``: a pipeline run gives one entry
    per step run, any other run one entry under its own name.
    """
    from azml.targets.azureml_v1.workspace import connect

    require_sdk("Reading AzureML run metrics")
    from azureml.core import Run

    ws = workspace if workspace is not None else connect(settings, ws_config)
    try:
        run = Run.get(ws, run_id)
    except Exception as exc:
        text = error_text(exc)
        if "not found" in text.lower() or "404" in text:
            raise RunNotFoundError(run_id, "the AzureML workspace") from None
        raise AzureServiceError(f"looking up run {run_id}", text) from None
    try:
        children = list(run.get_children())
        runs = children or [run]
        return {_label(r): _numeric_series(r.get_metrics()) for r in runs}
    except Exception as exc:
        raise AzureServiceError(f"reading the metrics of run {run_id}", error_text(exc)) from None


def _label(run: Any) -> str:
    name = getattr(run, "name", None) or getattr(run, "display_name", None)
    return str(name or run.id)


def _numeric_series(metrics: Mapping[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """AzureML's ``get_metrics()`` values (scalar, list, table) as numeric series."""
    out: dict[str, list[tuple[int, float]]] = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            for column, cells in value.items():
                series = _series(cells)
                if series:
                    out[f"{name}/{column}"] = series
            continue
        series = _series(value)
        if series:
            out[name] = series
    return out


def _series(value: Any) -> list[tuple[int, float]]:
    values = value if isinstance(value, list) else [value]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return list(enumerate(numbers))


def register_model(workspace: Any, model_path: str, model_name: str, *,
                   tags: Mapping[str, str] | None = None,
                   properties: Mapping[str, str] | None = None, description: str = "") -> Any:
    """``Model.register`` as the registration step does it (see :mod:`azml.runtime.register_model`)."""
    require_sdk("Registering a model")
    from azml.runtime.register_model import register

    with quiet_stdout():
        return register(workspace, model_path, model_name, tags=tags, properties=properties,
                        description=description)
