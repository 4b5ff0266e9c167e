"""YAML experiment configs with yacs-style ``KEY VALUE`` overrides.

A config is a nested mapping with upper-case keys (``TRAIN.END_EPOCH``...).
Overrides come from the command line as a flat list of pairs, e.g.
``["TRAIN.END_EPOCH", "3", "TRAIN.BATCH_SIZE_PER_GPU", "16"]``. Each key must
already exist in the file; the value is cast to the type of the value it
replaces (so ``"3"`` becomes ``3`` for an int setting and ``"0.5"`` a float).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ConfigError(ValueError):
    """A config file or an override is invalid."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file whose top level is a mapping.

    Raises:
        ConfigError: if the file is missing, is not YAML or not a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    return data


def cast_value(text: str, current: Any, key: str) -> Any:
    """Convert an override's text to the type of the value it replaces.

    Args:
        text: the override as given on the command line.
        current: the existing value (its type decides the conversion).
        key: the dotted key, for error messages.

    Raises:
        ConfigError: if the text cannot be read as that type.
    """
    try:
        if isinstance(current, bool):
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError("expected true/false")
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, str):
            return text
        value = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = type(current).__name__
        raise ConfigError(f"override {key}={text!r}: not a valid {kind} ({exc})") from exc
    if current is not None and not isinstance(value, type(current)):
        raise ConfigError(f"override {key}={text!r}: expected a {type(current).__name__}")
    return value


def set_by_key(config: dict[str, Any], key: str, text: str) -> None:
    """Apply one override in place.

    Raises:
        ConfigError: if the key does not exist or names a section.
    """
    node: Any = config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            known = sorted(node) if isinstance(node, dict) else []
            where = ".".join(parts[:depth]) or "top level"
            raise ConfigError(f"unknown config key {key!r} ({part!r} not in {where}; "
                              f"known: {', '.join(known)})")
        if depth == len(parts) - 1:
            if isinstance(node[part], dict):
                raise ConfigError(f"config key {key!r} is a section, not a value")
            node[part] = cast_value(text, node[part], key)
        else:
            node = node[part]


def merge_overrides(config: dict[str, Any], opts: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``config`` with ``KEY VALUE`` pairs applied.

    Args:
        config: the loaded config (left unchanged).
        opts: flat list ``[KEY1, VALUE1, KEY2, VALUE2, ...]``.

    Raises:
        ConfigError: on an odd-length list, a flag-like key or a bad override.
    """
    if len(opts) % 2:
        raise ConfigError(f"overrides must be KEY VALUE pairs, got an odd list: {list(opts)}")
    merged = copy.deepcopy(config)
    for key, value in zip(opts[::2], opts[1::2], strict=True):
        if key.startswith("-"):
            raise ConfigError(f"unrecognised argument {key!r}")
        set_by_key(merged, key, value)
    return merged


def load_config(path: str | Path, opts: Sequence[str] = ()) -> dict[str, Any]:
    """Load a YAML config and apply command-line overrides."""
    return merge_overrides(load_yaml(path), opts)


def get(config: dict[str, Any], key: str) -> Any:
    """Read a dotted key, e.g. ``get(cfg, "TRAIN.END_EPOCH")``."""
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node
