"""Shared by the executor and guard tests: a ``python -c`` job and waiting for its end."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azml.targets.local.executor import Job, ProcessExecutor


def python_job(tmp_path: Path, code: str, marker: str, base_env: Mapping[str, str]) -> Job:
    """A step ``python -c CODE`` whose run id (``AZUREML_RUN_ID``) is ``marker``."""
    env = {**base_env, "AZUREML_RUN_ID": marker, "PYTHONUNBUFFERED": "1"}
    return Job("s", marker, [sys.executable, "-c", code], tmp_path, env, tmp_path / "log.txt")


def wait_for_exit(executor: ProcessExecutor, handle: Any, timeout: float = 20.0) -> int:
    """The step's exit code; AssertionError when it has not ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = executor.poll(handle)
        if code is not None:
            return code
        executor.wait([handle], 0.05)
    raise AssertionError(f"the step did not end within {timeout} s")
