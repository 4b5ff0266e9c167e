"""The driver's command line, checked the way AzureML checks a ParallelRunConfig.

Every value is validated before a worker starts; a bad one raises :class:`UsageError`
with one sentence naming the option and what was expected. Defaults are those of
AzureML's driver and SDK (``azureml-pipeline-steps`` 1.62, ``_parallel_run_config_base``
and ``_parallel_run_step_base``): ``mini_batch_size`` 10 files or 1 MB of tabular
data, ``run_max_try`` 3, ``run_invocation_timeout`` 60 s, ``logging_level`` INFO,
``append_row_file_name`` ``parallel_run_step.txt``, ``error_threshold`` -1 (the
driver's own default; the SDK makes it a required argument).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

FILE_BATCH_DEFAULT = 10
TABULAR_BATCH_DEFAULT = 1024 * 1024
DEFAULT_APPEND_ROW_FILE_NAME = "parallel_run_step.txt"
OUTPUT_ACTIONS = ("append_row", "summary_only")
INPUT_KINDS = ("file", "tabular")
#: The SDK's rule for a mini_batch_size string (``_mini_batch_size_to_int``).
_BATCH_SIZE = re.compile(r"^(\d+)([kKmMgG][bB])?$")
_UNITS = {"": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
#: Characters the SDK refuses in append_row_file_name.
_BAD_FILE_NAME = re.compile(r'[~"#%&*:<>?\/\\{|}]')
LOGGING_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Argument names ParallelRunStep reserves for its driver (``_validate_arguments``).
RESERVED_ARGUMENTS = frozenset({
    "mini_batch_size", "error_threshold", "allowed_failed_count", "allowed_failed_percent",
    "output", "output_action", "logging_level", "process_count_per_node",
    "run_invocation_timeout", "run_max_try", "append_row_file_name", "partition_keys"})


class UsageError(Exception):
    """A command-line value the driver cannot accept (exit code 2)."""


class Options(NamedTuple):
    """Everything the driver was asked to do, validated.

    Attributes:
        inputs: (name, folder) pairs in command-line order; each folder is
            partitioned into mini-batches separately, as AzureML does per dataset.
        mini_batch_size: files per mini-batch (file input) or approximate bytes
            per mini-batch (tabular input), already converted from ``10MB`` etc.
        user_args: the step's own arguments (after ``--``).
    """

    entry: str
    source: Path
    inputs: tuple[tuple[str, Path], ...]
    input_kind: str
    output: Path | None
    mini_batch_size: int
    error_threshold: int
    allowed_failed_count: int | None
    allowed_failed_percent: float | None
    output_action: str
    append_row_file_name: str
    run_max_try: int
    run_invocation_timeout: int
    process_count_per_node: int
    node_count: int
    logging_level: str
    logs: Path
    progress_interval: float
    user_args: tuple[str, ...]

    @property
    def workers(self) -> int:
        return self.process_count_per_node * self.node_count

    @property
    def module_name(self) -> str:
        """The name the entry script is imported under (AzureML's ``get_module_name``)."""
        name = self.entry.removesuffix(".py")
        return name.replace("/", ".").replace("\\", ".")


def parse_mini_batch_size(text: str) -> int:
    """``"10"`` -> 10, ``"10KB"`` -> 10240, ``"1MB"`` -> 1048576 (the SDK's conversion)."""
    match = _BATCH_SIZE.match(text.strip())
    if not match:
        raise UsageError(
            f"--mini-batch-size {text!r}: expected a whole number, optionally followed by KB, MB "
            "or GB (for example 10, 1024KB, 10MB), as AzureML requires")
    value = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if value < 1:
        raise UsageError(f"--mini-batch-size {text!r}: must be at least 1")
    return value


#: Every option the driver takes (each with one value), and its default.
OPTION_DEFAULTS: dict[str, str | None] = {
    "entry": None, "source": None, "input-kind": "file", "output": None,
    "mini-batch-size": None, "error-threshold": "-1", "allowed-failed-count": None,
    "allowed-failed-percent": None, "output-action": None,
    "append-row-file-name": DEFAULT_APPEND_ROW_FILE_NAME, "run-max-try": "3",
    "run-invocation-timeout": "60", "process-count-per-node": str(os.cpu_count() or 1),
    "node-count": "1", "logging-level": "INFO", "logs": "logs", "progress-interval": "2",
}
USAGE = ("usage: driver.py --entry SCRIPT --source DIR --input NAME=PATH [--input ...] "
         "--output-action append_row|summary_only [--output DIR] [--OPTION VALUE ...] "
         "[-- STEP_ARGS...]; see docs/parallel.md")


def _values(argv: Sequence[str]) -> tuple[dict[str, str | None], list[str]]:
    """``--name value`` / ``--name=value`` pairs (``--input`` repeatable); no argparse,
    whose help formatter alone imports shutil, bz2 and lzma on the driver's start-up path."""
    values = dict(OPTION_DEFAULTS)
    inputs: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        name, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if name not in OPTION_DEFAULTS and name != "input":
            raise UsageError(f"unknown argument {arg!r}; {USAGE}")
        if not sep:
            index += 1
            if index >= len(argv):
                raise UsageError(f"--{name} needs a value")
            value = argv[index]
        if name == "input":
            inputs.append(value)
        else:
            values[name] = value
        index += 1
    for required in ("entry", "source", "output-action"):
        if values[required] is None:
            raise UsageError(f"--{required} is required; {USAGE}")
    return values, inputs


def _int(name: str, text: str, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UsageError(f"--{name} {text!r}: expected a whole number") from None
    if value < minimum:
        raise UsageError(f"--{name} {value}: must be at least {minimum}")
    return value


def _inputs(values: Sequence[str]) -> tuple[tuple[str, Path], ...]:
    if not values:
        raise UsageError("--input NAME=PATH: at least one input is required "
                         "(ParallelRunStep partitions its inputs into mini-batches)")
    pairs: list[tuple[str, Path]] = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not path or not _INPUT_NAME.match(name):
            raise UsageError(f"--input {value!r}: expected NAME=PATH with NAME a Python identifier")
        if any(name == other for other, _ in pairs):
            raise UsageError(f"--input {value!r}: the input name '{name}' is given twice")
        pairs.append((name, Path(path)))
    return tuple(pairs)


def _append_row_name(text: str, action: str) -> str:
    # AzureML's driver lowercases this argument (argparse type=str.lower).
    name = text.strip().lower()
    if action == "append_row" and (not name or _BAD_FILE_NAME.search(name)):
        raise UsageError(f"--append-row-file-name {text!r}: must be a plain file name "
                         '(none of ~"#%&*:<>?/\\{|})')
    return name


def _percent(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--allowed-failed-percent {text!r}: expected a number") from None
    if not 0 <= value <= 100:
        raise UsageError(f"--allowed-failed-percent {value}: must be between 0 and 100")
    return value


def parse(argv: Sequence[str]) -> Options:
    """Options from the driver's argv (``--`` separates the step's own arguments)."""
    argv = list(argv)
    user: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, user = argv[:at], argv[at + 1:]
    values, inputs = _values(argv)
    check_user_args(user)
    return _build(values, inputs, tuple(user))


def check_user_args(args: Sequence[str]) -> None:
    """Refuse the step arguments ParallelRunStep refuses when the step is built.

    The SDK merges them into its driver's command line, so the first must be an
    option (start with ``-``) and none may reuse a driver argument's name.
    """
    if args and not args[0].startswith("-"):
        raise UsageError(f"step argument {args[0]!r}: ParallelRunStep only accepts keyword "
                         "arguments (the first must start with '-'), as AzureML refuses others")
    for arg in args:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name in RESERVED_ARGUMENTS:
                raise UsageError(f"step argument {arg!r}: '{name}' is reserved by ParallelRunStep; "
                                 "use another argument name")


def _build(v: dict[str, str | None], inputs: list[str], user: tuple[str, ...]) -> Options:
    action = str(v["output-action"]).lower()
    kind = str(v["input-kind"])
    level = str(v["logging-level"]).upper()
    if action not in OUTPUT_ACTIONS:
        raise UsageError(f"--output-action {action!r}: expected append_row or summary_only")
    if action == "append_row" and v["output"] is None:
        raise UsageError("--output-action append_row needs --output (AzureML: "
                         "'Please specify output parameter.')")
    if kind not in INPUT_KINDS:
        raise UsageError(f"--input-kind {kind!r}: expected file or tabular")
    if level not in LOGGING_LEVELS:
        raise UsageError(f"--logging-level {level!r}: expected WARNING, INFO or DEBUG")
    default_size = TABULAR_BATCH_DEFAULT if kind == "tabular" else FILE_BATCH_DEFAULT
    size = v["mini-batch-size"]
    allowed = v["allowed-failed-count"]
    try:
        interval = float(str(v["progress-interval"]))
    except ValueError:
        raise UsageError(f"--progress-interval {v['progress-interval']!r}: expected seconds") from None
    return Options(
        entry=str(v["entry"]).strip(), source=Path(str(v["source"])), inputs=_inputs(inputs),
        input_kind=kind, output=Path(v["output"]) if v["output"] is not None else None,
        mini_batch_size=parse_mini_batch_size(size) if size is not None else default_size,
        error_threshold=_int("error-threshold", str(v["error-threshold"]), -1),
        allowed_failed_count=None if allowed is None else _int("allowed-failed-count", allowed, -1),
        allowed_failed_percent=_percent(v["allowed-failed-percent"]),
        output_action=action,
        append_row_file_name=_append_row_name(str(v["append-row-file-name"]), action),
        run_max_try=_int("run-max-try", str(v["run-max-try"]), 1),
        run_invocation_timeout=_int("run-invocation-timeout", str(v["run-invocation-timeout"]), 1),
        process_count_per_node=_int("process-count-per-node", str(v["process-count-per-node"]), 1),
        node_count=_int("node-count", str(v["node-count"]), 1),
        logging_level=level, logs=Path(str(v["logs"])), progress_interval=max(interval, 0.0),
        user_args=user,
    )


#: ``$NAME`` or ``${NAME}``, the rules of ``os.path.expandvars`` (as azml.runtime.scriptboot).
_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)


def expand_arguments(args: Sequence[str], env: Mapping[str, str]) -> tuple[str, ...]:
    """The step arguments with ``$NAME``/``${NAME}`` set in ``env`` replaced, as AzureML's
    control script does before it starts the driver; unknown names stay as written."""

    def one(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1).removeprefix("{").removesuffix("}")
            return env.get(name, match.group(0))

        return _VARIABLE.sub(value, text) if "$" in text else text

    return tuple(one(arg) for arg in args)


def azureml_argv(options: Options, driver_path: str) -> list[str]:
    """``sys.argv`` as an entry script sees it on AzureML.

    The SDK (``_ParallelRunStepBase._generate_main_file_args``) builds the driver's
    command line as its own arguments, then the step's ``arguments``, then one
    ``--input_fds_<i> NAME`` (file) or ``--input_ds_<i> NAME`` (tabular) per input;
    the driver keeps that whole list in ``sys.argv``, which is why entry scripts
    must read their arguments with ``parse_known_args``.
    """
    args = [driver_path, "--client_sdk_version", "local", "--scoring_module_name", options.entry,
            "--mini_batch_size", str(options.mini_batch_size),
            "--error_threshold", str(options.error_threshold),
            "--output_action", options.output_action, "--logging_level", options.logging_level,
            "--run_invocation_timeout", str(options.run_invocation_timeout),
            "--run_max_try", str(options.run_max_try), "--create_snapshot_at_runtime", "True"]
    if options.allowed_failed_count is not None:
        args += ["--allowed_failed_count", str(options.allowed_failed_count)]
    if options.allowed_failed_percent is not None:
        args += ["--allowed_failed_percent", f"{options.allowed_failed_percent:g}"]
    if options.output_action == "append_row":
        args += ["--append_row_file_name", options.append_row_file_name]
    if options.output is not None:
        args += ["--output", str(options.output)]
    args += ["--process_count_per_node", str(options.process_count_per_node), *options.user_args]
    flag = "--input_ds_" if options.input_kind == "tabular" else "--input_fds_"
    for index, (name, _) in enumerate(options.inputs):
        args += [f"{flag}{index}", name]
    return args
