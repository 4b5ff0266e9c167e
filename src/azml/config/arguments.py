"""Typed argument tokens: what each entry of a step's ``arguments`` means.

Placeholders (``${{inputs.NAME}}``, ``${{outputs.NAME}}``, ``${{parameters.NAME}}``)
must each be a whole argument, as AzureML v1 passes a data reference, pipeline
data or pipeline parameter as an argument of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ``${{inputs.x}}``, ``${{outputs.x}}``, ``${{parameters.x}}``, as a whole argument.
PLACEHOLDER = re.compile(r"^\$\{\{\s*(inputs|outputs|parameters)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
#: Any placeholder-looking text, to reject ones embedded in a longer argument.
ANY_PLACEHOLDER = re.compile(r"\$\{\{[^}]*\}\}")


@dataclass(frozen=True)
class LiteralArg:
    """A plain string passed as is."""

    value: str

    def render(self) -> str:
        return self.value


@dataclass(frozen=True)
class InputArg:
    """The path of the step's input ``name``."""

    name: str

    def render(self) -> str:
        return f"${{{{inputs.{self.name}}}}}"


@dataclass(frozen=True)
class OutputArg:
    """The path of the step's output ``name``."""

    name: str

    def render(self) -> str:
        return f"${{{{outputs.{self.name}}}}}"


@dataclass(frozen=True)
class ParameterArg:
    """The value of pipeline parameter ``name``."""

    name: str

    def render(self) -> str:
        return f"${{{{parameters.{self.name}}}}}"


Arg = LiteralArg | InputArg | OutputArg | ParameterArg


def parse_argument(text: str) -> Arg:
    """Token for one argument string; placeholders must stand alone.

    Raises ValueError for a placeholder embedded in other text or of an unknown kind.
    """
    match = PLACEHOLDER.match(text)
    if match:
        kind, name = match.groups()
        if kind == "inputs":
            return InputArg(name)
        return OutputArg(name) if kind == "outputs" else ParameterArg(name)
    if "${{" in text and not ANY_PLACEHOLDER.search(text):
        raise ValueError(f"unclosed placeholder: '${{{{' without a matching '}}}}' in {text!r}")
    if ANY_PLACEHOLDER.search(text):
        raise ValueError(
            "a placeholder must be a whole argument of the form ${{inputs.NAME}}, "
            "${{outputs.NAME}} or ${{parameters.NAME}} (AzureML passes each as its own "
            f"argument); got {text!r}"
        )
    return LiteralArg(text)
