"""Makes ``azureml.core.Run.get_context()`` return the local run in a local azml step.

Installed into a step environment's site-packages by :func:`azml.runtime.install_hook`
(as the package ``_azml_runtime`` and the file ``azml_runhook.pth``). At interpreter
start the ``.pth`` line calls :func:`activate` when ``MLFLOW_RUN_ID`` is set;
:func:`activate` checks, from the variables AzureML itself sets, that this is a
*local* azml step (the tracking URI is a loopback ``http://`` address, where AzureML
gives ``azureml://``, and there is no ``AZUREML_RUN_TOKEN``), then adds an import hook:
when ``azureml.core.run`` is first imported, its ``Run.get_context`` is replaced.

Nothing else changes: without azureml-core in the environment,
``from azureml.core import Run`` fails exactly as it would on AzureML, and the
user's script is not touched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

TARGET = "azureml.core.run"
LOCAL_PREFIXES = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")


def is_local_step(environ: Mapping[str, str] = os.environ) -> bool:
    """True inside a step that a local azml run started (never on AzureML)."""
    uri = environ.get("MLFLOW_TRACKING_URI", "")
    return bool(environ.get("AZUREML_RUN_ID") and environ.get("MLFLOW_RUN_ID")
                and uri.startswith(LOCAL_PREFIXES) and not environ.get("AZUREML_RUN_TOKEN"))


def activate(environ: Mapping[str, str] = os.environ) -> bool:
    """Install the import hook when this is a local azml step; True when installed."""
    if not is_local_step(environ):
        return False
    module = sys.modules.get(TARGET)
    if module is not None:
        patch(module)
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True


def patch(module: Any) -> None:
    """Replace ``module.Run.get_context`` (once) with the local run's."""
    from . import localrun

    run_class = module.Run
    original = run_class.__dict__.get("get_context")
    if original is None or getattr(original.__func__, "__wrapped__", None) is not None:
        return
    run_class.get_context = classmethod(localrun.get_context_replacement(original.__func__))


class _Finder:
    """A meta path finder that only wraps the loading of ``azureml.core.run``."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None and spec.loader is not None:
                _wrap_loader(spec.loader)
                return spec
        return None


def _wrap_loader(loader: Any) -> None:
    execute = loader.exec_module

    def exec_module(module: Any) -> None:
        execute(module)
        patch(module)

    loader.exec_module = exec_module
