"""The one exception hierarchy of azml.

Every error azml raises on purpose derives from :class:`AzmlError`. Each subclass
builds its message from structured fields, so callers can inspect the fields and
the CLI can print the message as is. Each class's ``exit_code`` is the one
place its exit code is set; the CLI reads it through :func:`exit_code_for`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


class AzmlError(Exception):
    """Root of every error azml raises deliberately."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One problem found in a configuration file.

    Attributes:
        file: the file the problem is in (resolved path).
        path: the JSON path of the offending value, dotted (``step2.node_count``);
            empty for the document itself.
        message: what was expected, in one sentence.
    """

    file: str
    path: str
    message: str

    def render(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(AzmlError):
    """A configuration (or settings) file is invalid; carries every problem found."""

    exit_code = 2

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        body = "\n".join(f"  {p.render()}" for p in self.problems)
        super().__init__(f"{head}\n{body}")

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.problems]

    @classmethod
    def single(cls, file: str | Path, path: str, message: str) -> ConfigError:
        return cls([ConfigProblem(str(file), path, message)])


class UsageError(AzmlError):
    """The command line or API was called with values that cannot work."""

    exit_code = 2


class SettingsError(AzmlError):
    """Workspace or credential settings are missing or malformed.

    Attributes:
        what: the setting or file at fault.
        advice: the one thing the user should do.
    """

    exit_code = 2

    def __init__(self, what: str, problem: str, advice: str) -> None:
        self.what = what
        self.problem = problem
        self.advice = advice
        super().__init__(f"{what}: {problem}. {advice}")


class MissingDependencyError(AzmlError):
    """An optional dependency is not installed."""

    exit_code = 2

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'azml[{extra}]'"
        )


class DataNotFoundError(AzmlError):
    """Step inputs that must exist before a run starts are missing."""

    exit_code = 2

    def __init__(self, missing: Sequence[tuple[str, str, str, str]]) -> None:
        """``missing`` holds ``(step_id, datastore, path, expected_folder)`` rows."""
        self.missing = tuple(missing)
        lines = [
            f"  {step}: datastore '{store}' path '{path}' -> expected at {folder}"
            for step, store, path, folder in self.missing
        ]
        super().__init__("input data not found:\n" + "\n".join(lines))


class LaunchError(AzmlError):
    """A step's process could not be started (no launcher, bad interpreter, ...)."""

    exit_code = 1

    def __init__(self, step_id: str, reason: str, advice: str = "") -> None:
        self.step_id = step_id
        self.reason = reason
        self.advice = advice
        tail = f" {advice}" if advice else ""
        super().__init__(f"step '{step_id}' could not start: {reason}.{tail}")


class SnapshotError(AzmlError):
    """A step's source directory cannot be snapshotted as AzureML would."""

    exit_code = 2

    def __init__(self, step_id: str, directory: str, reason: str, advice: str = "") -> None:
        self.step_id = step_id
        self.directory = directory
        self.reason = reason
        tail = f" {advice}" if advice else ""
        super().__init__(f"step '{step_id}': snapshot of {directory}: {reason}.{tail}")


class RunFailedError(AzmlError):
    """A pipeline run ended in a state other than Completed."""

    exit_code = 1

    def __init__(self, run_id: str, status: str, failed_steps: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.status = status
        self.failed_steps = tuple(failed_steps)
        steps = f" (failed: {', '.join(self.failed_steps)})" if self.failed_steps else ""
        super().__init__(f"run {run_id} ended {status}{steps}")


class RunNotFoundError(AzmlError):
    """No run (or step run) has the given id."""

    exit_code = 3

    def __init__(self, run_id: str, where: str = "", *, message: str = "") -> None:
        self.run_id = run_id
        self.where = where
        tail = f" in {where}" if where else ""
        super().__init__(message or f"no run with id '{run_id}'{tail}")


class AzureServiceError(AzmlError):
    """The AzureML service refused or failed a request."""

    exit_code = 4

    def __init__(self, action: str, detail: str, advice: str = "") -> None:
        self.action = action
        self.detail = detail
        self.advice = advice
        tail = f" {advice}" if advice else ""
        super().__init__(f"{action} failed: {detail}.{tail}")


class InterruptedRunError(AzmlError):
    """The user interrupted a run (Ctrl-C); the run was cancelled."""

    exit_code = 130

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} interrupted and cancelled")


class StepNotFoundError(AzmlError):
    """A run exists but has no step with the given id, step run id or name.

    Not a RunNotFoundError: the run was found, so callers must not look for it
    elsewhere (``azml cancel`` falls back to AzureML only for unknown runs).
    """

    exit_code = 3

    def __init__(self, run_id: str, step: str, known: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.step = step
        self.known = tuple(known)
        listed = f" (its steps: {', '.join(self.known)})" if self.known else ""
        super().__init__(f"run {run_id} has no step '{step}'{listed}")


class StoreDamagedError(AzmlError):
    """The local run store's file is damaged; ``azml store repair`` rebuilds it."""

    exit_code = 1

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"the run store {path} is damaged ({detail}). Repair it with: azml store repair "
            "(it keeps the damaged file aside, salvages what it can and rebuilds the list of "
            "runs from the run folders)")


class StoreWriteError(AzmlError):
    """The local run store could not be written (disk full, read-only, locked)."""

    exit_code = 1

    def __init__(self, path: str, problem: str, advice: str = "") -> None:
        self.path = path
        self.problem = problem
        self.advice = advice
        tail = f". {advice}" if advice else ""
        super().__init__(f"cannot write the run store {path}: {problem}{tail}")


def exit_code_for(error: BaseException) -> int:
    """Exit code for an error: its class's ``exit_code`` for an AzmlError, else 1."""
    return error.exit_code if isinstance(error, AzmlError) else 1
