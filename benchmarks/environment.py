"""The tools under test, the benchmark's own DVC environment, and the machine.

DVC is not a dependency of azml: the harness installs it into
``benchmarks/.venv-dvc`` (git-ignored) with ``python -m venv`` and pip the first
time it is needed. If that fails, DVC is reported as unavailable with the reason.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"
DVC_VENV = BENCH_DIR / ".venv-dvc"
DVC_REQUIREMENT = "dvc"
INSTALL_TIMEOUT = 300.0
#: Variables of the caller's environment that would change what azml does.
CLEARED_PREFIXES = ("AZML_", "AML_COMPUTE_", "BLOB_", "DVC_")

Log = Callable[[str], None]


@dataclass
class Tools:
    """Where the commands under test are, and why any is missing.

    Attributes:
        python: the interpreter azml is installed in; steps and baselines run on it.
        azml: how to start azml: the ``azml`` console script next to the interpreter,
            or ``python -m azml`` when that script is not azml's (azureml-core ships
            one of the same name).
        dvc: the benchmark venv's ``dvc``, or None (see ``dvc_reason``).
        mpirun: Open MPI's launcher, or None.
        dvc_install_seconds: time spent installing DVC in this run, if it was.
    """

    python: str
    azml: list[str]
    dvc: str | None = None
    dvc_reason: str = "not looked for"
    mpirun: str | None = None
    dvc_install_seconds: float | None = None


def find_tools() -> Tools:
    """The interpreter running the harness, its ``azml`` and ``mpirun`` (DVC comes later)."""
    python = sys.executable
    script = Path(python).parent / "azml"
    azml = [str(script)] if _is_our_azml([str(script)]) else [python, "-m", "azml"]
    return Tools(python=python, azml=azml, mpirun=shutil.which("mpirun"))


def _is_our_azml(argv: list[str]) -> bool:
    """Whether ``argv --help`` is this project's CLI (it lists ``validate`` and ``plan``)."""
    try:
        proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "validate" in proc.stdout and "plan" in proc.stdout


def azml_works(tools: Tools) -> bool:
    """Whether azml (as ``tools.azml`` starts it) answers ``--help``."""
    return _is_our_azml(tools.azml)


def ensure_dvc(tools: Tools, log: Log) -> None:
    """Make ``tools.dvc`` usable, installing DVC into ``benchmarks/.venv-dvc`` if needed.

    On failure ``tools.dvc`` stays None and ``tools.dvc_reason`` says why.
    """
    dvc = DVC_VENV / "bin" / "dvc"
    if _works([str(dvc), "--version"]):
        tools.dvc, tools.dvc_reason = str(dvc), ""
        return
    log(f"installing DVC into {DVC_VENV} (once; about a minute)")
    start = time.perf_counter()
    reason = _install_dvc(tools.python)
    tools.dvc_install_seconds = time.perf_counter() - start
    if reason is None and _works([str(dvc), "--version"]):
        tools.dvc, tools.dvc_reason = str(dvc), ""
        log(f"DVC installed in {tools.dvc_install_seconds:.0f} s")
    else:
        tools.dvc_reason = reason or "dvc installed but does not start"
        log(f"DVC unavailable: {tools.dvc_reason}")


