"""Step environments: a virtual environment per distinct requirement set, built with uv.

On AzureML each step runs in an image built from its requirements; locally each
step runs in a venv built from the same requirement lines (those the plan sends
to AzureML, plus what the target adds, e.g. ``azureml-defaults`` for v1), so a
package missing from the requirements fails here as it would there.

Cache. ``<envs root>/envs/<key>/`` (the root is ``AZML_ENVS``, else azml's user cache
folder: :attr:`azml.settings.Settings.envs_root`) where ``key`` digests the plan's environment
digest, the lines, the interpreter (path and full version: a venv is bound to
it), uv's version and the package sources. Steps with the same key share one
venv, built once and reused by every later run.

Never half-built. Building happens under an exclusive lock
(``envs/<key>.lock``, ``flock``), in place (venvs are not relocatable: scripts
carry absolute paths), and ends by writing ``<key>/.azml-env.json`` atomically
(``os.replace``). Only a folder with that marker is used. A folder without it
(a build killed or interrupted) is removed and built again; a failed build
removes its folder before raising.

Resolution first. :meth:`EnvBuilder.prepare` resolves every missing environment
(``uv pip compile``) before it installs any, so an unresolvable requirement is an
error naming the file and line before any step starts.

Installed versions preferred. ``uv pip compile`` treats the pins already in its
output file as preferences: it keeps a pinned version whenever the requirements
accept it. The builder writes ``name==version`` of every distribution installed
in azml's own environment into that file first. So a bare ``torch`` line resolves
to the ``2.13.0+cpu`` already installed (found in pip's ``find-links`` folder)
instead of the newest CUDA build, and uv links the files from its cache instead
of downloading them again. A requirement that excludes the installed version
still gets what it asks for.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from azml.errors import StepEnvironmentError
from azml.targets.local import reqlines
from azml.targets.local.envprogress import Progress
from azml.targets.local.pipsources import PackageSources, read_pip_sources

#: The run summary's line when ``azml run --env current`` skips step environments.
CURRENT_ENV_NOTE = ("--env current: every step ran with azml's own interpreter and packages, "
                    "not in an environment built from its requirements, so a package missing "
                    "from a requirements file went unnoticed")
BUILDER_VERSION = "1"
MARKER = ".azml-env.json"
ENVS_FOLDER = "envs"
#: Shell variables uv may see: what it needs to run, find its cache and reach the network.
UV_PASSTHROUGH = ("PATH", "HOME", "LANG", "TMPDIR", "USER", "UV_CACHE_DIR", "XDG_CACHE_HOME",
                  "XDG_DATA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY",
                  "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")
_PARSE_ERROR = re.compile(r"parse requirement in `[^`]*` at position (\d+)")


@dataclass(frozen=True)
class EnvRequest:
    """One environment to provide, as the plan describes it.

    Attributes:
        lines: requirement lines exactly as sent to AzureML, then the target's own.
        python: ``major.minor``.
        digest: the plan's digest of the lines and every file involved.
        files: the requirements files the lines were read from (for messages).
        added: lines the target adds (not in any file), e.g. ``azureml-defaults``.
        steps: the steps that use this environment (for progress and messages).
    """

    lines: tuple[str, ...]
    python: str
    digest: str
    files: tuple[Path, ...] = ()
    added: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Env:
    """A complete step environment."""

    key: str
    path: Path
    python: Path
    built: bool = False
    seconds: float = 0.0
    packages: tuple[str, ...] = field(default=(), compare=False)

    @property
    def bin(self) -> Path:
        return self.path / "bin"


@dataclass(frozen=True)
class Interpreter:
    """A base Python interpreter to build venvs on."""

    path: Path
    version: str  # full, e.g. 3.11.7


def uv_binary() -> str:
    """The uv executable shipped by the ``uv`` package."""
    try:
        from uv import find_uv_bin
    except ImportError:  # pragma: no cover - uv is a dependency of azml
        found = shutil.which("uv")
        if found:
            return found
        raise StepEnvironmentError("", "uv is not installed", advice="pip install uv") from None
    return str(find_uv_bin())


def installed_versions() -> dict[str, str]:
    """``normalized name -> version`` of every distribution in azml's own environment."""
    from importlib import metadata  # only when resolving: it is slow to import

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and dist.version:
            found.setdefault(reqlines.normalize(name), dist.version)
    return found


