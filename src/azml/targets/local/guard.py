"""The step guard: one small process per step run that owns the step's whole process tree.

Why: a step's processes must not outlive it, nor the orchestrator (on AzureML the
container goes away with the job). Process groups and environment markers do not
hold: launchers put ranks in groups and sessions of their own, and a daemon can
call ``setsid`` and clear its environment. A *child subreaper*
(``PR_SET_CHILD_SUBREAPER``) does hold: every orphaned descendant of the guard is
re-parented to the guard, not to PID 1, so the guard always sees the whole tree.

The guard is forked from the orchestrator (no new interpreter to start) and from
then on uses nothing but this module and the standard library:

- it starts the step with stdout and stderr on a pipe it reads, and writes the
  output line by line, redacted, to the step log (and, for a launcher whose output
  is tagged per rank, to one ``rank.N.log`` per rank), so the orchestrator never
  holds log text;
- it watches the orchestrator through a pipe: end of file means the orchestrator
  is gone, and the guard then ends the tree and exits;
- SIGTERM (from the orchestrator or from ``azml cancel``) makes it end the tree;
- when the step's first process exits, whatever it left running is killed;
- at the very end it reports ``exit CODE`` and the step's last output line on
  its status pipe (``error TEXT`` when the program could not be executed).

:func:`terminate` is the one routine that stops processes (SIGTERM, a grace
period, then SIGKILL until nothing is left); the orchestrator and ``azml cancel``
use it too.
"""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azml.targets.local.logsink import LogSink

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Seconds between SIGTERM and SIGKILL.
GRACE_SECONDS = 2.0
READ_SIZE = 1 << 16


@dataclass
class GuardSpec:
    """What a guard starts, and where the output goes.

    Attributes:
        log_path: the step's combined log (created; appended to).
        tagged: the output is a launcher's, tagged per rank (mpirun, torchrun).
        redact: applied to every line before it is stored.
    """

    argv: list[str]
    cwd: Path
    env: Mapping[str, str]
    log_path: Path
    tagged: bool = False
    redact: Callable[[str], str] = field(default=lambda text: text)
    grace: float = GRACE_SECONDS


@dataclass
class Guard:
    """The orchestrator's side of a running guard.

    ``last_line`` is the step's last non-empty output line (redacted), known once
    the guard has ended: the failure reason does not depend on reading the log.
    """

    pid: int
    start: str | None
    control: int  # write end; closing it (or dying) tells the guard to end the tree
    status: int  # read end of the guard's status pipe
    pidfd: int | None
    last_line: str = ""


class GuardStartError(OSError):
    """The step's program could not be started."""


# -- the one terminate routine -------------------------------------------------------


def signal_pids(pids: Iterable[int], sig: int) -> None:
    """Send ``sig`` to each pid, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def terminate(
    find: Callable[[], list[int]],
    grace: float = GRACE_SECONDS,
    pause: Callable[[float], object] = time.sleep,
) -> bool:
    """Stop every process ``find`` returns: SIGTERM, up to ``grace`` seconds, then SIGKILL.

    ``find`` is asked again after each pause, so processes started meanwhile are
    stopped too. ``pause`` lets the guard keep reading output while it waits.
    Returns True when nothing is left.
    """
    pids = find()
    if not pids:
        return True
    signal_pids(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        pause(0.05)
        if not find():
            return True
    for _ in range(200):
        pids = find()
        if not pids:
            return True
        signal_pids(pids, signal.SIGKILL)
        pause(0.02)
    return not find()


def descendants(root: int) -> list[int]:
    """Live (not zombie) processes below ``root``, found through ``/proc``.

    Zombies are walked through, not returned: a process that has just died may
    still be the parent on record of children being re-parented.
    """
    children: dict[int, list[int]] = {}
    dead: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split(b" ", 2)
        if len(fields) < 2:
            continue
        pid = int(entry.name)
        if fields[0] in (b"Z", b"X"):
            dead.add(pid)
        children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in dead:
                found.append(child)
            todo.append(child)
    return found


# -- the orchestrator's side ------------------------------------------------------------


def spawn(spec: GuardSpec) -> Guard:
    """Fork a guard for ``spec``; it starts the step. Returns at once (no wait for the exec).

    Raises:
        GuardStartError: the program is not an executable file (checked before forking);
            a later failure to execute it is reported as the step's exit code 127.
    """
    _check_program(spec.argv[0], spec.env)
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    spec.log_path.touch()  # the log exists as soon as the step is started
    control_r, control_w = os.pipe()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (runs in the child; covered by the executor's tests)
        code = 70
        try:
            os.setsid()  # first: a Ctrl-C at the terminal must not reach the guard
            os.close(control_w)
            os.close(status_r)
            code = _guard_main(spec, control_r, status_w)
        finally:
            os._exit(code)
    os.close(control_r)
    os.close(status_w)
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    return Guard(pid, _start_time(pid), control_w, status_r, pidfd)


def _check_program(program: str, env: Mapping[str, str]) -> None:
    if os.sep in program:
        found: str | None = program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    else:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise GuardStartError(f"{program}: no such executable file")


def exit_code(guard: Guard) -> int | None:
    """The step's exit code once the guard has ended (it is then reaped), else None."""
    try:
        done, _ = os.waitpid(guard.pid, os.WNOHANG)
    except ChildProcessError:
        done = guard.pid
    if done == 0:
        return None
    report = _read_all(guard.status)
    for fd in (guard.control, guard.status, guard.pidfd):
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    guard.pidfd = None
    code = -signal.SIGKILL  # unless it says otherwise, the guard was killed before it could report
    for line in report.splitlines():
        if line.startswith("exit "):
            code = int(line.split()[1])
        elif line.startswith("last "):
            guard.last_line = line[5:]
        elif line.startswith("error "):
            code, guard.last_line = 127, f"could not start {line[6:]}"
    return code


