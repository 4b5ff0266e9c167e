"""Arguments several commands share: ``--param``, the AzureML ``--target``/``--ws-config``
pair, and the whole-number types argparse checks."""

from __future__ import annotations

import argparse

#: What --target accepts: ``azure`` is AzureML SDK v1, ``azureml-v2`` SDK v2 (azure-ai-ml).
AZURE_TARGETS = ("azure", "azureml-v1", "azureml-v2")


def params(p: argparse.ArgumentParser) -> None:
    """``--param NAME=VALUE`` (repeatable): the pipeline parameter overrides."""
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a pipeline parameter (repeatable)")


def azure_options(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--target azureml-v1|azureml-v2`` and ``--ws-config`` of the commands that ask AzureML.

    Without a ``default``, the target is left to the id's shape (see :func:`azml.api.azure_target`).
    """
    what = "the AzureML SDK whose run or job the id is (default: v1 for a GUID, else v2)" \
        if default is None else f"AzureML SDK v1 or v2 (default {default})"
    p.add_argument("--target", choices=("azureml-v1", "azureml-v2"), default=default, help=what)
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML")


def natural(text: str) -> int:
    """A whole number >= 0 (``--tail``)."""
    return _at_least(text, 0)


def positive_int(text: str) -> int:
    """A whole number >= 1 (``--max-parallel``, ``--workers``, ``--version``)."""
    return _at_least(text, 1)


def _at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a number >= {least}, got {value}")
    return value
