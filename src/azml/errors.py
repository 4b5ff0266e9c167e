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


class NoWorkspaceError(SettingsError):
    """No AzureML workspace configuration was found: AzureML is not set up here."""


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

    def __init__(self, run_id: str, status: str, failed_steps: Sequence[str] = (),
                 details: Sequence[str] = ()) -> None:
        self.run_id = run_id
        self.status = status
        self.failed_steps = tuple(failed_steps)
        self.details = tuple(details)
        steps = f" (failed: {', '.join(self.failed_steps)})" if self.failed_steps else ""
        body = "".join(f"\n{line}" for line in self.details)
        super().__init__(f"run {run_id} ended {status}{steps}{body}")


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


class TrackingUnavailable(AzmlError):
    """The local tracking store (MLflow) cannot be used; local runs go on without metrics."""

    exit_code = 1


class ModelPathError(AzmlError):
    """A step's ``register_model`` names a path that the step did not produce."""

    exit_code = 1

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"register_model path '{path}': {problem}")


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


class ModelNotFoundError(AzmlError):
    """A ParallelRunStep's registered model (name, version) is not in the local registry."""

    exit_code = 3

    def __init__(self, step: str, name: str, version: int | None, known: Sequence[int] = (),
                 gone: str = "") -> None:
        self.step, self.name, self.version = step, name, version
        which = f"'{name}' version {version}" if version is not None else f"'{name}'"
        if gone:
            super().__init__(f"step '{step}': the files of model {which} are gone from the local "
                             f"registry ({gone}); register it again")
            return
        listed = (f"its versions: {', '.join(str(v) for v in known)}" if known
                  else "no version of it is registered")
        super().__init__(
            f"step '{step}': model {which} is not in the local model registry ({listed}); "
            "`azml models` lists what is registered; a step's register_model adds versions")


def exit_code_for(error: BaseException) -> int:
    """Exit code for an error: its class's ``exit_code`` for an AzmlError, else 1."""
    return error.exit_code if isinstance(error, AzmlError) else 1


class StorageError(AzmlError):
    """Blob storage refused or failed a request (auth, missing container, unreachable).

    The message names the account and container, never a key, SAS token or URL query.
    """

    exit_code = 4

    def __init__(self, account: str, container: str, problem: str, advice: str = "") -> None:
        self.account = account
        self.container = container
        self.problem = problem
        self.advice = advice
        tail = f" {advice}" if advice else ""
        where = f"storage account '{account}'" + (f", container '{container}'" if container else "")
        super().__init__(f"{where}: {problem}.{tail}")


class TransferInterruptedError(AzmlError):
    """A pull or push was interrupted (Ctrl-C); what finished is kept, partial files resume."""

    exit_code = 130

    def __init__(self, action: str, done: int, total: int) -> None:
        self.action = action
        self.done = done
        self.total = total
        super().__init__(f"{action} interrupted after {done} of {total} files; "
                         "run it again to resume (finished files are skipped, partial ones continue)")


class DatasetNotFoundError(AzmlError):
    """No registered dataset (or version of it) has the given name."""

    exit_code = 3

    def __init__(self, name: str, version: int | None, known: Sequence[str] = (),
                 where: str = "the local dataset registry") -> None:
        self.name = name
        self.version = version
        self.known = tuple(known)
        what = f"dataset '{name}'" + (f" version {version}" if version is not None else "")
        listed = f" (registered: {', '.join(self.known)})" if self.known else (
            " (none registered)" if where == "the local dataset registry" else "")
        super().__init__(f"no {what} in {where}{listed}")
class StepEnvironmentError(AzmlError):
    """A step's Python environment cannot be resolved or built from its requirements.

    Attributes:
        where: the requirements file and line (``file:line``), or the file, or what
            added the requirement (a target's own packages); empty if unknown.
        requirement: the offending requirement line, if known.
        reason: what went wrong, in one line.
        steps: the steps using this environment.
    """

    exit_code = 2

    def __init__(self, where: str, reason: str, requirement: str = "",
                 steps: Sequence[str] = (), advice: str = "") -> None:
        self.where = where
        self.requirement = requirement
        self.reason = reason
        self.steps = tuple(steps)
        self.advice = advice
        head = f"{where}: " if where else ""
        line = f"requirement '{requirement}': " if requirement else ""
        users = f" (steps: {', '.join(self.steps)})" if self.steps else ""
        tail = f" {advice}" if advice else ""
        super().__init__(f"{head}{line}{reason}{users}.{tail}")


class ScheduleNotFoundError(AzmlError):
    """No schedule has the given name or id."""

    exit_code = 3

    def __init__(self, name: str, where: str, known: Sequence[str] = ()) -> None:
        self.name = name
        listed = f" (schedules: {', '.join(known)})" if known else " (there are none)"
        super().__init__(f"no schedule named or with id '{name}' in {where}{listed}")
