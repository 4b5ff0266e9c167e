"""``from azureml_user.parallel_run import EntryScript``, as on AzureML's batch workers.

The helper AzureML documents for entry scripts (docs: "Troubleshooting the
ParallelRunStep", sections on logging): a per-process singleton whose ``logger``
writes to ``logs/user/entry_script_log/<node>/<process>.log.txt``, with
``log_dir``, ``agent_name``, ``output_dir`` (``AZUREML_BI_OUTPUT_PATH``) and
``working_dir``. The local worker configures it before importing the entry script.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

_SETTINGS: dict[str, str] = {
    "working_dir": os.getcwd(), "log_dir": "logs/user/entry_script_log/0",
    "agent_name": "process000", "logging_level": "INFO",
}
_FORMAT = "%(asctime)s|%(name)s|%(levelname)s|%(process)d|%(thread)d|%(funcName)s()|%(message)s"


def _configure(**settings: str) -> None:
    """Set by the local worker: where this process's logs go and what it is called."""
    _SETTINGS.update(settings)


class EntryScript:
    """Per-process helper for entry scripts (one instance per worker process)."""

    _instance: EntryScript | None = None
    _logger: logging.Logger | None

    def __new__(cls, *args: Any, **kwargs: Any) -> EntryScript:  # noqa: PYI034 - a singleton
        if cls._instance is None:
            instance = super().__new__(cls)
            instance._logger = None
            cls._instance = instance
        return cls._instance

    def __init__(self, logging_level: str | None = None) -> None:
        self.logging_level = logging_level or _SETTINGS["logging_level"]

    @property
    def logger(self) -> logging.Logger:
        """A logger writing to this worker's file under ``logs/user/entry_script_log``."""
        if self._logger is None:
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
            logger = logging.getLogger(f"{_SETTINGS['agent_name']}.entry_script")
            handler = logging.FileHandler(Path(self.log_dir) / f"{self.agent_name}.log.txt",
                                          delay=True)
            formatter = logging.Formatter(_FORMAT)
            formatter.converter = time.gmtime
            handler.setFormatter(formatter)
            logger.addHandler(handler)
            logger.setLevel(self.logging_level)
            self._logger = logger
        return self._logger

    @property
    def log_dir(self) -> str:
        return _SETTINGS["log_dir"]

    @property
    def agent_name(self) -> str:
        return _SETTINGS["agent_name"]

    @property
    def working_dir(self) -> str:
        return _SETTINGS["working_dir"]

    @property
    def output_dir(self) -> str:
        path = Path(os.environ.get("AZUREML_BI_OUTPUT_PATH", "."))
        path.mkdir(parents=True, exist_ok=True)
        return str(path)