def _install_dvc(python: str) -> str | None:
    """Create the venv and pip-install DVC; None on success, else the reason."""
    venv_python = DVC_VENV / "bin" / "python"
    steps = []
    if not venv_python.exists():
        steps.append(([python, "-m", "venv", str(DVC_VENV)], "python -m venv"))
    steps.append(([str(venv_python), "-m", "pip", "install", "--quiet",
                   "--disable-pip-version-check", DVC_REQUIREMENT], "pip install dvc"))
    for argv, what in steps:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{what} failed: {exc.__class__.__name__}"
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines()
                     if ln.strip() and not ln.startswith("WARNING")]
            tail = lines[-1].strip() if lines else f"exit {proc.returncode}"
            return f"{what} failed: {tail[:160]}"
    return None


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def case_env(tools: Tools, folder: Path, cache_home: Path | None = None) -> dict[str, str]:
    """The environment every command of a case runs with, private to ``folder``.

    azml gets its own ``AZML_HOME`` and datastore root under ``folder``; DVC its own
    site cache and no analytics; Open MPI may run as root (as on CI machines).
    ``PYTHONDONTWRITEBYTECODE`` is dropped: Python caches bytecode, as it does by default.
    ``XDG_CACHE_HOME`` (where azml remembers configs it found schema-valid) is
    ``cache_home``, shared by the runs of one harness run, never the user's own; so are
    the step environments (built once, in the warm-up), while uv's package cache stays
    the user's, so that building them does not download again. Tracking is off: every
    case has its own ``AZML_HOME``, and with it would start its own MLflow server
    (tracking's cost is measured by ``benchmarks/tracking.py``).
    """
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uv")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(CLEARED_PREFIXES) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "PATH": os.pathsep.join([str(Path(tools.python).parent), env.get("PATH", "")]),
        "AZML_HOME": str(folder / ".azml"),
        "AZML_DATASTORE_ROOT": str(folder / "datastores"),
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(folder / ".dvc-site"),
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "PYTHONUNBUFFERED": "1",
        "XDG_CACHE_HOME": str(cache_home or folder / ".cache"),
        "UV_CACHE_DIR": uv_cache,
        "AZML_TRACKING": "off",
    })
    return env


def python_has(tools: Tools, module: str) -> bool:
    """Whether the azml interpreter finds ``module`` as a real module or package.

    A folder without ``__init__.py`` (a namespace package, work in progress) does not count.
    """
    code = (f"import importlib.util,sys; s = importlib.util.find_spec({module!r}); "
            "sys.exit(s is None or s.origin is None)")
    return _works([tools.python, "-c", code])


def machine(tools: Tools) -> list[tuple[str, str]]:
    """The machine and software the numbers were taken on, as (what, value) rows."""
    return [
        ("Date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("Memory", _memory()),
        ("OS", _os_name()),
        ("Python", f"{platform.python_version()} ({tools.python})"),
        ("azml commit", azml_commit()),
        ("DVC", _first_line([tools.dvc, "--version"]) if tools.dvc
         else f"n/a ({tools.dvc_reason})"),
        ("Open MPI", _first_line([tools.mpirun, "--version"]) if tools.mpirun
         else "n/a (no mpirun)"),
    ]


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine-wide CPU ticks and this process tree's CPU seconds at one moment."""

    steal: int
    busy: int
    total: int
    own_seconds: float
    wall: float


def cpu_snapshot() -> CpuSnapshot | None:
    """Read ``/proc/stat`` and our own rusage; None where there is no ``/proc/stat``."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    except (OSError, ValueError, IndexError):
        return None
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    busy = user + nice + system + irq + softirq
    return CpuSnapshot(steal, busy, busy + idle + iowait + steal, own, time.perf_counter())


def interference(before: CpuSnapshot | None, after: CpuSnapshot | None) -> list[tuple[str, str]]:
    """Machine rows saying how much other processes and the hypervisor took meanwhile."""
    if before is None or after is None or after.total <= before.total:
        return [("Other load while measuring", "unknown")]
    hz = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    capacity = (after.wall - before.wall) * cores
    others = (after.busy - before.busy) / hz - (after.own_seconds - before.own_seconds)
    steal = (after.steal - before.steal) / (after.total - before.total)
    return [("Other load while measuring",
             f"{100 * max(others, 0.0) / capacity:.0f}% of the {cores} cores busy with "
             "processes outside the benchmark"),
            ("CPU steal while measuring", f"{100 * steal:.1f}% of CPU time")]


def azml_commit() -> str:
    """``HEAD``'s short hash, noting uncommitted changes under ``src/``."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    note = " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    return head.stdout.strip() + note


def _first_line(argv: list[str | None]) -> str:
    try:
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc.__class__.__name__})"
    lines = [ln.strip() for ln in (proc.stdout or proc.stderr).splitlines() if ln.strip()]
    return lines[0] if lines else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _os_name() -> str:
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{pretty or platform.system()}, kernel {platform.release()}"
