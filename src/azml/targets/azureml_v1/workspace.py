"""The AzureML workspace: config.json, credentials, and the connection.

Nothing here runs at import time, and azureml is imported inside functions.

Authentication, in order:

1. a service principal when ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and
   ``AZURE_CLIENT_SECRET`` are all set (and ``AZML_AUTH`` does not say otherwise);
2. the Azure CLI's login when ``AZML_AUTH=cli`` (or ``auth="cli"``): tokens come
   from ``az account get-access-token``;
3. otherwise the SDK's interactive login (a browser or device code), as
   ``Workspace.from_config`` does by default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from azml.targets.azureml_v1._sdk import CLOUD, error_text, require_sdk
from azml.errors import AzmlError, SettingsError
from azml.settings import Settings

AUTH_MODES = ("interactive", "cli", "service_principal")
SP_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
#: Set by AzureML inside its own jobs; when both are set the workspace is reached
#: through that discovery service, without Azure Resource Manager (as the SDK
#: does in a run's context).
DISCOVERY_VARIABLE = "AZUREML_DISCOVERY_SERVICE_ENDPOINT"
WORKSPACE_ID_VARIABLE = "AZUREML_WORKSPACE_ID"
_CONFIG_ADVICE = (
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

    Searches ``.azureml/config.json`` then ``config.json`` in the folder and its
    parents, like ``Workspace.from_config``.
    """
    start = Path(ws_config).expanduser() if ws_config else base_dir
    if not start.is_absolute():
        start = (base_dir / start).resolve()
    if start.is_file():
        return start
    if ws_config and not start.exists():
        raise SettingsError(str(start), "file not found", _CONFIG_ADVICE)
    for folder in (start, *start.parents):
        for candidate in (folder / ".azureml" / "config.json", folder / "config.json"):
            if candidate.is_file():
                return candidate
    raise SettingsError("config.json", f"no workspace configuration in {start} or its parents",
                        _CONFIG_ADVICE)


def read_config(path: Path) -> WorkspaceConfig:
    """The workspace fields of ``path``; SettingsError for bad JSON or missing fields."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(str(path), f"cannot be read ({exc.strerror or exc})", _CONFIG_ADVICE) from None
    except ValueError as exc:
        raise SettingsError(str(path), f"is not valid JSON ({exc})", _CONFIG_ADVICE) from None
    if not isinstance(data, dict):
        raise SettingsError(str(path), "is not a JSON object", _CONFIG_ADVICE)
    fields = ("subscription_id", "resource_group", "workspace_name")
    missing = [f for f in fields if not isinstance(data.get(f), str) or not data.get(f).strip()]
    if missing:
        raise SettingsError(str(path), f"missing {', '.join(missing)}", _CONFIG_ADVICE)
    return WorkspaceConfig(path, *(data[f].strip() for f in fields))


def auth_mode(settings: Settings, requested: str | None = None) -> str:
    """Which of :data:`AUTH_MODES` applies; SettingsError for a bad or partial setting."""
    raw = (requested or settings.get("AZML_AUTH") or "").strip().lower().replace("-", "_")
    aliases = {"sp": "service_principal", "serviceprincipal": "service_principal", "azure_cli": "cli"}
    mode = aliases.get(raw, raw)
    if mode and mode not in AUTH_MODES:
        raise SettingsError("AZML_AUTH", f"unknown value {raw!r}",
                            f"Use one of: {', '.join(AUTH_MODES)}")
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
    return mode or "interactive"


def make_auth(settings: Settings, mode: str) -> Any:
    """The SDK authentication object for ``mode`` (no token is fetched yet)."""
    require_sdk("Connecting to the AzureML workspace")
    from azureml.core.authentication import (
        InteractiveLoginAuthentication,
        ServicePrincipalAuthentication,
        TokenAuthentication,
    )

    if mode == "service_principal":
        return ServicePrincipalAuthentication(
            tenant_id=settings.get("AZURE_TENANT_ID"),
            service_principal_id=settings.get("AZURE_CLIENT_ID"),
            service_principal_password=settings.get("AZURE_CLIENT_SECRET"),
            cloud=CLOUD,
        )
    if mode == "cli":
        return TokenAuthentication(cli_token_getter(), cloud=CLOUD)
    return InteractiveLoginAuthentication(cloud=CLOUD)


def cli_token_getter() -> Callable[[str], str]:
    """A ``get_token_for_audience`` for TokenAuthentication backed by ``az``."""

    def get_token(audience: Any) -> str:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import AzureCliCredential, CredentialUnavailableError

        resource = str(getattr(audience, "value", audience)).rstrip("/")
        try:
            return AzureCliCredential(process_timeout=60).get_token(resource + "/.default").token
        except (CredentialUnavailableError, ClientAuthenticationError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SettingsError("Azure CLI login", f"no token ({first})",
                                "Install the Azure CLI and run 'az login'") from None

    return get_token


def connect(settings: Settings, ws_config: str | os.PathLike[str] | None = None,
            auth: str | None = None) -> Any:
    """The workspace of ``config.json``, checked with the service.

    Raises SettingsError with one sentence for a missing or malformed config,
    missing credentials, or a workspace that cannot be reached.
    """
    config = read_config(find_config(ws_config, settings.base_dir))
    mode = auth_mode(settings, auth)
    credentials = make_auth(settings, mode)
    discovery = settings.get(DISCOVERY_VARIABLE)
    try:
        if discovery and settings.get(WORKSPACE_ID_VARIABLE):
            return _workspace_from_discovery(config, credentials, discovery,
                                             settings.get(WORKSPACE_ID_VARIABLE) or "")
        from azureml.core import Workspace

        return Workspace(config.subscription_id, config.resource_group, config.workspace_name,
                         auth=credentials, _cloud=CLOUD)
    except AzmlError:
        raise
    except Exception as exc:  # the SDK raises many unrelated types here
        raise _connection_error(config, mode, exc, settings) from None


def _workspace_from_discovery(config: WorkspaceConfig, credentials: Any, discovery: str,
                              workspace_id: str) -> Any:
    from azureml._restclient.service_context import ServiceContext
    from azureml.core import Workspace

    context = ServiceContext(config.subscription_id, config.resource_group, config.workspace_name,
                             workspace_id, discovery, credentials)
    return Workspace._from_service_context(context, None)


def _connection_error(config: WorkspaceConfig, mode: str, exc: Exception,
                      settings: Settings) -> SettingsError:
    text = settings.redact(error_text(exc, 2000))
    name = type(exc).__name__
    where = f"workspace '{config.workspace_name}' (from {config.path})"
    if "Authentication" in name or "credential" in text.lower() or "AADSTS" in text:
        advice = {"cli": "Run 'az login' and check the subscription with 'az account show'",
                  "service_principal": "Check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"}
        return SettingsError(where, "authentication failed",
                             advice.get(mode, "Sign in again, or set AZML_AUTH=cli after 'az login'"))
    if "ResourceNotFound" in text or "was not found" in text or "WorkspaceNotFound" in text:
        return SettingsError(where, "not found in subscription "
                             f"{config.subscription_id}, resource group {config.resource_group}",
                             "Check the three fields of config.json against the Azure portal")
    if any(k in name for k in ("Connection", "Timeout")) or "Max retries" in text or "connect" in text.lower():
        return SettingsError(where, "cannot be reached (no connection to Azure)",
                             "Check the network, proxy and firewall, then try again")
    short = text[:200] + ("..." if len(text) > 200 else "")
    return SettingsError(where, f"cannot be opened ({name}: {short})",
                         "Check config.json and your credentials")
