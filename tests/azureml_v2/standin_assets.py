"""v2 stand-in routes for registered data assets and models (what ``submit`` looks up).

Requests are the ones azure-ai-ml 1.35 sends for ``MLClient.data.get(name, version=V)``
(``GET .../data/NAME/versions/V``), ``data.get(name, label="latest")`` (``GET
.../data/NAME``, the container, whose ``latestVersion`` names the version, then that
version), ``models.get(name, version=V)`` and ``models.get(name, label="latest")``
(``GET .../models/NAME/versions?$orderBy=createdtime desc&$top=1``, a page of versions
newest first). Shapes: the REST specification's examples (Azure/azure-rest-api-specs,
machinelearningservices stable/2024-04-01 ``examples/Workspace/DataContainer/list.json``,
``DataVersionBase/get.json``: an ARM resource whose ``properties`` hold ``dataType`` and
``dataUri``; a list is ``{"value": [...]}``); ``latestVersion`` is the container's
read-only field (``arm_ml_service`` models in azure-ai-ml).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.azureml_v2._server import Call, Reply

#: The REST resource kind of each asset type, and its version's own fields.
KINDS = {"data": ("dataType", "dataUri"), "models": ("modelType", "modelUri")}


def install_assets(svc: Any, st: dict[str, dict[str, Any]], ws: str, arm: Any, not_found: Any) -> None:
    """Add GET routes for the containers and versions of ``st["data"]`` and ``st["models"]``."""
    for kind in KINDS:
        st.setdefault(kind, {})
        _install_kind(svc, st[kind], ws, kind, arm, not_found)


def add_asset(st: dict[str, dict[str, Any]], kind: str, name: str, versions: list[str],
              asset_type: str, uri: str) -> None:
    """Register ``name`` with ``versions`` (the last is the latest) of ``asset_type`` at ``uri``."""
    type_field, uri_field = KINDS[kind]
    extra = {"flavors": {}, "jobName": None, "stage": None} if kind == "models" else {}
    st[kind][name] = {v: {type_field: asset_type, uri_field: uri, "isAnonymous": False,
                          "isArchived": False, "description": None, "tags": {}, "properties": {},
                          **extra} for v in versions}


def _install_kind(svc: Any, assets: dict[str, dict[str, Any]], ws: str, kind: str,
                  arm: Any, not_found: Any) -> None:
    type_field = KINDS[kind][0]

    @svc.route("GET", ws + rf"/{kind}/(?P<name>[^/]+)")
    def get_container(call: Call, name: str, **_: str) -> Reply:
        versions = assets.get(name)
        if not versions:
            return not_found(f"{kind} container {name}")
        latest = list(versions)[-1]
        return Reply(200, arm(kind, name, None, {
            type_field: versions[latest][type_field], "isArchived": False, "description": None,
            "tags": {}, "properties": {}, "latestVersion": latest,
            "nextVersion": str(int(latest) + 1) if latest.isdigit() else None}))

    @svc.route("GET", ws + rf"/{kind}/(?P<name>[^/]+)/versions")
    def list_versions(call: Call, name: str, **_: str) -> Reply:
        versions = list((assets.get(name) or {}).items())[::-1]  # newest first
        if call.query.get("$orderBy") not in (None, ["createdtime desc"]):
            return Reply(400, {"error": {"code": "UserError", "message": "unsupported $orderBy"}})
        top = int((call.query.get("$top") or [len(versions)])[0])
        return Reply(200, {"value": [arm(kind, name, v, copy.deepcopy(body)) for v, body in versions[:top]]})

    @svc.route("GET", ws + rf"/{kind}/(?P<name>[^/]+)/versions/(?P<version>[^/]+)")
    def get_version(call: Call, name: str, version: str, **_: str) -> Reply:
        found = (assets.get(name) or {}).get(version)
        if found is None:
            return not_found(f"{kind} {name}:{version}")
        return Reply(200, arm(kind, name, version, copy.deepcopy(found)))
