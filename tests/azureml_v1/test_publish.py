"""Publish and schedule on AzureML v1 against the stand-in, with the requests the SDK sends."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import FIXTURES
from standin import StandIn

FANIN = FIXTURES / "azure" / "fanin"
SECRET = "c2VjcmV0LWtleQ=="


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch, standin_settings: Any) -> Any:
    from azml.loading import load

    monkeypatch.chdir(FANIN)
    for key, value in {"BLOB_ACCOUNT_NAME": "acct", "BLOB_CONTAINER_NAME": "data",
                       "BLOB_ACCOUNT_KEY": SECRET}.items():
        monkeypatch.setenv(key, value)
    return load(FANIN / "pipeline_config.json")


def test_publish_to_a_new_then_an_existing_endpoint(standin: StandIn, loaded: Any, workspace: Any,
                                                    stub_blob_upload: list[str]) -> None:
    from azml.targets.azureml_v1.publish import publish

    out = io.StringIO()
    first = publish(loaded.plan, loaded.settings, workspace, name="fanin", endpoint="fanin-ep", out=out)
    (created,) = standin.calls_to("POST", "/Pipelines/Create")
    assert created.body["Name"] == "fanin" and created.body["ContinueRunOnStepFailure"] is False
    assert [p["Name"] for p in created.body["GraphInterface"]["Parameters"]] == ["epochs"]
    (endpoint,) = standin.state["pipeline_endpoints"].values()
    assert first["rest_endpoint"] == endpoint["Url"] and first["rest_endpoint"].endswith(
        f"/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint['Id']}")
    assert first["version"] == "0" and first["parameters"] == {"epochs": 3}
    assert '"ParameterAssignments": {"epochs": 3}' in first["example"]
    assert '"PipelineVersion": "0"' in first["example"] and "Authorization: Bearer" in first["example"]

    second = publish(loaded.plan, loaded.settings, workspace, name="fanin", endpoint="fanin-ep", out=out)
    (update,) = standin.calls_to("PUT", f"/PipelineEndpoints/{endpoint['Id']}")
    versions = {v["Version"]: v["PipelineId"] for v in update.body["PipelineVersionList"]}
    assert versions == {"0": first["pipeline_id"], "1": second["pipeline_id"]}
    assert update.body["DefaultVersion"] == "1" and second["version"] == "1"
    assert SECRET not in out.getvalue() + repr(first) + repr(second)


def test_publish_without_endpoint_gives_the_pipeline_url(standin: StandIn, loaded: Any, workspace: Any,
                                                         stub_blob_upload: list[str]) -> None:
    from azml.targets.azureml_v1.publish import publish

    record = publish(loaded.plan, loaded.settings, workspace, name="fanin", out=io.StringIO())
    assert record["rest_endpoint"].endswith(f"/PipelineRuns/PipelineSubmit/{record['pipeline_id']}")
    assert record["endpoint"] is None and "PipelineVersion" not in record["example"]


def test_schedule_every_day_list_and_unschedule(standin: StandIn, loaded: Any, workspace: Any,
                                                stub_blob_upload: list[str]) -> None:
    from azml.cron import parse_every
    from azml.targets.azureml_v1.publish import list_schedules, schedule, unschedule

    made = schedule(loaded.plan, loaded.settings, workspace, name="nightly", experiment="fanin",
                    every=parse_every("1d"), out=io.StringIO())
    (created,) = standin.calls_to("POST", "/Schedules/Create")
    assert created.body["Recurrence"]["Frequency"] == "Day" and created.body["Recurrence"]["Interval"] == 1
    assert created.body["PipelineId"] == made["published"]["pipeline_id"]
    assert created.body["PipelineSubmissionInfo"]["ExperimentName"] == "fanin"
    assert made["recurrence"] == "every 1 day" and made["status"] == "Active"
    assert [s["name"] for s in list_schedules(workspace)] == ["nightly"]
    disabled = unschedule(workspace, "nightly")
    assert disabled["status"] == "Disabled" and disabled["id"] == made["id"]
    assert list_schedules(workspace) == []
    assert [s["status"] for s in list_schedules(workspace, active_only=False)] == ["Disabled"]


def test_cron_maps_to_a_week_recurrence_on_the_endpoint(standin: StandIn, loaded: Any, workspace: Any,
                                                        stub_blob_upload: list[str]) -> None:
    from azml.cron import parse_cron
    from azml.targets.azureml_v1.publish import schedule

    made = schedule(loaded.plan, loaded.settings, workspace, name="weekdays", experiment="fanin",
                    cron=parse_cron("30 2 * * 1-5"), endpoint="fanin-ep", out=io.StringIO())
    (created,) = standin.calls_to("POST", "/Schedules/Create")
    assert created.body["PipelineEndpointId"] == made["published"]["endpoint_id"]
    assert created.body["Recurrence"]["Frequency"] == "Week"
    assert created.body["Recurrence"]["Schedule"] == {
        "Hours": [2], "Minutes": [30], "WeekDays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]}
    assert made["recurrence"] == "every 1 week on Monday, Tuesday, Wednesday, Thursday, Friday at 02:30"


def test_cron_v1_cannot_express_is_refused_before_any_request(standin: StandIn, loaded: Any,
                                                              workspace: Any) -> None:
    from azml.cron import parse_cron
    from azml.errors import UsageError
    from azml.targets.azureml_v1.publish import schedule

    with pytest.raises(UsageError, match="has no AzureML v1 equivalent.*days of the month"):
        schedule(loaded.plan, loaded.settings, workspace, name="monthly", experiment="fanin",
                 cron=parse_cron("0 2 1 * *"), out=io.StringIO())
    assert not standin.calls_to("POST", "/Pipelines/Create") and not standin.calls_to("POST", "/Modules")


def test_unknown_schedule_names_what_exists(standin: StandIn, workspace: Any) -> None:
    from azml.errors import ScheduleNotFoundError
    from azml.targets.azureml_v1.publish import unschedule

    with pytest.raises(ScheduleNotFoundError, match="no schedule named or with id 'nope' in workspace "
                       "'azml-ws' .there are none."):
        unschedule(workspace, "nope")
