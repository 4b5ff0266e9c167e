"""Settings, validated config and plan, loaded together: the one way both the
CLI (:mod:`azml.api`) and the Python façade (:class:`azml.BasePipeline`) start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from azml.config import PipelineConfig, load_config
from azml.config.model import ParamValue
from azml.plan import Plan, build_plan, parse_parameter_overrides
from azml.settings import Settings, load_settings


@dataclass(frozen=True)
class Loaded:
    """A validated config, the settings it runs under, the ``--param`` values and the plan."""

    config: PipelineConfig
    settings: Settings
    overrides: Mapping[str, ParamValue]
    plan: Plan

    def replan(self, values: Mapping[str, ParamValue]) -> Plan:
        """The plan with ``values`` applied over the loaded overrides."""
        return build_plan(self.config, parameter_values={**self.overrides, **values},
                          compute_defaults=self.settings.compute_defaults())


def load(
    config_path: str | os.PathLike[str],
    *,
    env_file: str | os.PathLike[str] | None = None,
    params: Sequence[str] = (),
) -> Loaded:
    """Load settings and config, apply ``--param`` overrides (``NAME=VALUE``), and plan."""
    settings = load_settings(env_file)
    config = load_config(config_path, base_dir=settings.base_dir)
    values = parse_parameter_overrides(params, config)
    plan = build_plan(config, parameter_values=values, compute_defaults=settings.compute_defaults())
    return Loaded(config, settings, values, plan)
