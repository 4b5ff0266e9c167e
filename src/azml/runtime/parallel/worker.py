"""One ParallelRunStep worker process: ``python worker.py TASK_FD RESULT_FD``.

Started by the driver (see ``pool.py``) with its stdout and stderr sent to the
worker's log files. Messages are length-prefixed marshal frames (:func:`frame`).
The first on TASK_FD is the worker's configuration, then one per mini-batch, and
``{"stop": True}`` at the end. The worker answers on RESULT_FD with one frame per event: ``ready`` after
``init()``, ``done`` after every mini-batch, ``bye`` after
``shutdown()``; ``init_failed`` and ``restart`` when it exits early.

What the entry script sees is what AzureML's driver gives it: ``sys.argv`` is the
driver's argument list with the step's arguments in it; the source folder first on
``sys.path`` and the module imported by name; a private temporary folder as the
working directory (AzureML's workers ``chdir`` to a local temp folder); the root
logger writing to the worker's stdout log at ``logging_level``; and
``azureml_user.parallel_run.EntryScript`` when the environment has none.

This file is self-contained (standard library only, no sibling imports) because
it shares its process, ``sys.path`` and ``sys.modules`` with user code.
"""

from __future__ import annotations

import importlib
import io
import logging
import marshal
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

#: Exit codes of AzureML's driver (``constant.py``) for a worker that ends early.
EXIT_INIT_FAILED = 72
EXIT_RUN_SOME_FAILED = 73
EXIT_RUN_ALL_FAILED = 74
#: A worker with more failed mini-batches than this exits and is replaced
#: (``TaskConsumer.FAILED_TASK_COUNT_TO_STOP``).
FAILED_BATCHES_TO_RESTART = 10
ERROR_TEXT_LIMIT = 600


def frame(message: dict[str, Any]) -> bytes:
    """A message on a pipe: 4-byte little-endian length, then ``marshal`` data.

    Driver and workers run the same interpreter, so marshal (built in, no import
    cost, fast) is safe; messages hold only dicts, lists, str, int, float, bool, None.
    """
    data = marshal.dumps(message)
    return len(data).to_bytes(4, "little") + data


class Channel:
    """The worker's end of the driver's two pipes."""

    def __init__(self, task_fd: int, result_fd: int) -> None:
        self.tasks: BinaryIO = os.fdopen(task_fd, "rb")
        self.result_fd = result_fd

    def receive(self) -> dict[str, Any]:
        head = self.tasks.read(4)
        if len(head) < 4:
            return {"stop": True}
        message: dict[str, Any] = marshal.loads(self.tasks.read(int.from_bytes(head, "little")))
        return message

    def send(self, event: str, **fields: Any) -> None:
        data = frame({"ev": event, **fields})
        while data:
            written = os.write(self.result_fd, data)
            data = data[written:]


class ErrorLog:
    """logs/user/error/<node>/<process>.txt: every failure with its items and traceback."""

    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, header: str, items: list[str], detail: str) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        lines = [f"{stamp} UTC {header}"] + [f"  {item}" for item in items] + [detail.rstrip(), ""]
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


class Rows:
    """The worker's temporary append_row file in the output folder (AzureML's naming)."""

    def __init__(self, folder: str, node: str, file_name: str) -> None:
        self.path = os.path.join(folder, f"temp_{node}_{os.getpid()}_{file_name}")
        self.handle: BinaryIO | None = None

    def append(self, result: Any) -> tuple[int, int]:
        """Write ``result``'s rows; return (offset, length) of what was written."""
        if isinstance(result, list):
            text = "".join(f"{row}\n" for row in result)
        else:  # a pandas DataFrame, written as AzureML's driver writes it
            buffer = io.StringIO()
            result.to_csv(buffer, header=False, index=False, sep=" ")
            text = buffer.getvalue()
        data = text.encode("utf-8")
        if self.handle is None:
            os.makedirs(folder_of(self.path), exist_ok=True)
            self.handle = open(self.path, "ab")  # noqa: SIM115 - kept open across mini-batches
        offset = self.handle.tell()
        self.handle.write(data)
        self.handle.flush()
        return offset, len(data)


def folder_of(path: str) -> str:
    return os.path.dirname(path) or "."


def is_dataframe(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] == "pandas"


def check_result(result: Any) -> None:
    """run() must return a list or a pandas DataFrame (one element per successful item)."""
    if isinstance(result, list) or is_dataframe(result):
        return
    raise TypeError(f"run() returned {type(result).__name__}; ParallelRunStep expects a list or a "
                    "pandas DataFrame with one element per successfully processed item")