def _packaged_uv_version(binary: str) -> str | None:
    """The ``uv`` package's version when ``binary`` is the one it ships.

    Read from the name of its ``uv-X.Y.Z.dist-info`` folder: no subprocess and no
    ``importlib.metadata`` on the path every run takes.
    """
    try:
        import uv
        from uv import find_uv_bin

        if os.path.realpath(find_uv_bin()) != os.path.realpath(binary):
            return None
        site = Path(uv.__file__).resolve().parent.parent
        infos = sorted(p.name for p in site.glob("uv-*.dist-info"))
    except (ImportError, OSError):
        return None
    if len(infos) != 1:
        return None
    return "uv " + infos[0][len("uv-"):-len(".dist-info")]


def network_reachable(hosts: Sequence[str], timeout: float = 1.5) -> bool:
    """Whether any of ``hosts`` accepts a TCP connection on 443 (True when there are none)."""
    import socket

    if not hosts:
        return True
    for host in hosts:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                return True
        except OSError:
            continue
    return False


class EnvBuilder:
    """Builds and finds step environments under ``<home>/envs``.

    Args:
        home: ``AZML_HOME``.
        sources: package sources; default: pip's configuration here.
        preferences: versions to prefer; default: azml's own environment.
        offline: resolve and install from local sources and caches only; default:
            offline when no remote index answers.
        out: where progress lines go.
        environ: the shell environment (for pip's configuration and uv's cache).
    """

    def __init__(self, home: Path, *, sources: PackageSources | None = None,
                 preferences: Mapping[str, str] | None = None, offline: bool | None = None,
                 out: TextIO = sys.stderr, environ: Mapping[str, str] | None = None,
                 uv: str | None = None) -> None:
        self.root = home / ENVS_FOLDER
        self.environ = dict(os.environ if environ is None else environ)
        self.sources = sources if sources is not None else read_pip_sources(self.environ)
        self._preferences = preferences
        self._offline = offline
        self.out = out
        self.uv = uv or uv_binary()
        self._uv_version: str | None = None
        self._interpreters: dict[str, Interpreter] = {}

    # -- identity ------------------------------------------------------------------

    @property
    def uv_version(self) -> str:
        if self._uv_version is None:
            self._uv_version = _packaged_uv_version(self.uv) or self._run(
                [self.uv, "--version"], "uv --version").stdout.strip()
        return self._uv_version

    @property
    def offline(self) -> bool:
        if self._offline is None:
            self._offline = not network_reachable(self.sources.remote_hosts())
        return self._offline

    def interpreter(self, python: str) -> Interpreter:
        """The base interpreter for ``python`` (``major.minor``); this one when it matches."""
        if python not in self._interpreters:
            self._interpreters[python] = self._find_interpreter(python)
        return self._interpreters[python]

    def key(self, request: EnvRequest) -> str:
        """The cache key of ``request``'s environment on this machine."""
        interp = self.interpreter(request.python)
        body = {"builder": BUILDER_VERSION, "digest": request.digest, "lines": list(request.lines),
                "python": [str(interp.path), interp.version], "uv": self.uv_version,
                "platform": platform.machine(), "sources": self.sources.identity()}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def find(self, request: EnvRequest) -> Env | None:
        """The complete environment of ``request``, or None when it must be built."""
        key = self.key(request)
        return self._complete(key)

    # -- building ------------------------------------------------------------------

    def prepare(self, requests: Sequence[EnvRequest]) -> dict[str, Env]:
        """Every requested environment, by request digest: found, or resolved then built.

        All missing environments are resolved before any is installed, so a
        requirement that cannot be resolved stops everything before it starts.

        Raises:
            StepEnvironmentError: naming the requirements file and line.
        """
        envs: dict[str, Env] = {}
        missing: list[tuple[EnvRequest, str]] = []
        for request in _unique(requests):
            found = self.find(request)
            if found is not None:
                envs[request.digest] = found
            else:
                missing.append((request, self.key(request)))
        pins = {key: self.resolve(request) for request, key in missing}
        for request, key in missing:
            envs[request.digest] = self.build(request, pins[key])
        return envs

    def resolve(self, request: EnvRequest) -> list[str]:
        """Pinned ``name==version`` lines for ``request`` (``uv pip compile``)."""
        interp = self.interpreter(request.python)
        with tempfile.TemporaryDirectory(prefix="azml-resolve-") as tmp:
            source = Path(tmp) / "requirements.in"
            text = "".join(f"{line}\n" for line in request.lines)
            source.write_text(text)
            output = Path(tmp) / "requirements.txt"
            output.write_text(self._preference_text())
            argv = [self.uv, "pip", "compile", str(source), "-o", str(output), "--python",
                    str(interp.path), "--no-header", "--no-annotate", "--quiet",
                    *self._source_args()]
            done = self._run(argv, "uv pip compile", check=False, cwd=Path(tmp))
            if done.returncode != 0:
                raise self._resolution_error(request, text, done.stderr)
            return [line for line in output.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]

    def build(self, request: EnvRequest, pins: Sequence[str]) -> Env:
        """Install ``pins`` into the environment of ``request`` (under the lock)."""
        key = self.key(request)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock(key):
            found = self._complete(key)
            if found is not None:
                return found  # another azml built it while we waited
            return self._build_locked(request, key, pins)

    def _build_locked(self, request: EnvRequest, key: str, pins: Sequence[str]) -> Env:
        path = self.root / key
        if path.exists():
            shutil.rmtree(path)  # a build that never finished
        packages = tuple(_pin_names(pins))
        wanted = {reqlines.project_name(line) for line in request.lines}
        shown = sorted(packages, key=lambda p: (reqlines.normalize(p.split()[0]) not in wanted, p))
        progress = Progress(self.out, key[:8], request.steps, shown)
        start = time.monotonic()
        try:
            interp = self.interpreter(request.python)
            self._run([self.uv, "venv", str(path), "--python", str(interp.path), "--no-project",
                       "--quiet"], "uv venv")
            pinned = path / ".azml-requirements.txt"
            pinned.write_text("".join(f"{p}\n" for p in pins))
            done = self._run([self.uv, "pip", "sync", str(pinned), "--python",
                              str(path / "bin" / "python"), "--quiet", *self._source_args()],
                             "uv pip sync", check=False)
            if done.returncode != 0:
                raise self._install_error(request, done.stderr)
            seconds = time.monotonic() - start
            self._write_marker(path, request, key, pins, seconds)
        except BaseException:
            progress.fail()
            shutil.rmtree(path, ignore_errors=True)
            raise
        progress.done(seconds)
        return Env(key, path, path / "bin" / "python", True, seconds, packages)

    # -- internals -----------------------------------------------------------------

    def _complete(self, key: str) -> Env | None:
        path = self.root / key
        try:
            record = json.loads((path / MARKER).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        python = path / "bin" / "python"
        if not python.exists():
            return None
        return Env(key, path, python, False, 0.0, tuple(record.get("packages", ())))

    def _write_marker(self, path: Path, request: EnvRequest, key: str, pins: Sequence[str],
                      seconds: float) -> None:
        record = {"key": key, "lines": list(request.lines), "python": request.python,
                  "pins": list(pins), "packages": list(_pin_names(pins)),
                  "uv": self.uv_version, "seconds": round(seconds, 3), "built": time.time()}
        partial = path / (MARKER + ".partial")
        partial.write_text(json.dumps(record, indent=1))
        os.replace(partial, path / MARKER)

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        with open(self.root / f"{key}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _preference_text(self) -> str:
        prefs = self._preferences if self._preferences is not None else installed_versions()
        return "".join(f"{name}=={version}\n" for name, version in sorted(prefs.items())
                       if _PIN.match(f"{name}=={version}"))

    def _source_args(self) -> list[str]:
        return [*self.sources.uv_args(), *(["--offline"] if self.offline else [])]

    def _uv_env(self) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if k in UV_PASSTHROUGH or k.startswith("LC_")}
        env.update(self.sources.uv_environment())
        env.update({"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1",
                    "UV_NO_PROGRESS": "1"})
        return env

    def _run(self, argv: list[str], what: str, *, check: bool = True,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(argv, check=False, capture_output=True, text=True, env=self._uv_env(),
                                  cwd=cwd, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise StepEnvironmentError("", f"{what} could not start: {exc}") from None
        if check and done.returncode != 0:
            raise StepEnvironmentError("", f"{what} failed: {_last_lines(done.stderr)}")
        return done

    def _find_interpreter(self, python: str) -> Interpreter:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if python == here:
            base = Path(getattr(sys, "_base_executable", sys.executable) or sys.executable)
            return Interpreter(base, platform.python_version())
        done = self._run([self.uv, "python", "find", python, "--python-preference", "only-system"],
                         "uv python find", check=False)
        found = done.stdout.strip()
        if done.returncode != 0 or not found:
            raise StepEnvironmentError(
                "", f"Python {python} is not installed on this machine",
                advice=f"Install python{python} (e.g. apt-get install python{python}), "
                       "or run with --env current")
        version = self._run([found, "-c", "import platform; print(platform.python_version())"],
                            f"python{python}").stdout.strip()
        return Interpreter(Path(found), version)

    def _where(self, request: EnvRequest, index: int | None) -> tuple[str, str]:
        """``(where, requirement)`` of line ``index`` of ``request``."""
        if index is None or index >= len(request.lines):
            files = ", ".join(str(f) for f in request.files)
            return files, ""
        line = request.lines[index]
        origin = reqlines.locate(line, request.files)
        if origin is not None:
            return str(origin), line
        if line in request.added:
            return "added by azml because AzureML installs it for every step", line
        return ", ".join(str(f) for f in request.files), line

    def _resolution_error(self, request: EnvRequest, text: str, stderr: str) -> StepEnvironmentError:
        parse = _PARSE_ERROR.search(stderr)
        if parse:
            index: int | None = reqlines.line_at_position(text, int(parse.group(1)))
        else:
            index = reqlines.culprit(stderr, request.lines)
        where, requirement = self._where(request, index)
        offline = " (offline: only local sources and caches were used)" if self.offline else ""
        return StepEnvironmentError(where, f"cannot be resolved{offline}: {_reason(stderr)}",
                                    requirement, request.steps)

    def _install_error(self, request: EnvRequest, stderr: str) -> StepEnvironmentError:
        where, requirement = self._where(request, reqlines.culprit(stderr, request.lines))
        return StepEnvironmentError(where, f"cannot be installed: {_reason(stderr)}",
                                    requirement, request.steps)


def _unique(requests: Sequence[EnvRequest]) -> list[EnvRequest]:
    seen: dict[str, EnvRequest] = {}
    for request in requests:
        if request.digest in seen:
            merged = tuple(dict.fromkeys([*seen[request.digest].steps, *request.steps]))
            seen[request.digest] = EnvRequest(request.lines, request.python, request.digest,
                                              request.files, request.added, merged)
        else:
            seen[request.digest] = request
    return list(seen.values())


def _pin_names(pins: Sequence[str]) -> list[str]:
    names = []
    for pin in pins:
        match = _PIN.match(pin.strip())
        if match:
            names.append(f"{match.group(1)} {match.group(2)}")
    return names


def _reason(stderr: str) -> str:
    """The useful part of uv's error: its ``cause:`` lines, else its last lines."""
    causes = [line.strip()[len("cause:"):].strip() for line in stderr.splitlines()
              if line.strip().startswith("cause:")]
    text = " ".join(causes) if causes else _last_lines(stderr)
    return " ".join(text.split())


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:]) or "no message"
