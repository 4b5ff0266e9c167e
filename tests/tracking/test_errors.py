"""Bad metric input gets the error AzureML's SDK gives (raised by the SDK's own classes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from azml.runtime import localrun, mlflowrest, runhook
from azml.tracking.store import Tracking


@pytest.fixture
def local(tracking: Tracking) -> localrun.LocalRun:
    handle = tracking.start_pipeline_run("errors", "RE")
    variables = tracking.start_step_run(handle, "s", "RE_s", "s")
    sender = localrun._Sender(mlflowrest.Client(variables["MLFLOW_TRACKING_URI"]))
    return localrun.LocalRun(sender, "RE_s", variables["MLFLOW_RUN_ID"], "errors")


def error_of(call: Callable[[], Any]) -> tuple[type, str]:
    with pytest.raises(Exception) as caught:
        call()
    return type(caught.value), str(getattr(caught.value, "message", caught.value))


def test_errors_match_the_sdk(local: localrun.LocalRun, tmp_path: Path) -> None:
    from azureml.core._metrics import ImageMetric, ListMetric, RowMetric, TableMetric
    from azureml.core.run import Run

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    pairs = [
        (lambda: local.log("x", [1, 2]), lambda: Run.log(None, "x", [1, 2])),
        (lambda: local.log_list("x", [1, object()]), lambda: ListMetric("x", [1, object()]).create_v2_dto()),
        (lambda: local.log_row("x", a=[1]), lambda: RowMetric("x", {"a": [1]}).create_v2_dto()),
        (lambda: local.log_table("x", {"a": [1, 2], "b": [1]}),
         lambda: TableMetric("x", {"a": [1, 2], "b": [1]}).create_v2_dto()),
        (lambda: local.log_image("x", path=str(text)),
         lambda: ImageMetric("x", str(text), None)._log_image(None, str(text), "o", "c")),
    ]
    for ours, theirs in pairs:
        assert error_of(ours) == error_of(theirs)


def test_a_list_over_the_service_limit_is_a_warning_and_dropped(
        local: localrun.LocalRun, capsys: pytest.CaptureFixture[str]) -> None:
    local.log_list("long", list(range(251)))
    assert "FieldName=MetricV2Dto.Value/Count, Limit=250, Size=251" in capsys.readouterr().err
    assert "long" not in local.get_metrics()


def test_hook_is_inert_outside_a_local_step() -> None:
    assert not runhook.is_local_step({"AZUREML_RUN_ID": "x", "MLFLOW_RUN_ID": "y",
                                      "MLFLOW_TRACKING_URI": "azureml://westeurope.api.azureml.ms/mlflow/v1.0/x"})
    assert not runhook.is_local_step({"AZUREML_RUN_ID": "x", "MLFLOW_RUN_ID": "y",
                                      "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
                                      "AZUREML_RUN_TOKEN": "t"})
    assert runhook.is_local_step({"AZUREML_RUN_ID": "x", "MLFLOW_RUN_ID": "y",
                                  "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})


def test_idle_timeout_comes_from_the_setting_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from azml.tracking.server import DEFAULT_IDLE, IDLE_VARIABLE, idle_seconds

    monkeypatch.delenv(IDLE_VARIABLE, raising=False)
    assert idle_seconds() == DEFAULT_IDLE
    assert idle_seconds("90") == 90.0  # AZML_TRACKING_IDLE=90 in .env
    monkeypatch.setenv(IDLE_VARIABLE, "120")
    assert idle_seconds() == 120.0 and idle_seconds("90") == 90.0
    assert idle_seconds("soon") == DEFAULT_IDLE and idle_seconds("0") == 1.0
