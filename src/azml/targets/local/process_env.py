"""The environment of a step process: an allow-list, never the whole shell.

On AzureML a step never sees the submitter's shell: not ``AZURE_STORAGE_CONNECTION_STRING``,
a SAS URL, ``GITHUB_PAT``, ``PYTHONPATH``, ``CUDA_VISIBLE_DEVICES``, ``MLFLOW_RUN_ID``
or ``MLFLOW_TRACKING_URI``. Locally a step gets, later sources winning:

1. from the shell, only what any process needs to start and behave normally:
   ``PATH``, ``HOME``, ``LANG``, ``LC_*``, ``TMPDIR``, ``USER``, ``TERM``;
   ``PATH`` starts with the step environment's ``bin`` folder when there is one
   (AzureML's images put their environment's ``bin`` first on ``PATH`` too);
2. the names passed on purpose (``--pass-env NAME``, repeatable, or settings),
   with the shell's value; a name that is not set gets a warning, not an error;
3. the step's own ``environment_variables`` from the config;
4. the variables AzureML itself sets (``AZUREML_RUN_ID``, ``AZUREML_DATAREFERENCE_*``,
   ``AML_PARAMETER_*``, the MPI master node...), given by the caller.

``PYTHONUNBUFFERED`` is not added: no AzureML source we found sets it (see
docs/local.md), and a script can see it. Unbuffered output for the live log
comes from ``python -u`` instead (:func:`azml.targets.local.cluster.script_command`).

Everything here is a pure function of its arguments: no ``os.environ`` read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: Shell variables every step gets (when set): what a process needs to run normally.
BASE_NAMES = ("PATH", "HOME", "LANG", "TMPDIR", "USER", "TERM")
BASE_PREFIXES = ("LC_",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class StepEnviron:
    """A step's process environment, the names it holds, and warnings to show once.

    Attributes:
        env: name to value, to pass as the process environment.
        names: the sorted names of ``env`` (safe to print: no values).
        warnings: one line per ``--pass-env`` name that could not be honoured.
    """

    env: dict[str, str]
    names: tuple[str, ...]
    warnings: tuple[str, ...]


def is_base_name(name: str) -> bool:
    """Whether the shell's ``name`` reaches every step (rule 1)."""
    return name in BASE_NAMES or name.startswith(BASE_PREFIXES)


def base_variables(environ: Mapping[str, str], path_prefix: Sequence[str] = ()) -> dict[str, str]:
    """Rule 1: the allow-listed part of the shell, ``PATH`` led by ``path_prefix``."""
    env = {name: value for name, value in environ.items() if is_base_name(name)}
    path = environ.get("PATH") or DEFAULT_PATH
    entries = [str(p) for p in path_prefix] + [p for p in path.split(":") if p]
    env["PATH"] = ":".join(dict.fromkeys(entries))
    return env


def passed_variables(
    environ: Mapping[str, str], pass_env: Iterable[str], taken: Iterable[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """Rule 2: the shell's value of each name passed on purpose, and warnings.

    ``taken`` holds names a later rule sets anyway (config or AzureML's own):
    passing one is pointless, so it is warned about, not copied.
    """
    taken_set = set(taken)
    env: dict[str, str] = {}
    warnings: list[str] = []
    for name in dict.fromkeys(n.strip() for n in pass_env):
        if not name:
            continue
        if name in taken_set:
            warnings.append(f"--pass-env {name}: the step sets {name} itself (config or AzureML); "
                            "the shell's value is not used")
        elif name not in environ:
            warnings.append(f"--pass-env {name}: not set in this shell, so the step will not see it")
        else:
            env[name] = environ[name]
    return env, warnings


def step_environ(
    environ: Mapping[str, str],
    *,
    pass_env: Iterable[str] = (),
    config: Mapping[str, str] | None = None,
    contract: Mapping[str, str] | None = None,
    path_prefix: Sequence[str] = (),
) -> StepEnviron:
    """The environment of one step process (rules 1 to 4 of the module doc).

    Args:
        environ: the shell environment azml was started with.
        pass_env: names to pass through on purpose (``--pass-env``, settings).
        config: the step's ``environment_variables``.
        contract: the variables AzureML would set for this step run.
        path_prefix: folders to put first on ``PATH`` (the step venv's ``bin``).
    """
    config = dict(config or {})
    contract = dict(contract or {})
    passed, warnings = passed_variables(environ, pass_env, [*config, *contract])
    env = base_variables(environ, path_prefix)
    env.update(passed)
    env.update(config)
    env.update(contract)
    return StepEnviron(env, tuple(sorted(env)), tuple(warnings))


def visible_names(
    environ: Mapping[str, str],
    *,
    pass_env: Iterable[str] = (),
    config_names: Iterable[str] = (),
    contract_names: Iterable[str] = (),
) -> list[str]:
    """The sorted names a step will see, never values (for ``azml plan --json``)."""
    names = {n for n in environ if is_base_name(n)} | {"PATH"}
    names |= {n for n in (p.strip() for p in pass_env) if n and n in environ}
    names |= set(config_names) | set(contract_names)
    return sorted(names)
