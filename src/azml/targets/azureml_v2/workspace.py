"""The AzureML workspace for SDK v2: an ``MLClient`` from config.json and a credential.

Same settings as the v1 target (``azml.workspace_config``): the nearest
``.azureml/config.json`` or ``--ws-config``; ``AZML_AUTH`` and the ``AZURE_*``
service principal variables. Credentials, in order:

1. a service principal (``ClientSecretCredential``) when ``AZURE_TENANT_ID``,
   ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET`` are all set;
2. the Azure CLI's login (``AzureCliCredential``) with ``AZML_AUTH=cli``;
3. a browser sign-in (``InteractiveBrowserCredential``) with ``AZML_AUTH=interactive``;
4. otherwise ``DefaultAzureCredential`` (environment, workload and managed identity,
   Azure CLI, Azure Developer CLI, PowerShell), as the azure-ai-ml samples do.

Creating the client sends nothing; the first request fetches a token. Clouds other than
Azure public come from the SDK's own ``ARM_CLOUD_METADATA_URL`` / ``AZUREML_CURRENT_CLOUD``
environment variables (which is also how the tests reach their local stand-in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from azml.errors import SettingsError
from azml.settings import Settings
from azml.targets.azureml_v2._sdk import error_text, require_sdk
from azml.workspace_config import WorkspaceConfig, auth_mode, find_config, read_config


@dataclass(frozen=True)
class Workspace:
    """An ``MLClient`` with the config.json it came from and the auth mode used."""

    client: Any
    config: WorkspaceConfig
    auth: str


def make_credential(settings: Settings, mode: str) -> Any:
    """The azure-identity credential for ``mode`` (no token is fetched yet)."""
    require_sdk("Connecting to the AzureML workspace")
    from azure.identity import (
        AzureCliCredential,
        ClientSecretCredential,
        DefaultAzureCredential,
        InteractiveBrowserCredential,
    )

    if mode == "service_principal":
        return ClientSecretCredential(tenant_id=settings.get("AZURE_TENANT_ID") or "",
                                      client_id=settings.get("AZURE_CLIENT_ID") or "",
                                      client_secret=settings.get("AZURE_CLIENT_SECRET") or "")
    if mode == "cli":
        return AzureCliCredential(process_timeout=60)
    if mode == "interactive":
        return InteractiveBrowserCredential()
    return DefaultAzureCredential()


def connect(settings: Settings, ws_config: str | os.PathLike[str] | None = None,
            auth: str | None = None) -> Workspace:
    """An ``MLClient`` for the workspace of config.json.

    Raises SettingsError for a missing or malformed config.json or bad auth settings.
    Nothing is sent until the client is used; :func:`check` asks the service.
    """
    config = read_config(find_config(ws_config, settings.base_dir))
    mode = auth_mode(settings, auth, default="default")
    credential = make_credential(settings, mode)
    from azure.ai.ml import MLClient

    client = MLClient(credential, config.subscription_id, config.resource_group,
                      config.workspace_name, show_progress=False, enable_telemetry=False)
    return Workspace(client, config, mode)


def check(workspace: Workspace, settings: Settings) -> Any:
    """The workspace entity, fetched: proves the config and the credential work."""
    try:
        return workspace.client.workspaces.get(workspace.config.workspace_name)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types here
        raise connection_error(workspace.config, workspace.auth, exc, settings) from None


def connection_error(config: WorkspaceConfig, mode: str, exc: Exception,
                     settings: Settings) -> SettingsError:
    """One sentence for an exception raised while reaching the workspace."""
    text = settings.redact(error_text(exc, 2000))
    name = type(exc).__name__
    where = f"workspace '{config.workspace_name}' (from {config.path})"
    if "Authentication" in name or "Credential" in name or "AADSTS" in text:
        advice = {"cli": "Run 'az login' and check the subscription with 'az account show'",
                  "service_principal": "Check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"}
        return SettingsError(where, "authentication failed",
                             advice.get(mode, "Run 'az login', or set AZML_AUTH=cli or a service principal"))
    if "ResourceNotFound" in name or "ResourceNotFound" in text or "was not found" in text:
        return SettingsError(where, f"not found in subscription {config.subscription_id}, "
                             f"resource group {config.resource_group}",
                             "Check the three fields of config.json against the Azure portal")
    if any(k in name for k in ("Connection", "Timeout", "ServiceRequest")):
        return SettingsError(where, "cannot be reached (no connection to Azure)",
                             "Check the network, proxy and firewall, then try again")
    short = text[:200] + ("..." if len(text) > 200 else "")
    return SettingsError(where, f"cannot be opened ({name}: {short})", "Check config.json and your credentials")
