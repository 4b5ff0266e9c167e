"""The scheduler loop: which step runs when. Processes are the executor's business.

Rules:

- A step becomes ready when every upstream step Completed or was Reused; a ready
  step is *prepared* by the hooks, which either settle it at once (Reused) or
  return a job. Reuse therefore cascades down a chain within one round.
- Jobs start in plan order while their slots fit in ``max_parallel``; a smaller
  later job may start ahead of a bigger one waiting for room. A job never needs
  more than ``max_parallel`` slots (an MPI step wider than that runs alone).
- When a step fails or is canceled, its descendants stay NotStarted. With the
  default policy independent branches go on; with ``fail_fast`` every running
  step is stopped (Canceled) and nothing else starts.
- A run cancel request, or KeyboardInterrupt, stops every running step, marks
  them Canceled, and leaves the rest NotStarted (KeyboardInterrupt is re-raised).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from azml.errors import AzmlError, LaunchError
from azml.targets.local.executor import Executor, Handle, Job
from azml.targets.local.model import OK, Status


@dataclass(frozen=True)
class Outcome:
    """How a step ended."""

    status: str
    reason: str = ""


class Hooks(Protocol):
    """What the scheduler asks of the run around it."""

    def prepare(self, step_id: str) -> Job | Outcome: ...

    def started(self, step_id: str, handle: Handle) -> None: ...

    def finished(self, step_id: str, handle: Handle, exit_code: int, canceled: str) -> Outcome:
        """``canceled`` says why the step was stopped, empty if it was not."""

    def settled(self, step_id: str, outcome: Outcome) -> None: ...

    def blocked(self, step_id: str, reason: str) -> None: ...

    def requests(self, force: bool = False) -> tuple[bool, set[str]]:
        """Cancel requests: the whole run?, and which steps; may be throttled unless ``force``."""

    def tick(self) -> None: ...


class Scheduler:
    """Runs a DAG of steps through an executor."""

    def __init__(
        self,
        upstream: Mapping[str, Sequence[str]],
        executor: Executor,
        hooks: Hooks,
        *,
        max_parallel: int,
        fail_fast: bool = False,
        wait_seconds: float = 0.2,
    ) -> None:
        self.order = list(upstream)
        self.upstream = {k: tuple(v) for k, v in upstream.items()}
        self.position = {sid: index for index, sid in enumerate(self.order)}
        self.downstream: dict[str, list[str]] = {sid: [] for sid in self.order}
        for sid, ups in self.upstream.items():
            for up in ups:
                self.downstream[up].append(sid)
        #: per step, how many upstream steps have not ended well yet
        self.missing = {sid: len(ups) for sid, ups in self.upstream.items()}
        #: steps whose upstream all ended well, not yet prepared: a heap of plan positions
        self.ready: list[int] = [self.position[s] for s, n in self.missing.items() if n == 0]
        heapq.heapify(self.ready)
        self.executor = executor
        self.hooks = hooks
        self.max_parallel = max(1, max_parallel)
        self.fail_fast = fail_fast
        self.wait_seconds = wait_seconds
        self.done: dict[str, str] = {}
        self.queued: dict[str, Job] = {}
        self.running: dict[str, Handle] = {}
        self.cancel: set[str] = set()
        self.stopping = ""

    def run(self) -> dict[str, str]:
        """Run to the end; the final status of every step (NotStarted if it never ran)."""
        try:
            self._loop()
        except BaseException:
            self._interrupt()
            raise
        return {sid: self.done.get(sid, Status.NOT_STARTED) for sid in self.order}

    def _loop(self) -> None:
        while True:
            self._handle_requests()
            self._reap()
            self._settle_ready()
            self._start_queued()
            if not self.running and not self.queued and not self._any_ready():
                self._block_rest()
                return
            self.hooks.tick()
            if self.running:
                self.executor.wait(list(self.running.values()), self.wait_seconds)

    def _handle_requests(self, force: bool = False) -> None:
        stop_run, steps = self.hooks.requests(force)
        if stop_run and not self.stopping:
            self._stop_everything("the run was canceled")
        for sid in steps - self.cancel:
            if sid not in self.upstream or sid in self.done:
                continue
            self.cancel.add(sid)
            if sid in self.running:
                self.executor.stop(self.running[sid])
            else:
                self.queued.pop(sid, None)
                self._settle(sid, Outcome(Status.CANCELED, "canceled before it started"))

    def _reap(self) -> None:
        for sid, handle in list(self.running.items()):
            code = self.executor.poll(handle)
            if code is None:
                continue
            if code != 0 and sid not in self.cancel and not self.stopping:
                self._handle_requests(force=True)  # was it stopped by a cancel request?
            del self.running[sid]
            canceled = "canceled on request" if sid in self.cancel else self.stopping
            outcome = self.hooks.finished(sid, handle, code, canceled)
            self._mark(sid, outcome.status)
            if outcome.status not in OK:
                self._after_failure(sid, outcome)

    def _after_failure(self, sid: str, outcome: Outcome) -> None:
        if self.fail_fast and not self.stopping:
            self._stop_everything(f"fail_fast: step {sid} {outcome.status}")

    def _stop_everything(self, why: str) -> None:
        self.stopping = why
        for handle in self.running.values():
            self.executor.stop(handle)
        for sid in list(self.queued):
            del self.queued[sid]
            self.done[sid] = Status.NOT_STARTED
            self.hooks.blocked(sid, why)

    def _mark(self, sid: str, status: str) -> None:
        """Record how ``sid`` ended; its dependents whose upstream all ended well become ready."""
        self.done[sid] = status
        if status not in OK:
            return
        for down in self.downstream[sid]:
            self.missing[down] -= 1
            if self.missing[down] == 0 and down not in self.done:
                heapq.heappush(self.ready, self.position[down])

    def _any_ready(self) -> bool:
        return not self.stopping and bool(self.ready)

    def _settle_ready(self) -> None:
        """Prepare every ready step in plan order (reuse settles at once and cascades)."""
        while self.ready and not self.stopping:
            sid = self.order[heapq.heappop(self.ready)]
            if sid in self.done:
                continue
            prepared = self._prepare(sid)
            if isinstance(prepared, Outcome):
                self._settle(sid, prepared)
            else:
                prepared.slots = max(1, min(prepared.slots, self.max_parallel))
                self.queued[sid] = prepared

    def _prepare(self, sid: str) -> Job | Outcome:
        try:
            return self.hooks.prepare(sid)
        except AzmlError as exc:
            return Outcome(Status.FAILED, exc.message)

    def _settle(self, sid: str, outcome: Outcome) -> None:
        self._mark(sid, outcome.status)
        self.hooks.settled(sid, outcome)
        if outcome.status not in OK:
            self._after_failure(sid, outcome)

    def _start_queued(self) -> None:
        if self.stopping:
            return
        used = sum(h.job.slots for h in self.running.values())
        for sid, job in list(self.queued.items()):
            if used + job.slots > self.max_parallel:
                continue
            del self.queued[sid]
            try:
                handle = self.executor.start(job)
            except LaunchError as exc:
                self._settle(sid, Outcome(Status.FAILED, exc.message))
                if self.stopping:
                    return
                continue
            self.running[sid] = handle
            used += job.slots
            self.hooks.started(sid, handle)

    def _block_rest(self) -> None:
        for sid in self.order:
            if sid in self.done:
                continue
            self.done[sid] = Status.NOT_STARTED
            bad = [up for up in self.upstream[sid] if self.done.get(up) not in OK]
            if bad:
                why = f"upstream {bad[0]} {self.done.get(bad[0], 'NotStarted')}"
            else:
                why = self.stopping or "not started"
            self.hooks.blocked(sid, why)

    def _interrupt(self) -> None:
        """Stop every running step after a KeyboardInterrupt, and record them Canceled."""
        self.stopping = "interrupted (Ctrl-C)"
        for handle in self.running.values():
            self.executor.stop(handle)
        while self.running:
            try:
                self._reap()
                if self.running:
                    self.executor.wait(list(self.running.values()), 0.05)
            except KeyboardInterrupt:
                continue
        for sid in list(self.queued):
            del self.queued[sid]
        self._block_rest()