def set_up_process(config: dict[str, Any]) -> None:
    """sys.argv, sys.path, working directory and logging as on AzureML."""
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != here]
    sys.path.insert(0, os.path.realpath(config["source"]))
    sys.argv[:] = list(config["argv"])
    os.makedirs(config["temp_dir"], exist_ok=True)
    os.chdir(config["temp_dir"])
    level = logging.getLevelName(config["logging_level"])
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s|%(name)s|%(levelname)s|%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    _provide_entry_script_helper(config)


def _provide_entry_script_helper(config: dict[str, Any]) -> None:
    try:
        helper = importlib.import_module("azureml_user.parallel_run")
    except ImportError:
        sys.path.append(config["shim"])
        helper = importlib.import_module("azureml_user.parallel_run")
    configure = getattr(helper, "_configure", None)
    if callable(configure):
        configure(working_dir=config["working_dir"], log_dir=config["entry_log_dir"],
                  agent_name=config["process"], logging_level=config["logging_level"])


def load_entry(config: dict[str, Any]) -> Any:
    module = importlib.import_module(config["module"])
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise AttributeError(  # noqa: TRY004 - a missing attribute, as importing would say
                f"the entry script {config['entry']} has no {name}() function")
    return module


class Worker:
    """init() once, then run() for every mini-batch received, then shutdown()."""

    def __init__(self, channel: Channel, config: dict[str, Any]) -> None:
        self.channel = channel
        self.config = config
        self.errors = ErrorLog(config["error_log"])
        self.rows = (Rows(config["output"], config["node"], config["append_row_file_name"])
                     if config["output_action"] == "append_row" else None)
        self.module: Any = None
        self.reader: Callable[[dict[str, Any]], Any] | None = None
        self.failed = 0
        self.succeeded = 0

    def start(self) -> bool:
        try:
            set_up_process(self.config)
            self.module = load_entry(self.config)
            if self.config["input_kind"] == "tabular":
                self.reader = tabular_reader()
            self.module.init()
        except BaseException as exc:  # noqa: BLE001 - AzureML catches everything from init()
            detail = traceback.format_exc()
            self.errors.write("init() failed:", [], detail)
            self.channel.send("init_failed", error=_brief(exc))
            return False
        self.channel.send("ready", pid=os.getpid())
        return True

    def serve(self) -> int:
        while True:
            task = self.channel.receive()
            if task.get("stop"):
                return self.finish()
            self.process(task)
            sys.stdout.flush()  # the stdout log shows what run() printed, batch by batch
            if self.failed > FAILED_BATCHES_TO_RESTART:
                self.channel.send("restart", failed=self.failed)
                return EXIT_RUN_SOME_FAILED if self.succeeded else EXIT_RUN_ALL_FAILED

    def process(self, task: dict[str, Any]) -> None:
        items: list[str] = task["items"]
        try:
            mini_batch = self.reader(task) if self.reader else list(items)
            result = self.module.run(mini_batch)
            check_result(result)
            count = len(result)
            span = self.rows.append(result) if self.rows is not None else (0, 0)
        except BaseException as exc:  # noqa: BLE001 - a failed mini-batch never stops the worker
            self.failed += 1
            header = (f"mini batch {task['id']} failed (try {task.get('try', 1)}); "
                      f"{len(items)} item(s):" if not self.reader else
                      f"mini batch {task['id']} failed (try {task.get('try', 1)}); rows "
                      f"{task.get('skip', 0)}..+{task.get('nrows') or 'all'} of:")
            self.errors.write(header, items, traceback.format_exc())
            self.channel.send("done", id=task["id"], ok=False, error=_brief(exc))
            return
        self.succeeded += 1
        self.channel.send("done", id=task["id"], ok=True, count=count,
                          offset=span[0], length=span[1])

    def finish(self) -> int:
        shutdown = getattr(self.module, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except BaseException:  # noqa: BLE001 - logged; the job's result stands
                self.errors.write("shutdown() failed:", [], traceback.format_exc())
        sys.stdout.flush()
        self.channel.send("bye")
        return 0


def tabular_reader() -> Callable[[dict[str, Any]], Any]:
    """A function turning a tabular task into a DataFrame (pandas from the step's environment)."""
    import pandas

    def read(task: dict[str, Any]) -> Any:
        skip = int(task.get("skip") or 0)
        return pandas.read_csv(task["items"][0], skiprows=range(1, skip + 1) if skip else None,
                               nrows=task.get("nrows"))

    return read


def _brief(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:ERROR_TEXT_LIMIT] if text else type(exc).__name__


def main(argv: list[str]) -> int:
    channel = Channel(int(argv[0]), int(argv[1]))
    config = channel.receive()
    worker = Worker(channel, config)
    if not worker.start():
        return EXIT_INIT_FAILED
    return worker.serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
