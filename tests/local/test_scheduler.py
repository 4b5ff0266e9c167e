"""The scheduler loop against a fake executor: tiny graphs, no processes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from azml.errors import LaunchError
from azml.targets.local.executor import Handle, Job
from azml.targets.local.scheduler import Outcome, Scheduler


@dataclass
class FakeExecutor:
    """Jobs 'run' for a number of polls; exit codes and launch failures are scripted."""

    durations: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    unstartable: set[str] = field(default_factory=set)
    running: dict[str, int] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    peak_slots: int = 0
    slots_now: int = 0

    def start(self, job: Job) -> Handle:
        if job.step_id in self.unstartable:
            raise LaunchError(job.step_id, "no launcher")
        self.started.append(job.step_id)
        self.running[job.step_id] = self.durations.get(job.step_id, 1)
        self.slots_now += job.slots
        self.peak_slots = max(self.peak_slots, self.slots_now)
        return Handle(job, pid=len(self.started), start=None)

    def poll(self, handle: Handle) -> int | None:
        sid = handle.job.step_id
        if handle.exit_code is not None:
            return handle.exit_code
        if sid in self.stopped:
            handle.exit_code = -15
        else:
            self.running[sid] -= 1
            if self.running[sid] > 0:
                return None
            handle.exit_code = self.codes.get(sid, 0)
        self.slots_now -= handle.job.slots
        return handle.exit_code

    def stop(self, handle: Handle) -> None:
        self.stopped.append(handle.job.step_id)

    def wait(self, handles: Sequence[Handle], timeout: float) -> None:
        pass


@dataclass
class FakeHooks:
    slots: dict[str, int] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)
    cancel_run_after: int | None = None
    cancel_steps: dict[int, set[str]] = field(default_factory=dict)
    interrupt_after: int | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)
    ticks: int = 0

    def prepare(self, step_id: str) -> Job | Outcome:
        if step_id in self.reused:
            return Outcome("Reused", "same key")
        return Job(step_id, step_id, ["true"], Path("."), {}, Path("log"), self.slots.get(step_id, 1))

    def started(self, step_id: str, handle: Handle) -> None:
        self.events.append((step_id, "Running", ""))

    def finished(self, step_id: str, handle: Handle, exit_code: int, canceled: str) -> Outcome:
        if exit_code == 0:
            outcome = Outcome("Completed")
        elif canceled:
            outcome = Outcome("Canceled", canceled)
        else:
            outcome = Outcome("Failed", f"exit code {exit_code}")
        self.events.append((step_id, outcome.status, outcome.reason))
        return outcome

    def settled(self, step_id: str, outcome: Outcome) -> None:
        self.events.append((step_id, outcome.status, outcome.reason))

    def blocked(self, step_id: str, reason: str) -> None:
        self.events.append((step_id, "NotStarted", reason))

    def requests(self, force: bool = False) -> tuple[bool, set[str]]:
        run = self.cancel_run_after is not None and self.ticks >= self.cancel_run_after
        return run, self.cancel_steps.get(self.ticks, set())

    def tick(self) -> None:
        self.ticks += 1
        if self.interrupt_after is not None and self.ticks == self.interrupt_after:
            raise KeyboardInterrupt


def _run(graph: dict[str, tuple[str, ...]], executor: FakeExecutor | None = None,
         hooks: FakeHooks | None = None, **kw: object) -> tuple[dict[str, str], FakeExecutor, FakeHooks]:
    executor = executor or FakeExecutor()
    hooks = hooks or FakeHooks()
    kw.setdefault("max_parallel", 4)
    result = Scheduler(graph, executor, hooks, **kw).run()  # type: ignore[arg-type]
    return result, executor, hooks


CHAIN = {"a": (), "b": ("a",), "c": ("b",)}
FORK = {"a": (), "b": ("a",), "c": (), "d": ("b", "c")}


def test_chain_runs_in_order() -> None:
    result, executor, _ = _run(CHAIN)
    assert result == {"a": "Completed", "b": "Completed", "c": "Completed"}
    assert executor.started == ["a", "b", "c"]


def test_independent_steps_run_together_within_max_parallel() -> None:
    graph = {name: () for name in "abcdef"}
    executor = FakeExecutor(durations={name: 3 for name in "abcdef"})
    result, executor, _ = _run(graph, executor, max_parallel=2)
    assert set(result.values()) == {"Completed"}
    assert executor.peak_slots == 2


def test_failure_leaves_descendants_not_started_and_other_branches_finish() -> None:
    executor = FakeExecutor(codes={"a": 1}, durations={"c": 5})
    result, _, hooks = _run(FORK, executor)
    assert result == {"a": "Failed", "b": "NotStarted", "c": "Completed", "d": "NotStarted"}
    assert ("b", "NotStarted", "upstream a Failed") in hooks.events
    assert ("d", "NotStarted", "upstream b NotStarted") in hooks.events


def test_fail_fast_stops_running_branches_and_starts_nothing_new() -> None:
    graph = {"a": (), "c": (), "e": ("c",)}
    executor = FakeExecutor(codes={"a": 1}, durations={"c": 5})
    result, executor, hooks = _run(graph, executor, fail_fast=True)
    assert result == {"a": "Failed", "c": "Canceled", "e": "NotStarted"}
    assert executor.stopped == ["c"]
    assert ("c", "Canceled", "fail_fast: step a Failed") in hooks.events


def test_wide_mpi_step_counts_its_ranks_capped_at_max_parallel() -> None:
    graph = {"mpi": (), "x": (), "y": ()}
    hooks = FakeHooks(slots={"mpi": 8})
    executor = FakeExecutor(durations={"mpi": 3, "x": 3, "y": 3})
    result, executor, _ = _run(graph, executor, hooks, max_parallel=3)
    assert set(result.values()) == {"Completed"}
    assert executor.peak_slots == 3  # the MPI step ran alone, holding every slot
    assert executor.started[0] == "mpi"


def test_two_rank_step_takes_two_slots() -> None:
    graph = {"mpi": (), "x": (), "y": ()}
    hooks = FakeHooks(slots={"mpi": 2})
    executor = FakeExecutor(durations={"mpi": 5, "x": 2, "y": 2})
    _run(graph, executor, hooks, max_parallel=3)
    assert executor.peak_slots == 3
    assert executor.started[:2] == ["mpi", "x"]


def test_reuse_cascades_without_starting_anything() -> None:
    hooks = FakeHooks(reused={"a", "b", "c"})
    result, executor, _ = _run(CHAIN, hooks=hooks)
    assert result == {"a": "Reused", "b": "Reused", "c": "Reused"}
    assert executor.started == [] and hooks.ticks == 0


def test_launch_error_fails_the_step_only() -> None:
    executor = FakeExecutor(unstartable={"a"})
    result, _, hooks = _run(FORK, executor)
    assert result == {"a": "Failed", "b": "NotStarted", "c": "Completed", "d": "NotStarted"}
    assert ("a", "Failed", "step 'a' could not start: no launcher.") in hooks.events


def test_cancel_request_for_a_running_step() -> None:
    executor = FakeExecutor(durations={"a": 10, "c": 3})
    hooks = FakeHooks(cancel_steps={1: {"a"}})
    result, executor, _ = _run(FORK, executor, hooks)
    assert result == {"a": "Canceled", "b": "NotStarted", "c": "Completed", "d": "NotStarted"}
    assert executor.stopped == ["a"]


def test_cancel_request_for_a_step_not_started_yet() -> None:
    executor = FakeExecutor(durations={"a": 3})
    hooks = FakeHooks(cancel_steps={1: {"b"}})
    result, executor, _ = _run(CHAIN, executor, hooks)
    assert result == {"a": "Completed", "b": "Canceled", "c": "NotStarted"}
    assert "b" not in executor.started


def test_run_cancel_stops_everything() -> None:
    executor = FakeExecutor(durations={"a": 10, "c": 10})
    hooks = FakeHooks(cancel_run_after=2)
    result, executor, _ = _run(FORK, executor, hooks)
    assert result == {"a": "Canceled", "b": "NotStarted", "c": "Canceled", "d": "NotStarted"}
    assert sorted(executor.stopped) == ["a", "c"]


def test_keyboard_interrupt_stops_running_steps_and_reraises() -> None:
    executor = FakeExecutor(durations={"a": 10, "c": 10})
    hooks = FakeHooks(interrupt_after=2)
    scheduler = Scheduler(FORK, executor, hooks, max_parallel=4)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run()
    assert sorted(executor.stopped) == ["a", "c"]
    assert ("a", "Canceled", "interrupted (Ctrl-C)") in hooks.events
    assert ("d", "NotStarted", "upstream b NotStarted") in hooks.events


def _scheduler_calls(steps: int) -> int:
    """Python function calls made inside the scheduler module while it runs a chain."""
    import sys

    from azml.targets.local import scheduler as module

    graph = {f"s{i}": ((f"s{i - 1}",) if i else ()) for i in range(steps)}
    calls = 0

    def count(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal calls
        if event == "call" and frame.f_code.co_filename == module.__file__:
            calls += 1

    sys.setprofile(count)
    try:
        result, _, _ = _run(graph)
    finally:
        sys.setprofile(None)
    assert set(result.values()) == {"Completed"}
    return calls


def test_scheduling_work_per_step_does_not_grow_with_the_pipeline() -> None:
    """The work is counted, not timed: per step it is the same for 50 steps and for 400."""
    small, large = _scheduler_calls(50) / 50, _scheduler_calls(400) / 400
    assert large <= small * 1.1, (small, large)
