"""Workspace settings shared by the AzureML targets: config.json and the auth mode.

Nothing here imports an Azure SDK. Both targets read the same ``.azureml/config.json``
(searched like ``Workspace.from_config``) and the same ``AZML_AUTH`` /
``AZURE_TENANT_ID`` / ``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` settings, so a user
switches SDKs without touching either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from azml.errors import NoWorkspaceError, SettingsError
from azml.settings import Settings

AUTH_MODES = ("interactive", "cli", "service_principal", "default")
SP_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
CONFIG_ADVICE = (
    "Download config.json from the workspace's overview page in Azure Machine Learning "
    "studio into .azureml/config.json, or pass its path with --ws-config"
)


@dataclass(frozen=True)
class WorkspaceConfig:
    """The three fields of a workspace's config.json."""

    path: Path
    subscription_id: str
    resource_group: str
    workspace_name: str


def find_config(ws_config: str | os.PathLike[str] | None, base_dir: Path) -> Path:
    """The config.json to use: ``ws_config`` (a file or folder) or the nearest one.

    Searches ``.azureml/config.json`` then ``config.json`` in the folder and its parents.
    """
    start = Path(ws_config).expanduser() if ws_config else base_dir
    if not start.is_absolute():
        start = (base_dir / start).resolve()
    if start.is_file():
        return start
    if ws_config and not start.exists():
        raise SettingsError(str(start), "file not found", CONFIG_ADVICE)
    for folder in (start, *start.parents):
        for candidate in (folder / ".azureml" / "config.json", folder / "config.json"):
            if candidate.is_file():
                return candidate
    raise NoWorkspaceError("config.json", f"no workspace configuration in {start} or its parents",
                           CONFIG_ADVICE)


def read_config(path: Path) -> WorkspaceConfig:
    """The workspace fields of ``path``; SettingsError for bad JSON or missing fields."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(str(path), f"cannot be read ({exc.strerror or exc})", CONFIG_ADVICE) from None
    except ValueError as exc:
        raise SettingsError(str(path), f"is not valid JSON ({exc})", CONFIG_ADVICE) from None
    if not isinstance(data, dict):
        raise SettingsError(str(path), "is not a JSON object", CONFIG_ADVICE)
    fields = ("subscription_id", "resource_group", "workspace_name")
    missing = [f for f in fields if not isinstance(data.get(f), str) or not data[f].strip()]
    if missing:
        raise SettingsError(str(path), f"missing {', '.join(missing)}", CONFIG_ADVICE)
    return WorkspaceConfig(path, *(data[f].strip() for f in fields))


def auth_mode(settings: Settings, requested: str | None = None, *, default: str = "interactive") -> str:
    """Which of :data:`AUTH_MODES` applies; SettingsError for a bad or partial setting.

    A service principal is used when all three ``AZURE_*`` variables are set and
    ``AZML_AUTH`` does not say otherwise; with nothing set the answer is ``default``
    (``interactive`` for SDK v1, ``default`` = DefaultAzureCredential for SDK v2).
    """
    raw = (requested or settings.get("AZML_AUTH") or "").strip().lower().replace("-", "_")
    aliases = {"sp": "service_principal", "serviceprincipal": "service_principal", "azure_cli": "cli"}
    mode = aliases.get(raw, raw)
    if mode and mode not in AUTH_MODES:
        raise SettingsError("AZML_AUTH", f"unknown value {raw!r}", f"Use one of: {', '.join(AUTH_MODES)}")
    present = [v for v in SP_VARIABLES if settings.get(v)]
    if mode in ("", "service_principal") and present:
        missing = [v for v in SP_VARIABLES if v not in present]
        if missing:
            raise SettingsError(", ".join(missing), "not set, but the other service principal "
                                "variables are", "Set all three of " + ", ".join(SP_VARIABLES)
                                + " in the environment or .env, or none of them")
        return "service_principal"
    if mode == "service_principal":
        raise SettingsError(", ".join(SP_VARIABLES), "not set, but AZML_AUTH asks for a service "
                            "principal", "Set the three variables in the environment or .env")
    return mode or default
