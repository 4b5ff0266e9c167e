"""Workspace resources a submission needs: blob datastores and a named cluster.

Only called at submission time; both need the service.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO

from azml.config.model import ComputeSpec
from azml.errors import AzureServiceError, DatasetNotFoundError, SettingsError
from azml.settings import Settings
from azml.targets.azureml_v1._sdk import error_text, require_sdk

BLOB_VARIABLES = ("BLOB_ACCOUNT_NAME", "BLOB_CONTAINER_NAME", "BLOB_ACCOUNT_KEY")


def ensure_datastores(workspace: Any, names: Iterable[str], settings: Settings,
                      out: TextIO) -> dict[str, Any]:
    """Each named datastore, registered from the BLOB_* settings when it does not exist yet."""
    require_sdk("Registering the blob datastore")
    return {name: _ensure_datastore(workspace, name, settings, out) for name in names}


def _ensure_datastore(workspace: Any, name: str, settings: Settings, out: TextIO) -> Any:
    from azureml.core import Datastore

    try:
        store = Datastore.get(workspace, name)
        print(f"Using registered datastore '{name}'", file=out)
        return store
    except Exception as exc:  # the SDK reports "not found" as several exception types
        if not _is_not_found(exc):
            raise AzureServiceError(f"looking up datastore '{name}'", settings.redact(_first_line(exc))) from None
    missing = [v for v in BLOB_VARIABLES if not settings.get(v)]
    if missing:
        raise SettingsError(", ".join(missing), f"not set, and datastore '{name}' is not registered "
                            "in the workspace", "Set them in .env (see .env.example) so azml can "
                            "register the blob container, or register the datastore in the studio")
    try:
        store = Datastore.register_azure_blob_container(
            workspace=workspace,
            datastore_name=name,
            container_name=settings.get("BLOB_CONTAINER_NAME"),
            account_name=settings.get("BLOB_ACCOUNT_NAME"),
            account_key=settings.get("BLOB_ACCOUNT_KEY"),
            subscription_id=settings.get("BLOB_SUB_ID"),
        )
    except Exception as exc:
        raise AzureServiceError(f"registering datastore '{name}'", settings.redact(_first_line(exc)),
                                "Check BLOB_ACCOUNT_NAME, BLOB_CONTAINER_NAME and BLOB_ACCOUNT_KEY") from None
    print(f"Registered blob datastore '{name}' (account {settings.get('BLOB_ACCOUNT_NAME')}, "
          f"container {settings.get('BLOB_CONTAINER_NAME')})", file=out)
    return store


def get_datasets(workspace: Any, keys: Iterable[tuple[str, int | None]], settings: Settings,
                 out: TextIO) -> dict[tuple[str, int | None], Any]:
    """Each registered dataset ``(name, version)`` (None: the latest), looked up in the workspace.

    An unknown name or version is a DatasetNotFoundError naming it (exit 3).
    """
    require_sdk("Looking up registered datasets")
    from azml.targets.azureml_v1.parallel import silence_sdk_telemetry

    silence_sdk_telemetry()
    return {key: _get_dataset(workspace, key[0], key[1], settings, out) for key in keys}


def _get_dataset(workspace: Any, name: str, version: int | None, settings: Settings,
                 out: TextIO) -> Any:
    from azureml.core import Dataset

    try:
        found = Dataset.get_by_name(workspace, name, version=version if version is not None else "latest")
    except Exception as exc:  # the SDK reports "not found" as UserErrorException with the name
        text = error_text(exc, 2000)
        if _is_not_found(exc) or "Cannot find dataset" in text:
            raise DatasetNotFoundError(name, version, where=f"workspace '{workspace.name}'") from None
        raise AzureServiceError(f"looking up dataset '{name}'", settings.redact(_first_line(exc))) from None
    if type(found).__name__ != "FileDataset":
        raise SettingsError(f"dataset '{name}'", f"is a {type(found).__name__}, not a FileDataset",
                            "Only file datasets can be mounted or downloaded as a step input")
    print(f"Using dataset '{name}' version {found.version}", file=out)
    return found


def ensure_cluster(workspace: Any, spec: ComputeSpec, node_count: int, out: TextIO) -> Any:
    """The persistent AmlCompute cluster ``spec.cluster_name``: reused, or created and awaited."""
    require_sdk("Creating the compute cluster")
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.core.compute_target import ComputeTargetException

    name = spec.cluster_name
    try:
        target = ComputeTarget(workspace=workspace, name=name)
        print(f"Using compute cluster '{name}'", file=out)
        return target
    except ComputeTargetException:
        pass
    max_nodes = cluster_max_nodes(spec.max_nodes, node_count)
    config = AmlCompute.provisioning_configuration(
        vm_size=spec.vm_size, vm_priority=spec.priority or "dedicated",
        min_nodes=spec.min_nodes or 0, max_nodes=max_nodes)
    print(f"Creating compute cluster '{name}' ({spec.vm_size}, {spec.min_nodes or 0}-{max_nodes} nodes)",
          file=out)
    try:
        target = ComputeTarget.create(workspace, name, config)
        target.wait_for_completion(show_output=False, timeout_in_minutes=20)
    except Exception as exc:
        raise AzureServiceError(f"creating compute cluster '{name}'", _first_line(exc),
                                "Check the VM size and the workspace's GPU quota (docs/azure.md)") from None
    return target


def _is_not_found(exc: Exception) -> bool:
    text = error_text(exc, 2000).lower()
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status == 404 or "not found" in text or "notfound" in text or "404" in text


def _first_line(exc: Exception) -> str:
    return error_text(exc)


def cluster_max_nodes(max_nodes: int | None, node_count: int) -> int:
    """The scale limit of a cluster azml creates: the setting, but never below the job's nodes."""
    return max(max_nodes or 0, node_count, 1)
