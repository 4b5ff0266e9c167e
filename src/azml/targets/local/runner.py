"""``run_plan``: run a plan locally under AzureML's contract.

Order of work:

1. Before anything runs: every datastore input must exist (else one
   DataNotFoundError listing them all), every snapshot must be within AzureML's
   limits (else SnapshotError), and contents are hashed through the file index.
2. The run and its steps are recorded (NotStarted), then the scheduler drives
   the steps; this module is its hooks: it decides reuse, prepares each step
   run (working directory, inputs, outputs, arguments, environment, command),
   records every change in the store and shows it on the display.
3. The run ends Completed (every step Completed or Reused), Failed (a step
   failed) or Canceled (a cancel request or Ctrl-C); on Ctrl-C the steps are
   stopped and InterruptedRunError is raised.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from azml.errors import DataNotFoundError, InterruptedRunError, LaunchError, StoreWriteError
from azml.plan import Flavor, Plan
from azml.runtime import current_site_packages
from azml.settings import Settings
from azml.targets.local import contract, ids, launch, procs, reuse, snapshot, workspace
from azml.targets.local.datasets import ResolvedDataset, resolve_inputs
from azml.targets.local.display import Display
from azml.targets.local.envhints import missing_module_hint
from azml.targets.local.envs import CURRENT_ENV_NOTE, Env, EnvBuilder, EnvRequest
from azml.targets.local.executor import Handle, Job, ProcessExecutor
from azml.targets.local.hashing import Hasher, Manifest, list_files
from azml.targets.local.logs import last_line
from azml.targets.local.model import OK, LocalRun, Status, StepRun
from azml.targets.local.process_env import step_environ
from azml.targets.local.scheduler import Outcome, Scheduler
from azml.targets.local.store import Store
from azml.targets.local.tracker import RunTracker

REQUEST_POLL_SECONDS = 0.2
MAX_RANKS_VARIABLE = "AZML_MAX_LOCAL_RANKS"
RANKS_PER_CORE = 8


def local_rank_limit(settings: Settings) -> int:
    """Ranks one local MPI step may start: ``AZML_MAX_LOCAL_RANKS``, else 8 per core."""
    raw = settings.get(MAX_RANKS_VARIABLE)
    if raw and raw.strip().isdigit():
        return int(raw)
    return RANKS_PER_CORE * (os.cpu_count() or 1)


def run_plan(
    plan: Plan,
    settings: Settings,
    *,
    experiment: str = "local",
    reuse: bool = True,
    max_parallel: int | None = None,
    fail_fast: bool = False,
    env_mode: str = "isolated",
    pass_env: Sequence[str] = (),
    flavor: Flavor = "azureml_v1",
    pull: bool = False,
    out: TextIO | None = None,
) -> LocalRun:
    """Run ``plan`` on this machine and return the finished run.

    Args:
        env_mode: ``isolated`` (each step in an environment built from its
            requirements) or ``current`` (azml's own interpreter, as before).
        pass_env: shell variables to give every step on purpose.
        flavor: whose contract the steps get (``azureml_v1`` or ``azureml_v2``).
        pull: pull missing datastore inputs from blob storage first.
        ``flavor`` azureml_v2 gives a v2 command job's variables
            (``AZURE_ML_INPUT_``/``AZURE_ML_OUTPUT_`` and the order ports).

    Raises:
        DataNotFoundError: a datastore input is missing (nothing has run).
        StepEnvironmentError: a step environment cannot be resolved (nothing has run).
        SnapshotError: a source directory cannot be snapshotted (nothing has run).
        InterruptedRunError: Ctrl-C (or SIGTERM); the run was canceled.
    """
    out = out or sys.stderr
    store = Store(settings.azml_home)
    try:
        store.reap_orphans()
        runner = LocalRunner(plan, settings, store, experiment=experiment, reuse=reuse, out=out,
                             env_mode=env_mode, pass_env=pass_env, flavor=flavor)
        runner.preflight(pull=pull)
        return runner.execute(max_parallel or os.cpu_count() or 1, fail_fast)
    except BaseException:
        store.abandon()  # what could not be written would only hide the error in flight
        raise
    finally:
        store.close()


class LocalRunner:
    """One local run of a plan; also the scheduler's hooks."""

    def __init__(self, plan: Plan, settings: Settings, store: Store, *, experiment: str,
                 reuse: bool, out: TextIO, env_mode: str = "isolated",
                 pass_env: Sequence[str] = (), flavor: Flavor = "azureml_v1") -> None:
        self.plan = plan
        self.settings = settings
        self.store = store
        self.reuse = reuse
        self.layout = workspace.Layout(settings.azml_home)
        self.hasher = Hasher(store)
        self.run_id = ids.new_run_id()
        self.run = LocalRun(self.run_id, Status.NOT_STARTED, experiment, [
            StepRun(sid, ids.step_run_id(self.run_id, sid), s.name, type=s.type)
            for sid, s in plan.steps.items()], config=str(plan.config_path))
        self.records = {s.id: s for s in self.run.steps}
        self.display = Display(out, settings.redact, self.run.steps)
        self.tracker = RunTracker(settings, self.display.warn, self.display.write)
        self.out = out
        self.isolated = env_mode != "current"
        self.pass_env = contract.pass_env_names(settings, pass_env)
        self.envs: dict[str, Env] = {}
        self.snapshots: dict[str, snapshot.Snapshot] = {}
        self.inputs: dict[tuple[str, str], Manifest] = {}
        #: a ParallelRunStep's registered model: (step, input) -> (version, folder)
        self.models: dict[tuple[str, str], tuple[int, Path]] = {}
        self.datasets: dict[tuple[str, str], ResolvedDataset] = {}
        self.flavor: Flavor = flavor
        self._warned_env = False
        #: per prepared step: its content key and its components as stored (redacted text)
        self.keys: dict[str, tuple[str, str]] = {}
        #: per finished (or reused) step: output name -> manifest digest of its content
        self.output_digests: dict[str, dict[str, str]] = {}
        self.handles: dict[str, Handle] = {}
        self._next_poll = 0.0

    # -- before anything runs ------------------------------------------------------

    def preflight(self, pull: bool = False) -> None:
        """Check inputs, snapshots and environments, hash contents; raise before anything runs."""
        self._check_rank_budget()
        root = self.settings.datastore_root
        missing = workspace.missing_inputs(self.plan, root)
        if missing and pull:
            from azml.data.blob import pull_missing

            pull_missing(self.settings, [(store, path) for _s, store, path, _f in missing],
                         out=self.out)
            missing = workspace.missing_inputs(self.plan, root)
        if missing:
            raise DataNotFoundError(missing)
        self._resolve_models()
        self.datasets = resolve_inputs(self.plan, self.settings, pull=pull, out=self.out)
        skip = (self.settings.azml_home, root)
        no_limit = bool(self.settings.get(snapshot.NO_FILE_LIMIT_VARIABLE))
        by_source: dict[Path, snapshot.Snapshot] = {}
        by_folder: dict[Path, Manifest] = {}
        for sid, step in self.plan.steps.items():
            src = step.source_directory
            if src not in by_source:
                by_source[src] = snapshot.scan(sid, src, self.hasher, skip=skip, no_file_limit=no_limit)
            self.snapshots[sid] = by_source[src]
            for name, spec in step.inputs.items():
                if spec.kind in ("datastore", "dataset"):
                    folder = (self.datasets[(sid, name)].path if spec.kind == "dataset"
                              else workspace.datastore_folder(root, spec))
                    if folder not in by_folder:
                        by_folder[folder] = Manifest(self.hasher.tree_digest(folder), {})
                    self.inputs[(sid, name)] = by_folder[folder]
        self._prepare_environments()

    def _prepare_environments(self) -> None:
        """Each step's environment: built from its requirements, or azml's own (``--env current``)."""
        if not self.isolated:
            self.tracker.install_hook(current_site_packages())
            self.display.note(CURRENT_ENV_NOTE)
            return
        wanted: dict[str, EnvRequest] = {}
        for sid, step in self.plan.steps.items():
            spec = step.environment
            digest = spec.digest(self.flavor)
            files = tuple(path for path, _ in spec.requirements.files) if spec.requirements else ()
            earlier = wanted.get(digest)
            wanted[digest] = EnvRequest(
                lines=spec.pip_lines(self.flavor), python=spec.python_version, digest=digest,
                files=files, added=spec.added(self.flavor),
                steps=(*(earlier.steps if earlier else ()), sid))
        envs = EnvBuilder(self.settings.envs_root, out=self.out).prepare(list(wanted.values()))
        for sid, step in self.plan.steps.items():
            self.envs[sid] = envs[step.environment.digest(self.flavor)]
        for env in dict.fromkeys(self.envs.values()):
            for site in env.path.glob("lib/python*/site-packages"):
                self.tracker.install_hook(site)

    def _resolve_models(self) -> None:
        """Find each registered model a step reads in the local registry, before anything runs.

        As on AzureML v2, where ``azureml:NAME@latest`` is resolved when the job is
        submitted, a model without a version is the latest one registered now.
        """
        from azml.tracking.query import model_folder

        for sid, step in self.plan.steps.items():
            for name, spec in step.inputs.items():
                if spec.kind == "registered_model":
                    self.models[(sid, name)] = model_folder(
                        self.settings.azml_home, sid, str(spec.model_name), spec.model_version)
                    self.inputs[(sid, name)] = Manifest(
                        self.hasher.tree_digest(self.models[(sid, name)][1]), {})

    def _check_rank_budget(self) -> None:
        """Refuse an MPI step with more ranks than this machine can sensibly start."""
        limit = local_rank_limit(self.settings)
        why = (f"{MAX_RANKS_VARIABLE}" if (self.settings.get(MAX_RANKS_VARIABLE) or "").strip().isdigit()
               else f"{RANKS_PER_CORE} per core")
        for sid, step in self.plan.steps.items():
            if step.process_count > limit:
                raise LaunchError(
                    sid, f"{step.process_count} ranks is more than {limit}, the most this machine "
                    f"runs locally ({why})",
                    f"Set {MAX_RANKS_VARIABLE} to allow more, or lower node_count/processes_per_node")

    # -- the run -------------------------------------------------------------------

    def execute(self, max_parallel: int, fail_fast: bool) -> LocalRun:
        self.run.status, self.run.started = Status.RUNNING, time.time()
        self.store.insert_run({
            "run_id": self.run_id, "experiment": self.run.experiment, "config": self.run.config,
            "status": Status.RUNNING, "started": self.run.started, "orchestrator_pid": os.getpid(),
            "orchestrator_start": procs.start_time(os.getpid()),
            "run_dir": str(self.layout.run_dir(self.run_id))})
        for position, step in enumerate(self.run.steps):
            self.store.insert_step({"step_run_id": step.step_run_id, "run_id": self.run_id,
                                    "step_id": step.id, "name": step.name, "position": position,
                                    "type": step.type, "status": Status.NOT_STARTED,
                                    "ranks": self.plan.steps[step.id].process_count})
        self.tracker.start(self.run.experiment, self.run_id, self.run.config,
                           [(s.id, s.step_run_id, s.name) for s in self.run.steps])
        self.tracker.install_hook(current_site_packages())
        self.display.header(self.run, str(self.layout.run_dir(self.run_id)))
        executor = ProcessExecutor(redact=self.settings.redact)
        scheduler = Scheduler(self.plan.predecessors(), executor, self,
                              max_parallel=max_parallel, fail_fast=fail_fast)
        previous = _catch_sigterm()
        try:
            statuses = scheduler.run()
        except KeyboardInterrupt:
            self._finish(Status.CANCELED, "interrupted (Ctrl-C)")
            raise InterruptedRunError(self.run_id) from None
        except BaseException as exc:
            self._finish(Status.FAILED, f"azml stopped: {exc.__class__.__name__}: {exc}")
            raise
        finally:
            _restore_sigterm(previous)
        self._finish(_run_status(statuses.values()), "")
        return self.run

    def _finish(self, status: str, reason: str) -> None:
        """Record the end (store and the run folder's ``run.json``), then show the summary.

        The summary is shown even when the store cannot be written, and the error
        then says how each step really ended.
        """
        problem = self.tracker.finish(status)
        if problem:
            self.display.warn(problem)
            reason = f"{reason}; {problem}" if reason else problem
        self.run.status, self.run.reason, self.run.ended = status, reason, time.time()
        self.store.update_run(self.run_id, status=status, reason=reason, ended=self.run.ended)
        try:
            self.store.flush()
            self.store.write_run_record(self.layout.run_dir(self.run_id), *self._record_rows())
        except StoreWriteError as exc:
            ended = "; ".join(f"step {s.id} {s.status}" + (f": {s.reason}" if s.reason else "")
                              for s in self.run.steps if s.status not in OK)
            detail = f"{exc.problem} (run {self.run_id} ended {status}{'; ' + ended if ended else ''})"
            raise StoreWriteError(exc.path, self.settings.redact(detail), exc.advice) from None
        finally:
            self.display.summary(self.run)

    def _record_rows(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run's store rows, from memory, for ``run.json``."""
        run = {"run_id": self.run_id, "experiment": self.run.experiment, "config": self.run.config,
               "status": str(self.run.status), "reason": self.run.reason,
               "started": self.run.started, "ended": self.run.ended,
               "run_dir": str(self.layout.run_dir(self.run_id))}
        steps = []
        for position, step in enumerate(self.run.steps):
            key, text = self.keys.get(step.id, (None, None))
            digests = self.output_digests.get(step.id)
            steps.append({
                "step_run_id": step.step_run_id, "run_id": self.run_id, "step_id": step.id,
                "name": step.name, "position": position, "type": step.type,
                "status": str(step.status), "reason": step.reason, "content_key": key,
                "components": text, "exit_code": step.exit_code, "started": step.started,
                "ended": step.ended, "log": step.log, "outputs": json.dumps(step.outputs),
                "reused_from": step.reused_from, "ranks": self.plan.steps[step.id].process_count,
                "output_digest": json.dumps(digests) if digests is not None else None})
        return run, steps

    # -- scheduler hooks -----------------------------------------------------------

    def prepare(self, step_id: str) -> Job | Outcome:
        record, step = self.records[step_id], self.plan.steps[step_id]
        parts = self._components(step_id)
        raw = reuse.dumps(parts)
        key, text = reuse.key_of(raw), self.settings.redact(raw)
        self.keys[step_id] = (key, text)
        self.store.update_step(record.step_run_id, content_key=key, components=text)
        if not self.reuse:
            why = "reuse disabled"
        elif not step.allow_reuse:
            why = "allow_reuse is false"
        else:
            hit = self._reusable(key)
            if hit is not None:
                return self._reused(record, hit)
            why = self._why(step_id, key, parts)
        record.reason = why
        try:
            job = self._job(step_id)
        except OSError as exc:
            raise LaunchError(step_id, f"cannot prepare the step run: {exc}") from None
        record.status = Status.QUEUED
        self.store.update_step(record.step_run_id, status=Status.QUEUED, reason=why)
        self.display.event(record)
        return job

    def started(self, step_id: str, handle: Handle) -> None:
        record = self.records[step_id]
        record.status, record.started = Status.RUNNING, time.time()
        self.handles[step_id] = handle
        self.display.tails[step_id] = lambda: last_line(handle.job.log_path)
        self.store.update_step(record.step_run_id, status=Status.RUNNING, pid=handle.pid,
                               pid_start=handle.start, started=record.started, log=record.log)
        self.display.event(record)  # the scheduler's next tick commits it, before it waits

    def finished(self, step_id: str, handle: Handle, exit_code: int, canceled: str) -> Outcome:
        record, step = self.records[step_id], self.plan.steps[step_id]
        step_dir = self.layout.step_dir(self.run_id, step_id)
        record.exit_code, record.ended = exit_code, time.time()
        detail = ""
        if exit_code == 0:
            record.outputs = workspace.publish_outputs(step_dir, step.output_names(self.flavor))
            digests = self._digest_outputs(record.outputs)
            self.output_digests[step_id] = digests
            self.store.update_step(record.step_run_id, output_digest=json.dumps(digests))
            outcome = Outcome(Status.COMPLETED, record.reason)
            detail = f"in {record.ended - (record.started or record.ended):.1f}s"
            if step.register_model is not None:
                refused = self.tracker.register(record.step_run_id, step.register_model,
                                                record.outputs)
                if refused:
                    outcome, detail = Outcome(Status.FAILED, refused), ""
        elif canceled:
            outcome = Outcome(Status.CANCELED, canceled)
        else:
            said = handle.proc.last_line if handle.proc is not None else last_line(handle.job.log_path)
            reason = _failure_reason(exit_code, said)
            hint = self._hint(step_id, Path(record.log or ""))
            outcome = Outcome(Status.FAILED,
                              self.settings.redact(f"{reason}; {hint}" if hint else reason))
        self._record(record, outcome, detail)
        self.tracker.step_ended(record.step_run_id, outcome.status)
        return outcome

    def settled(self, step_id: str, outcome: Outcome) -> None:
        record = self.records[step_id]
        if outcome.status == Status.REUSED:
            self.tracker.step_reused(step_id, record.step_run_id, record.name,
                                     str(record.reused_from))
            self.store.update_step(record.step_run_id, status=Status.REUSED, reason=outcome.reason,
                                   started=record.started, ended=record.ended, log=record.log,
                                   outputs=json.dumps(record.outputs),
                                   reused_from=record.reused_from)
            record.status, record.reason = Status.REUSED, outcome.reason
            self.display.event(record)
            return
        record.ended = time.time()
        self._record(record, outcome)
        self.tracker.step_ended(record.step_run_id, outcome.status)

    def blocked(self, step_id: str, reason: str) -> None:
        record = self.records[step_id]
        record.status, record.reason = Status.NOT_STARTED, reason
        self.store.update_step(record.step_run_id, status=Status.NOT_STARTED, reason=reason)
        self.display.event(record)

    def requests(self, force: bool = False) -> tuple[bool, set[str]]:
        now = time.monotonic()
        if not force and (now < self._next_poll or not self.handles):
            return False, set()
        self._next_poll = now + REQUEST_POLL_SECONDS
        self.store.flush()
        return self.store.cancel_flags(self.run_id)

    def tick(self) -> None:
        self.store.flush()
        self.display.tick()

    # -- helpers -------------------------------------------------------------------

    def _record(self, record: StepRun, outcome: Outcome, detail: str = "") -> None:
        record.status, record.reason = outcome.status, outcome.reason
        self.store.update_step(record.step_run_id, status=record.status, reason=record.reason,
                               exit_code=record.exit_code, ended=record.ended, log=record.log,
                               outputs=json.dumps(record.outputs))
        self.display.event(record, detail)

    def _components(self, step_id: str) -> dict[str, Any]:
        step = self.plan.steps[step_id]
        content: dict[str, dict[str, Any]] = {}
        for name, spec in step.inputs.items():
            if spec.kind == "datastore":
                content[name] = {"manifest": self.inputs[(step_id, name)].digest}
            elif spec.kind == "registered_model":
                content[name] = {"version": self.models[(step_id, name)][0],
                                 "manifest": self.inputs[(step_id, name)].digest}
            elif spec.kind == "dataset":
                content[name] = {"manifest": self.inputs[(step_id, name)].digest,
                                 "resolved": self.datasets[(step_id, name)].found.version}
            else:
                content[name] = {"manifest": self.output_digests[str(spec.step_id)][str(spec.output)]}
        parts = reuse.components(step, self.plan.parameters, self.snapshots[step_id].digest,
                                 content, step.environment.digest(self.flavor))
        if self.flavor != "azureml_v1":  # other variables, maybe an order output: not v1's key
            parts["contract"] = self.flavor
            parts["outputs"] = step.output_names(self.flavor)
        return parts

    def _digest_outputs(self, outputs: dict[str, str]) -> dict[str, str]:
        """Each output's manifest digest, hashed through the file index."""
        return {name: self.hasher.manifest(Path(path), list(list_files(Path(path)))).digest
                for name, path in outputs.items()}

    def _reusable(self, key: str) -> Any:
        for row in self.store.reusable(key):
            outputs = json.loads(row["outputs"] or "{}")
            if workspace.outputs_exist(outputs):
                return row
        return None

    def _reused(self, record: StepRun, hit: Any) -> Outcome:
        record.outputs = json.loads(hit["outputs"] or "{}")
        record.reused_from = hit["step_run_id"]
        record.log = hit["log"]
        record.started = record.ended = time.time()
        digests = json.loads(hit["output_digest"]) if hit["output_digest"] else None
        if digests is None or set(digests) != set(record.outputs):  # recorded before digests
            digests = self._digest_outputs(record.outputs)
        self.output_digests[record.id] = digests
        self.store.update_step(record.step_run_id, output_digest=json.dumps(digests))
        return Outcome(Status.REUSED, f"unchanged since {hit['step_run_id']}")

    def _why(self, step_id: str, key: str, parts: dict[str, Any]) -> str:
        before = self.store.previous_attempt(self.run.config, step_id, self.run_id)
        if before is None:
            return "first run"
        if before["content_key"] == key:
            if before["status"] in (Status.FAILED, Status.CANCELED):
                return f"previous attempt {before['status']}"
            return f"outputs of {before['step_run_id']} are gone"
        old = json.loads(before["components"])
        note = reuse.cloud_reuse_note(old, parts, self.plan.steps[step_id].allow_reuse)
        if note:
            self.display.note(f"{step_id}: {note}")
        return reuse.explain(old, parts, self.hasher.lookup)

    def _job(self, step_id: str) -> Job:
        step, record = self.plan.steps[step_id], self.records[step_id]
        step_dir = self.layout.step_dir(self.run_id, step_id)
        tree = snapshot.cached_tree(step_id, self.snapshots[step_id], self.layout.snapshot_cache,
                                    self.display.warn)
        snapshot.link_tree(tree, self.snapshots[step_id].manifest.files, step_dir / "work")
        paths = contract.StepPaths(self._input_paths(step_id, step_dir),
                                   workspace.output_paths(step_dir, step.output_names(self.flavor)))
        args = contract.resolve_arguments(step, self.plan.parameters, paths)
        port = procs.free_port() if step.is_mpi and step.node_count > 1 else None
        variables = contract.contract_variables(step, self.plan.parameters, paths,
                                                record.step_run_id, port, self.flavor)
        # Run.input_datasets lists the step's dataset inputs only (AzureML reads it from
        # AZUREML_DATASET_ENVIRONMENT_VARS), by their named-input name
        datasets = {binding.binding_name: paths.inputs[name] for name, binding in step.inputs.items()
                    if binding.kind == "dataset" and name in paths.inputs}
        variables.update(self.tracker.step_variables(step_id, record.step_run_id, record.name,
                                                     datasets))
        env = self._environ(step_id, variables)
        python = str(self.envs[step_id].python) if self.isolated else sys.executable
        if step.is_parallel:
            command = launch.parallel_command(step, args, paths.inputs, paths.outputs,
                                              python=python, root=step_dir / "work",
                                              logs=step_dir / "logs", flavor=self.flavor)
        else:
            command = launch.step_command(step, args, env, step_dir, python=python,
                                          root=step_dir / "work",
                                          launcher=self.settings.get(launch.LAUNCHER_VARIABLE))
        # the guard writes the combined log (and rank logs) itself, as the output arrives
        record.log = str(step_dir / workspace.STEP_LOG)
        return Job(step_id, record.step_run_id, command.argv, step_dir / "work", env,
                   step_dir / workspace.STEP_LOG, step.process_count, tagged=step.is_mpi)

    def _hint(self, step_id: str, log: Path) -> str:
        """The one-line fix for a ModuleNotFoundError in the step's log, or ''."""
        spec = self.plan.steps[step_id].environment
        text = log_tail(log)
        if "ModuleNotFoundError" not in text:
            return ""
        hint = missing_module_hint(
            text, spec.requirements.path if spec.requirements else None,
            lines=spec.pip_lines(self.flavor),
            snapshot=self.layout.step_dir(self.run_id, step_id) / "work", isolated=self.isolated)
        return hint or ""

    def _environ(self, step_id: str, variables: dict[str, str]) -> dict[str, str]:
        """The step's whole process environment: the allow-list, then AzureML's variables."""
        prefix = [str(self.envs[step_id].bin)] if self.isolated else []
        built = step_environ(os.environ, pass_env=self.pass_env,
                             config=self.plan.steps[step_id].environment_variables,
                             contract=variables, path_prefix=prefix)
        if built.warnings and not self._warned_env:
            self._warned_env = True
            for warning in built.warnings:
                self.display.warn(warning)
        return built.env

    def _input_paths(self, step_id: str, step_dir: Path) -> dict[str, Path]:
        step, paths = self.plan.steps[step_id], {}
        for name, spec in step.inputs.items():
            if spec.kind == "datastore":
                folder = workspace.datastore_folder(self.settings.datastore_root, spec)
                if spec.mode == "download":
                    folder = workspace.private_copy(folder, step_dir / "inputs" / name)
                paths[name] = folder
            elif spec.kind == "registered_model":
                paths[name] = self.models[(step_id, name)][1]
            elif spec.kind == "dataset":  # download: a private copy, as for a data reference
                folder = self.datasets[(step_id, name)].path
                paths[name] = (workspace.private_copy(folder, step_dir / "inputs" / name)
                               if spec.mode == "download" else folder)
            else:
                paths[name] = Path(self.records[str(spec.step_id)].outputs[str(spec.output)])
        for port, pred in step.order_inputs(self.flavor).items():  # v2: the predecessor's order output
            paths[port] = Path(self.records[pred].outputs[str(self.plan.steps[pred].order_output(self.flavor))])
        return paths


def log_tail(path: Path, size: int = 16384) -> str:
    """The last ``size`` bytes of a log as text ('' when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _run_status(statuses: Any) -> str:
    values = list(statuses)
    if any(s == Status.FAILED for s in values):
        return Status.FAILED
    if any(s == Status.CANCELED for s in values):
        return Status.CANCELED
    return Status.COMPLETED if all(s in OK for s in values) else Status.FAILED


def _failure_reason(exit_code: int, tail: str) -> str:
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = str(-exit_code)
        head = f"killed by {name}"
    else:
        head = f"exit code {exit_code}"
    return f"{head}: {tail}" if tail else head


def _catch_sigterm() -> Any:
    """Treat SIGTERM like Ctrl-C while the run goes on (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
