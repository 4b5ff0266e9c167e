"""Helpers for the local backend's unit tests: plans built from small config dicts."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from azml.config import load_config
from azml.plan import Plan, build_plan, parse_parameter_overrides


@pytest.fixture
def make_plan(tmp_path: Path) -> Callable[..., Plan]:
    """Plan a config dict whose scripts live in ``tmp_path/src``."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)

    def make(doc: dict[str, Any], params: tuple[str, ...] = ()) -> Plan:
        for key, step in doc.items():
            if key not in ("parameters", "defaults") and "script" in step:
                (src / step["script"]).write_text("print('hi')\n")
        path = tmp_path / "pipeline_config.json"
        path.write_text(json.dumps(doc))
        config = load_config(path, base_dir=tmp_path)
        return build_plan(config, parameter_values=parse_parameter_overrides(params, config))

    return make


_NAMES = itertools.count(1)


def step(**fields: Any) -> dict[str, Any]:
    """A step with a name of its own (AzureML needs unique step names)."""
    return {"type": "PythonScriptStep", "name": f"s{next(_NAMES)}", "script": "s.py",
            "source_directory": "src", **fields}
