"""The driver's bookkeeping: which mini-batch goes where, tries, failures, thresholds.

Semantics, as AzureML's driver applies them (sources in docs/parallel.md):

- ``run()`` returning K rows for a mini-batch of S items: min(K, S) items
  succeeded and S - min(K, S) failed; the mini-batch is finished, not retried.
- ``run()`` raising (or returning neither a list nor a DataFrame), the worker
  dying, or ``run()`` outlasting ``run_invocation_timeout`` (the worker is killed
  and replaced): one failed try; the mini-batch is tried again until it has been
  tried ``run_max_try`` times, then all its items count as failed.
- ``error_threshold``: the job stops when more items than this have failed
  (-1: never); ``allowed_failed_count``/``allowed_failed_percent`` do the same
  for failed mini-batches. Failures are counted when a mini-batch's outcome is
  final (AzureML samples its counters every second, so it may also count a
  mini-batch between a failed try and a successful retry).
- a worker whose ``init()`` fails is replaced; after ``3 x workers`` failed
  ``init()`` calls the job fails (AzureML stops replacing a node's workers after
  ``3 x process_count_per_node`` failures).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from .inputs import MiniBatch
from .layout import Layout
from .options import Options
from .pool import Pool, Slot

INIT_FAILURES_PER_WORKER = 3
#: Mini-batches kept queued at a worker: at least 2, and about this many seconds of work,
#: so that a worker never waits for the driver even when the machine is busy, while slow
#: mini-batches (GPU scoring) stay spread over the workers.
QUEUED_SECONDS = 0.05
MIN_DEPTH, MAX_DEPTH = 2, 32


class JobFailed(Exception):
    """The job stopped: threshold exceeded, init() failing, or nothing succeeded."""


class Counts:
    """What happened so far: items, mini-batches, failed tries and init() calls."""

    def __init__(self) -> None:
        self.items_ok = 0
        self.items_failed = 0
        self.batches_ok = 0
        self.batches_failed = 0
        self.tries_failed = 0
        self.init_failures = 0
        self.first_error = ""
        self.error_logs: set[str] = set()


class Job:
    """Runs every mini-batch through a pool of workers."""

    def __init__(self, options: Options, pool: Pool, layout: Layout) -> None:
        self.options = options
        self.pool = pool
        self.layout = layout
        self.load([])
        self.spans: dict[int, tuple[Path, int, int]] = {}
        self.rows_files: set[Path] = set()
        self.counts = Counts()
        self.started = time.monotonic()
        self.next_progress = self.started + options.progress_interval

    def load(self, batches: list[MiniBatch]) -> None:
        """The job's mini-batches (the workers may already be starting)."""
        self.batches = batches
        self.queue: deque[int] = deque(range(len(batches)))
        self.tries = [0] * len(batches)
        self.final = [False] * len(batches)
        self.open = len(batches)
        self.total_items = sum(b.size for b in batches)
        self.batch_seconds = 1.0  # a running mean of recent mini-batch times; cautious at first

    @property
    def depth(self) -> int:
        """How many mini-batches to keep queued at each worker, from the recent batch time."""
        return max(MIN_DEPTH, min(MAX_DEPTH, int(QUEUED_SECONDS / max(self.batch_seconds, 1e-4)) + 1))

    def start_workers(self) -> None:
        """Start every worker; they import the entry script and run init() meanwhile."""
        for node in range(self.options.node_count):
            for _ in range(self.options.process_count_per_node):
                self.spawn(str(node))

    def run(self) -> Counts:
        """Process every loaded mini-batch; the counts, or JobFailed."""
        self.started = time.monotonic()
        self.next_progress = self.started + self.options.progress_interval
        while self.pool.slots:
            self.feed()
            for slot, message in list(self.pool.poll(self.wait_time())):
                if slot not in self.pool.slots:
                    continue
                if message is None:
                    self.on_exit(slot)
                else:
                    self.on_message(slot, message)
            self.enforce_deadlines()
            self.progress(force=False)
        if self.open:
            raise JobFailed(f"{self.open} mini batch(es) were never processed; see {self.layout.master}")
        self.progress(force=True)
        return self.counts

    # -- workers ---------------------------------------------------------------------------

    def spawn(self, node: str) -> None:
        slot = self.pool.spawn(node)
        if self.options.output is not None:
            name = f"temp_{node}_{slot.process.pid}_{self.options.append_row_file_name}"
            slot.rows_path = self.options.output / name
            self.rows_files.add(slot.rows_path)
        started = f"started {slot.name} on node {node} (pid {slot.process.pid})"
        self.layout.append(self.layout.master, started)
        self.sys_log(slot, started)

    def feed(self) -> None:
        for slot in self.pool.slots:
            if slot.stop_sent:
                continue
            tasks = []
            if slot.ready and self.queue and not slot.assigned:
                slot.run_started = time.monotonic()
            while slot.ready and self.queue and len(slot.assigned) < self.depth:
                bid = self.queue.popleft()
                tasks.append(dict(self.batches[bid].message(), **{"try": self.tries[bid] + 1}))
                slot.assigned.append(bid)
            if tasks:
                self.pool.send(slot, *tasks)
            if not self.open and not slot.assigned:
                self.pool.send(slot, {"stop": True})
                slot.stop_sent = True

    def wait_time(self) -> float:
        now = time.monotonic()
        deadlines = [self.next_progress] if self.options.progress_interval else []
        for slot in self.pool.slots:
            if slot.running is not None:
                deadlines.append(slot.run_started + self.options.run_invocation_timeout)
            elif not slot.ready:
                deadlines.append(slot.spawned + self.init_timeout)
        return min([d - now for d in deadlines] + [1.0])

    @property
    def init_timeout(self) -> float:
        # AzureML fails a job whose workers are stuck in init() for 3 x timeout + 30 s.
        return 3 * self.options.run_invocation_timeout + 30

    def on_message(self, slot: Slot, message: dict[str, Any]) -> None:
        event = message.get("ev")
        if event == "ready":
            slot.ready = True
        elif event == "done":
            bid = int(message["id"])
            if slot.assigned and slot.assigned[0] == bid:
                slot.assigned.popleft()
            started, slot.run_started = slot.run_started, time.monotonic()
            message["seconds"] = slot.run_started - started
            self.batch_seconds += 0.2 * (message["seconds"] - self.batch_seconds)
            if message.get("ok"):
                self.complete(slot, bid, message)
            else:
                self.fail_try(slot, bid, str(message.get("error", "")))
        elif event == "init_failed":
            slot.init_failed = True
            self.note_init_failure(slot, str(message.get("error", "")))
        elif event == "restart":
            slot.restarting = True  # it exits between mini-batches: nothing it holds has started
            self.layout.append(self.layout.master, f"{slot.name} on node {slot.node}: more than 10 "
                               "mini batches failed; the process exits and a new one starts")
        elif event == "bye":
            slot.finished = True

    def on_exit(self, slot: Slot) -> None:
        code = self.pool.retire(slot, kill=False)
        if slot.finished:
            return
        if slot.running is not None and not slot.restarting:
            bid = slot.running
            slot.assigned.popleft()
            self.fail_try(slot, bid, f"the worker process exited with code {code} during run()")
        elif not slot.ready and not slot.init_failed:
            self.note_init_failure(slot, f"the worker process exited with code {code} before init() returned")
        self.replace(slot)

    def replace(self, slot: Slot) -> None:
        """Put back what ``slot`` had not started and start another worker if work remains."""
        self.queue.extendleft(reversed(slot.assigned))
        slot.assigned.clear()
        if self.open:
            self.spawn(slot.node)

    def enforce_deadlines(self) -> None:
        now = time.monotonic()
        timeout = self.options.run_invocation_timeout
        for slot in list(self.pool.slots):
            if slot.running is not None and now - slot.run_started > timeout:
                bid = slot.running
                self.layout.append(self.layout.master, f"mini batch {bid} did not finish in {timeout} "
                                   f"seconds. Stopping this process ({slot.name} on node {slot.node}).")
                self.pool.retire(slot, kill=True)
                slot.assigned.popleft()
                self.fail_try(slot, bid, f"TimeoutError: run() did not return within {timeout} s "
                              "(run_invocation_timeout); the worker was killed")
                self.replace(slot)
            elif not slot.ready and now - slot.spawned > self.init_timeout:
                self.pool.retire(slot, kill=True)
                self.note_init_failure(slot, f"init() did not return within {self.init_timeout:.0f} s")
                self.replace(slot)

    # -- outcomes --------------------------------------------------------------------------

    def complete(self, slot: Slot, bid: int, message: dict[str, Any]) -> None:
        batch = self.batches[bid]
        count = int(message.get("count", 0))
        ok = min(count, batch.size)
        if count > batch.size:
            self.sys_log(slot, f"run() returned {count} items, more than the input count {batch.size}; "
                         "using the input count")
        if ok < batch.size:
            self.record_error(slot, bid, f"run() returned {count} row(s) for {batch.size} item(s); "
                              f"{batch.size - ok} item(s) count as failed")
        if self.options.output_action == "append_row" and slot.rows_path is not None:
            self.spans[bid] = (slot.rows_path, int(message.get("offset", 0)), int(message.get("length", 0)))
        self.counts.items_ok += ok
        self.counts.items_failed += batch.size - ok
        self.counts.batches_ok += 1
        self.finish(bid)
        self.sys_log(slot, f"mini batch {bid} (try {self.tries[bid] + 1}): {batch.size} items, {ok} succeeded, "
                     f"{batch.size - ok} failed, {float(message.get('seconds', 0)):.3f} s")

    def fail_try(self, slot: Slot, bid: int, error: str) -> None:
        self.tries[bid] += 1
        self.counts.tries_failed += 1
        tries = f"try {self.tries[bid]} of {self.options.run_max_try}"
        self.record_error(slot, bid, f"{tries}: {error}")
        self.sys_log(slot, f"mini batch {bid} failed ({tries}): {error}")
        if self.tries[bid] < self.options.run_max_try:
            self.queue.append(bid)
            return
        self.counts.items_failed += self.batches[bid].size
        self.counts.batches_failed += 1
        self.finish(bid)

    def finish(self, bid: int) -> None:
        """Mark a mini-batch's outcome final; stop the job at once if a threshold is passed."""
        if not self.final[bid]:
            self.final[bid] = True
            self.open -= 1
        self.check_thresholds()

    def note_init_failure(self, slot: Slot, error: str) -> None:
        self.counts.init_failures += 1
        self.counts.first_error = self.counts.first_error or f"init(): {error}"
        self.counts.error_logs.add(str(self.layout.process_file("error", slot.node, slot.name)))
        self.layout.append(self.layout.errors, f"{slot.name} on node {slot.node}: init() failed: {error} "
                           f"(traceback: {self.layout.process_file('error', slot.node, slot.name)})")
        limit = INIT_FAILURES_PER_WORKER * self.options.workers
        if self.counts.init_failures >= limit:
            raise JobFailed(f"init() failed {self.counts.init_failures} times (the limit is {limit}: "
                            f"3 x {self.options.workers} workers); first error: "
                            f"{self.counts.first_error}; see {self.layout.errors}")

    def record_error(self, slot: Slot, bid: int, error: str) -> None:
        batch = self.batches[bid]
        where = self.layout.process_file("error", slot.node, slot.name)
        self.counts.first_error = self.counts.first_error or f"mini batch {bid}: {error}"
        self.counts.error_logs.add(str(where))
        self.layout.append(self.layout.errors, f"mini batch {bid} (input '{batch.input_name}', "
                           f"{batch.size} items) on {slot.name}, node {slot.node}: {error} (details: {where})")

    def check_thresholds(self) -> None:
        o, c = self.options, self.counts
        if o.error_threshold >= 0 and c.items_failed > o.error_threshold:
            raise JobFailed(f"{c.items_failed} item(s) failed, more than error_threshold "
                            f"{o.error_threshold}; first error: {c.first_error}")
        if o.allowed_failed_count is not None and 0 <= o.allowed_failed_count < c.batches_failed:
            raise JobFailed(f"{c.batches_failed} mini batch(es) failed, more than allowed_failed_count "
                            f"{o.allowed_failed_count}; first error: {c.first_error}")
        if o.allowed_failed_percent is not None and self.batches:
            percent = 100.0 * c.batches_failed / len(self.batches)
            if percent > o.allowed_failed_percent:
                raise JobFailed(f"{percent:.1f}% of mini batches failed, more than allowed_failed_percent "
                                f"{o.allowed_failed_percent:g}; first error: {c.first_error}")

    # -- reporting -------------------------------------------------------------------------

    def sys_log(self, slot: Slot, line: str) -> None:
        self.layout.append(slot.sys_log, line)

    def progress(self, force: bool) -> None:
        now = time.monotonic()
        if not force and (not self.options.progress_interval or now < self.next_progress):
            return
        self.next_progress = now + self.options.progress_interval
        c = self.counts
        done = c.items_ok + c.items_failed
        rate = done / max(now - self.started, 1e-9)
        share = done / max(self.total_items, 1)
        bar = "#" * int(20 * share) + "." * (20 - int(20 * share))
        line = (f"ParallelRunStep [{bar}] {done:,}/{self.total_items:,} items "
                f"({100.0 * share:.0f}%), {c.items_failed:,} failed, "
                f"{rate:,.1f} items/s, mini batches {len(self.batches) - self.open:,}/{len(self.batches):,}")
        print(line, flush=True)
        self.layout.append(self.layout.overview, line)
        self.layout.flush()
