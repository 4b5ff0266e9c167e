"""Model registration and run metrics on AzureML v1, against the service stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standin import StandIn


def test_register_model_sends_the_registration_request(
        standin: StandIn, workspace: Any, tmp_path: Path, stub_blob_upload: list[str]) -> None:
    from azml.targets.azureml_v1.models import register_model

    model = tmp_path / "outputs" / "model"
    model.mkdir(parents=True)
    (model / "model.pth").write_bytes(b"weights")
    (model / "config.yaml").write_text("a: 1\n")
    registered = register_model(workspace, str(model), "unet", tags={"source_run_id": "step-1"},
                                properties={"mIoU": "0.61"})
    (request,) = standin.calls_to("POST", "/models")
    assert request.body["name"] == "unet"
    assert request.body["kvTags"] == {"source_run_id": "step-1"}
    assert request.body["properties"] == {"mIoU": "0.61"}
    assert registered.name == "unet" and registered.version == 1
    uploaded = {"/".join(u.split("/")[-2:]) for u in stub_blob_upload}
    assert uploaded == {"model/model.pth", "model/config.yaml"}
