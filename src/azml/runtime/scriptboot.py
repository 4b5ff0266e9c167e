"""Start a step's script the way AzureML v1's driver does: ``python scriptboot.py --root ROOT -- SCRIPT ARGS``.

AzureML v1 does not run ``python SCRIPT`` for a PythonScriptStep or an MpiStep
rank. Its driver, ``azureml-setup/context_manager_injector.py``, is started from
the snapshot root; it enters context managers (one of them, ``ProjectPythonPath``,
appends the snapshot root to ``sys.path``), expands ``$NAME`` / ``${NAME}`` in the
arguments from its own environment (its log prints the arguments before and
"after variable expansion"), and runs the script in the same process with
``runpy.run_path(script, run_name="__main__")``. This file does the same, with
the standard library only, in the step's own interpreter (a venv built from the
step's requirements, or azml's own with ``--env current``):

- ``sys.argv`` becomes ``[SCRIPT, *expanded ARGS]``, as ``python SCRIPT ARGS`` gives;
- ``sys.path[0]`` is the script's folder (not this file's), and ``ROOT`` is
  appended at the end, where ``ProjectPythonPath`` puts it;
- nothing is added to ``os.environ``, so a script that prints its environment
  sees exactly what a plain ``python SCRIPT`` would see.

Expansion happens here, inside each process, so an MPI rank's ``$OMPI_COMM_WORLD_RANK``
in an argument becomes that rank's own value, as on AzureML.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Mapping, Sequence

#: ``$NAME`` or ``${anything but a closing brace}``, as os.path.expandvars reads them
#: (``re`` is imported only for an argument with a ``$``: it costs a step ~15 ms to start).
_VARIABLE = r"\$(\w+|\{[^}]*\})"


def expand_argument(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every ``$NAME`` and ``${NAME}`` set in ``env`` replaced by its value.

    The rules of ``os.path.expandvars`` (which AzureML's Python driver is taken to
    use), applied to ``env`` instead of ``os.environ``: names are ASCII letters,
    digits and ``_``; a name not in ``env`` is left as written; a value is not
    expanded again; there is no escape (``$$`` stays ``$$``).
    """
    if "$" not in text:
        return text
    import re

    out: list[str] = []
    pos = 0
    for match in re.finditer(_VARIABLE, text, re.ASCII):
        name = match.group(1)
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        if name in env:
            out.append(text[pos:match.start()])
            out.append(env[name])
            pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def expand_arguments(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Every argument through :func:`expand_argument`."""
    return [expand_argument(arg, env) for arg in args]


def parse(argv: Sequence[str]) -> tuple[str | None, bool, str, list[str]]:
    """``(root, expand, script, args)`` from ``[--root ROOT] [--no-expand] -- SCRIPT ARGS``."""
    root: str | None = None
    expand = True
    rest = list(argv)
    while rest and rest[0] != "--":
        option = rest.pop(0)
        if option == "--root" and rest:
            root = rest.pop(0)
        elif option == "--no-expand":
            expand = False
        else:
            raise SystemExit(f"scriptboot: unknown option {option!r}")
    if len(rest) < 2:
        raise SystemExit("usage: scriptboot.py [--root ROOT] [--no-expand] -- SCRIPT [ARGS...]")
    return root, expand, rest[1], rest[2:]


def prepare(root: str | None, script: str, args: Sequence[str], expand: bool) -> None:
    """Set ``sys.argv`` and ``sys.path`` for ``script`` (see the module doc)."""
    if expand:
        args = expand_arguments(args, os.environ)
    sys.argv = [script, *args]
    folder = os.path.dirname(os.path.abspath(script))
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)
    if root is not None:
        root = os.path.abspath(root)
        if root not in sys.path:
            sys.path.append(root)


def main(argv: Sequence[str]) -> None:
    root, expand, script, args = parse(argv)
    prepare(root, script, args, expand)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
