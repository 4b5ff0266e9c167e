"""The one place that checks azure-ai-ml is importable, and quiets it.

Modules of ``azml.targets.azureml_v2`` import ``azure.ai.ml`` inside functions, after
:func:`require_sdk`, so importing the package costs nothing: ``import azure.ai.ml``
alone takes 1.5-3 s (measured, azure-ai-ml 1.35.2 on 2 shared cores).
"""

from __future__ import annotations

import logging
import warnings

from azml.errors import MissingDependencyError


def require_sdk(purpose: str = "Building the AzureML v2 pipeline job") -> None:
    """Raise MissingDependencyError (extra ``v2``) unless azure-ai-ml and azure-identity import."""
    for module, package in (("azure.ai.ml", "azure-ai-ml"), ("azure.identity", "azure-identity")):
        try:
            __import__(module)
        except ImportError:
            raise MissingDependencyError(package, "v2", purpose) from None
    # The SDK announces its experimental classes and its telemetry through logging and
    # warnings; azml prints its own account of what it builds and submits.
    for name in ("azure.ai.ml", "azure.identity", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"azure\.ai\.ml.*")


def error_text(exc: BaseException, limit: int = 300) -> str:
    """One line describing an SDK exception: its message, or its type when it has none."""
    text = ""
    try:
        text = str(getattr(exc, "message", "") or exc)
    except Exception:  # noqa: BLE001 -- some SDK exceptions fail in str()
        text = ""
    line = " ".join(text.split()) or type(exc).__name__
    return line[:limit]
