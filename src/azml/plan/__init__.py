"""The plan: a DAG of steps, each carrying everything it receives on every target.

:func:`build_plan` turns a validated config into a :class:`Plan`. Each
:class:`PlannedStep` holds its argv tokens, input and output bindings with the
names AzureML v1 and v2 give them, its environment (image, Python, pip lines,
what each target adds), its compute request and its order edges. The targets
(local, AzureML v1, AzureML v2) translate a plan; none of them re-derives a name,
a binding or a requirement.
"""

from __future__ import annotations

from azml.config.arguments import (
    Arg,
    InputArg,
    LiteralArg,
    OutputArg,
    ParameterArg,
    parse_argument,
)
from azml.plan.build import (
    build_plan,
    coerce_parameter,
    parse_parameter_overrides,
    render_parameter,
)
from azml.plan.compute import ComputeRequest
from azml.plan.contract import (
    ORDER_INPUT_PREFIX,
    ORDER_OUTPUT,
    Edge,
    InputBinding,
    OutputBinding,
    Variable,
    azureml_asset_uri,
    node_name,
)
from azml.plan.environment import EnvironmentSpec, Flavor
from azml.plan.model import Plan, PlannedStep
from azml.plan.requirements import Requirements, read_requirements

__all__ = [
    "ORDER_INPUT_PREFIX", "ORDER_OUTPUT",
    "Arg", "ComputeRequest", "Edge", "EnvironmentSpec", "Flavor", "InputArg", "InputBinding",
    "LiteralArg", "OutputArg", "OutputBinding", "ParameterArg", "Plan", "PlannedStep",
    "Requirements", "Variable", "azureml_asset_uri", "build_plan", "coerce_parameter", "node_name", "parse_argument",
    "parse_parameter_overrides", "read_requirements", "render_parameter",
]