def _read_all(fd: int) -> str:
    chunks = []
    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else ""


# -- the guard itself ---------------------------------------------------------------------


def _guard_main(spec: GuardSpec, control: int, status: int) -> int:  # pragma: no cover
    """The guard's life: start the step, relay its output, end its tree. Returns 0."""
    _quiet_stdio()
    _close_other_fds((control, status))
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    # handlers, not SIG_IGN: the step must start with every signal at its default
    # (exec resets handled signals, but keeps ignored ones ignored)
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sink = LogSink(spec.log_path, spec.tagged, spec.redact)
    out_r, out_w = os.pipe()
    try:
        step = subprocess.Popen(
            spec.argv, cwd=spec.cwd, env=dict(spec.env), stdin=subprocess.DEVNULL, stdout=out_w,
            stderr=out_w, start_new_session=True, close_fds=True)
    except OSError as exc:
        _report(status, f"error {spec.argv[0]}: {exc.strerror or exc}")
        return 0
    os.close(out_w)
    life = _Life(step.pid, out_r, control, wake_r, sink, spec.grace)
    code = life.run()
    sink.close()
    _report(status, f"exit {code}\nlast {sink.last}")
    return 0


class _Life:  # pragma: no cover (runs in the guard process)
    """The guard's loop around one step."""

    def __init__(self, leader: int, out: int, control: int, wake: int, sink: LogSink,
                 grace: float) -> None:
        self.leader, self.wake, self.sink, self.grace = leader, wake, sink, grace
        self.out: int | None = out
        self.control: int | None = control
        self.code: int | None = None
        self.stop = False

    def run(self) -> int:
        """Relay output until the leader ends or a stop; then end the tree and read to the end."""
        while self.code is None and not self.stop:
            self._step(None)
        if self.stop:
            terminate(self._tree, self.grace, self._step)
        elif self._has_children():
            terminate(self._tree, 0.0, self._step)  # what the leader left behind
        while self.out is not None:  # every writer is gone (or going): read to the end
            if not self._step(0.5) and not self._tree():
                while self.out is not None:
                    self._read_out()
        self._reap()
        return self.code if self.code is not None else -signal.SIGKILL

    def _tree(self) -> list[int]:
        """Every live process of the step. Empty only when the guard has no child left.

        As a subreaper the guard inherits every orphan, so any live descendant
        keeps a live child of the guard: "no children" is exact, while a scan of
        ``/proc`` can miss a process being re-parented at that moment.
        """
        me = os.getpid()
        for _ in range(2000):
            self._reap()
            if not self._has_children():
                return []
            found = descendants(me)
            if found:
                return found
            time.sleep(0.002)
        return []

    def _step(self, timeout: float | None) -> bool:
        """Wait for output, a signal, the orchestrator going away or a child ending.

        Returns False when nothing happened within ``timeout``.
        """
        fds = [self.wake] + [fd for fd in (self.control, self.out) if fd is not None]
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        if self.out is not None and self.out in ready:
            self._read_out()
        if self.wake in ready:
            self._signals()
        if self.control is not None and self.control in ready and not _read(self.control):
            os.close(self.control)
            self.control = None
            self.stop = True
        self._reap()
        return bool(ready)

    def _read_out(self) -> None:
        assert self.out is not None
        data = _read(self.out, READ_SIZE)
        if data:
            self.sink.feed(data)
        else:
            os.close(self.out)
            self.out = None
            self.sink.finish()

    def _signals(self) -> None:
        data = _read(self.wake)
        if signal.SIGTERM in data or signal.SIGHUP in data or signal.SIGINT in data:
            self.stop = True

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.leader:
                self.code = os.waitstatus_to_exitcode(status)

    @staticmethod
    def _has_children() -> bool:
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return True


def _read(fd: int, size: int = 256) -> bytes:  # pragma: no cover
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return b"\0"  # nothing to read now, but not the end
    except OSError:
        return b""


def _report(fd: int, line: str) -> None:  # pragma: no cover
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:
        pass


def _quiet_stdio() -> None:  # pragma: no cover
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _close_other_fds(keep: tuple[int, ...]) -> None:  # pragma: no cover
    """Close every inherited descriptor but ``keep`` (and 0-2): other guards' pipes above all."""
    keep_set = set(keep) | {0, 1, 2}
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep_set:
            try:
                os.close(fd)
            except OSError:
                pass


def _prctl(option: int, value: int) -> None:  # pragma: no cover
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass
