"""The AzureML workspace: config.json, credentials, and the connection.

Nothing here runs at import time, and azureml is imported inside functions.
config.json and the auth settings are read by :mod:`azml.workspace_config`, which
the SDK v2 target shares, so switching SDKs changes neither.

Authentication, in order:

1. a service principal when ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and
   ``AZURE_CLIENT_SECRET`` are all set (and ``AZML_AUTH`` does not say otherwise);
2. the Azure CLI's login when ``AZML_AUTH=cli`` (or ``auth="cli"``): tokens come
   from ``az account get-access-token``;
3. otherwise the SDK's interactive login (a browser or device code), as
   ``Workspace.from_config`` does by default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from azml.errors import AzmlError, SettingsError
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import CLOUD, error_text, require_sdk
from azml.workspace_config import (
    AUTH_MODES,
    SP_VARIABLES,
    WorkspaceConfig,
    find_config,
    read_config,
)
from azml.workspace_config import auth_mode as shared_auth_mode

__all__ = ["AUTH_MODES", "SP_VARIABLES", "WorkspaceConfig", "auth_mode", "cli_token_getter",
           "connect", "find_config", "make_auth", "read_config"]

#: Set by AzureML inside its own jobs; when both are set the workspace is reached
#: through that discovery service, without Azure Resource Manager (as the SDK
#: does in a run's context).
DISCOVERY_VARIABLE = "AZUREML_DISCOVERY_SERVICE_ENDPOINT"
WORKSPACE_ID_VARIABLE = "AZUREML_WORKSPACE_ID"


def auth_mode(settings: Settings, requested: str | None = None) -> str:
    """Which of :data:`~azml.workspace_config.AUTH_MODES` applies (interactive unless set).

    The rule is the one both SDK targets share (:func:`azml.workspace_config.auth_mode`);
    ``default`` (DefaultAzureCredential, SDK v2's default) is interactive login here.
    """
    mode = shared_auth_mode(settings, requested, default="interactive")
    return "interactive" if mode == "default" else mode


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
            return str(AzureCliCredential(process_timeout=60).get_token(resource + "/.default").token)
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
