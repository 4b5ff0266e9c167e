"""The one place that checks azureml is importable.

Modules of ``azml.targets.azureml_v1`` that need the SDK import it inside their functions,
after :func:`require_sdk`, so ``import azml.targets.azureml_v1`` stays free of azureml.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

from azml.errors import MissingDependencyError

#: The cloud whose endpoints the SDK uses. Naming it keeps the SDK from
#: downloading the cloud list from Azure Resource Manager.
CLOUD = "AzureCloud"


def require_sdk(purpose: str = "Building the AzureML pipeline") -> None:
    """Raise MissingDependencyError unless azureml-core and the pipeline packages import."""
    for module, package in (
        ("azureml.core", "azureml-core"),
        ("azureml.pipeline.core", "azureml-pipeline-core"),
        ("azureml.pipeline.steps", "azureml-pipeline-steps"),
    ):
        try:
            __import__(module)
        except ImportError:
            raise MissingDependencyError(package, "azure", purpose) from None
    # The SDK logs deprecation notices (MpiStep, run-based compute) at WARNING level
    # through the root logger; azml prints its own account of what it builds.
    logging.getLogger("azureml").setLevel(logging.ERROR)
    # azure-identity logs a failed token request as a WARNING on stderr; azml says it once.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Swallow what the SDK prints to stdout (its deprecation banners)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def error_text(exc: BaseException, limit: int = 300) -> str:
    """One line describing an SDK exception (some SDK exceptions fail in ``str()``)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            text = str(current)
        except Exception:
            text = ""
        if not text:
            text = str(getattr(current, "message", "") or "")
        if text and text not in parts:
            parts.append(text)
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    line = " ".join(" ".join(parts).split()) or type(exc).__name__
    return line[:limit]
