"""Write a PipelineJob as the YAML ``az ml job create`` and studio accept; read it back.

The YAML is the SDK's own serialisation (``PipelineJob._to_dict()``, what ``job.dump``
writes) with two changes so the file can move with the project: each node's ``code``
(a parallel node's ``task.code``, on the node and in its component) is written
relative to the YAML file's folder (``load_job`` resolves relative paths
against it), and the ``$schema`` line of the pipeline job schema is added. Written
atomically: a temporary file in the same folder, then ``os.replace``.

Loading needs no network: ``azure.ai.ml.load_job`` only parses and validates locally.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from azml.errors import UsageError
from azml.targets.azureml_v2._sdk import error_text, require_sdk

SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"


def job_yaml(job: Any, folder: Path) -> str:
    """The YAML text of ``job`` with code paths relative to ``folder``."""
    require_sdk("Writing the pipeline job as YAML")
    import yaml  # type: ignore[import-untyped,unused-ignore]  # azure-ai-ml depends on PyYAML

    data = job._to_dict()
    for node in (data.get("jobs") or {}).values():
        component = node.get("component")
        holders = [component, node.get("task"),
                   component.get("task") if isinstance(component, dict) else None]
        for holder in holders:
            if isinstance(holder, dict) and holder.get("code"):
                holder["code"] = _relative(Path(str(holder["code"])), folder)
    text: str = yaml.safe_dump({"$schema": SCHEMA, **data}, sort_keys=False, allow_unicode=True, width=100)
    return text


def dump_job(job: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``job`` to ``path`` as YAML (atomically); returns the resolved path."""
    target = Path(os.path.expanduser(path)).resolve()
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name such as {target / 'pipeline.yml'}")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: folder {target.parent} does not exist")
    text = job_yaml(job, target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_job_file(path: str | os.PathLike[str]) -> Any:
    """The PipelineJob in a YAML file (offline); UsageError with the SDK's reason if invalid."""
    require_sdk("Reading a pipeline job YAML")
    from azure.ai.ml import load_job

    try:
        return load_job(source=str(path))
    except Exception as exc:  # noqa: BLE001 -- ValidationException, ValidationError, YAML errors
        raise UsageError(f"{path}: not a valid AzureML pipeline job ({error_text(exc)})") from None


def _relative(code: Path, folder: Path) -> str:
    """``code`` relative to ``folder`` (POSIX separators), or absolute on another drive."""
    try:
        return Path(os.path.relpath(code.resolve(), folder.resolve())).as_posix()
    except ValueError:
        return code.resolve().as_posix()
