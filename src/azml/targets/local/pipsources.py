"""Where pip would take packages from, read the way pip reads it, and the same for uv.

uv ignores pip's configuration, but a step environment must install what
``pip install -r requirements.txt`` would on this machine (an index mirror, a
``find-links`` folder holding a CPU build of torch, a constraints file...). So
this module reads pip's configuration as ``pip config list`` shows it:

- files, later overriding earlier: global (``$XDG_CONFIG_DIRS``, default
  ``/etc/xdg``, each ``/pip/pip.conf``, then ``/etc/pip.conf``), user
  (``~/.pip/pip.conf``, then ``$XDG_CONFIG_HOME/pip/pip.conf``; skipped when
  ``PIP_CONFIG_FILE`` names an existing file), site (``<sys.prefix>/pip.conf``),
  then ``PIP_CONFIG_FILE``; ``PIP_CONFIG_FILE=/dev/null`` loads no file;
- per option, the ``[install]`` section overrides ``[global]``, and a ``PIP_*``
  variable overrides both (pip's ``_get_ordered_configuration_items``);
- list options (``extra-index-url``, ``find-links``, ``trusted-host``,
  ``constraint``) are whitespace-separated, and the winning source replaces, not
  extends, the others, as in pip.

:meth:`PackageSources.uv_args` turns them into uv options. pip merges the
candidates of every index and takes the best version; uv by default takes a
package from the first index that has it, and ranks ``--extra-index-url`` above
``--index-url``. ``--index-strategy unsafe-best-match`` is uv's name for pip's
behaviour, so it is always passed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LIST_KEYS = ("extra-index-url", "find-links", "trusted-host", "constraint")
SCALAR_KEYS = ("index-url", "no-index", "pre", "cert", "timeout")
#: pip accepts both spellings of these options (``--timeout``/``--default-timeout``).
ALIASES = {"default-timeout": "timeout", "extra-index-urls": "extra-index-url"}
DEFAULT_INDEX = "https://pypi.org/simple"
TRUE = ("1", "true", "yes", "on", "y", "t")


@dataclass(frozen=True)
class PackageSources:
    """Package sources and options pip would use for ``pip install``.

    Attributes:
        index_url: the main index (pip's default when not configured: PyPI).
        extra_index_urls: further indexes, merged with the main one.
        find_links: folders or pages of distribution files.
        no_index: ignore every index (find-links only).
        trusted_hosts: hosts allowed over plain HTTP or bad TLS.
        constraints: constraint files (paths or URLs), applied to every install.
        pre: allow pre-releases.
        cert: CA bundle for TLS.
        timeout: network timeout in seconds, as configured.
        files: the configuration files that were read.
    """

    index_url: str = DEFAULT_INDEX
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    trusted_hosts: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    pre: bool = False
    cert: str | None = None
    timeout: str | None = None
    files: tuple[str, ...] = field(default=(), compare=False)

    def uv_args(self) -> list[str]:
        """The uv options (``uv pip compile`` / ``uv pip sync``) for these sources."""
        args = ["--index-strategy", "unsafe-best-match"]
        if self.no_index:
            args.append("--no-index")
        else:
            args += ["--index-url", self.index_url]
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        for host in self.trusted_hosts:
            args += ["--allow-insecure-host", host]
        for constraint in self.constraints:
            args += ["--constraint", constraint]
        if self.pre:
            args += ["--prerelease", "allow"]
        return args

    def uv_environment(self) -> dict[str, str]:
        """Variables that carry pip's TLS and timeout settings over to uv."""
        env: dict[str, str] = {}
        if self.cert:
            env["SSL_CERT_FILE"] = self.cert
        if self.timeout:
            env["UV_HTTP_TIMEOUT"] = self.timeout
        return env

    def remote_hosts(self) -> list[str]:
        """Hosts of the http(s) indexes and find-links pages (nothing for local folders)."""
        urls = [] if self.no_index else [self.index_url, *self.extra_index_urls]
        hosts = [urlsplit(u).hostname for u in [*urls, *self.find_links]
                 if urlsplit(u).scheme in ("http", "https")]
        return list(dict.fromkeys(h for h in hosts if h))

    def identity(self) -> dict[str, object]:
        """What distinguishes these sources, for cache keys (constraint files by content)."""
        return {"index": None if self.no_index else self.index_url,
                "extra": list(self.extra_index_urls), "find_links": list(self.find_links),
                "trusted": list(self.trusted_hosts), "pre": self.pre,
                "constraints": {c: _content_digest(c) for c in self.constraints}}


def _content_digest(location: str) -> str | None:
    """SHA-256 of a local constraint file; None for a URL or a missing file."""
    if "://" in location and not location.startswith("file://"):
        return None
    path = Path(location.removeprefix("file://"))
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def config_files(environ: Mapping[str, str], prefix: str | None = None,
                 home: str | None = None) -> list[Path]:
    """pip's configuration files on this machine, in the order pip applies them."""
    home_dir = Path(home or environ.get("HOME") or os.path.expanduser("~"))
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and Path(env_file).exists()):
        files.append(home_dir / ".pip" / "pip.conf")
        xdg_home = environ.get("XDG_CONFIG_HOME") or str(home_dir / ".config")
        files.append(Path(xdg_home) / "pip" / "pip.conf")
    files.append(Path(prefix or sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def _normal_key(key: str) -> str:
    key = key.strip().lower().replace("_", "-")
    return ALIASES.get(key, key)


def _read_sections(files: list[Path]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """``{"global": {...}, "install": {...}}`` merged over ``files``, and the files read."""
    sections: dict[str, dict[str, str]] = {"global": {}, "install": {}}
    read: list[str] = []
    for path in files:
        if not path.is_file():
            continue
        import configparser  # only when a pip configuration file exists

        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue  # pip refuses such a file; sources stay as the other files say
        read.append(str(path))
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    sections[section][_normal_key(key)] = value
    return sections, read


def _env_options(environ: Mapping[str, str]) -> dict[str, str]:
    return {_normal_key(name[4:]): value for name, value in environ.items()
            if name.startswith("PIP_") and name not in ("PIP_CONFIG_FILE",)}


def read_pip_sources(environ: Mapping[str, str], *, prefix: str | None = None,
                     home: str | None = None) -> PackageSources:
    """The package sources pip would use here (see the module doc for the rules)."""
    sections, read = _read_sections(config_files(environ, prefix, home))
    layers = [sections["global"], sections["install"], _env_options(environ)]
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v.strip()})

    def many(key: str) -> tuple[str, ...]:
        return tuple(merged.get(key, "").split())

    def flag(key: str) -> bool:
        return merged.get(key, "").strip().lower() in TRUE

    return PackageSources(
        index_url=merged.get("index-url", DEFAULT_INDEX).strip() or DEFAULT_INDEX,
        extra_index_urls=many("extra-index-url"), find_links=many("find-links"),
        no_index=flag("no-index"), trusted_hosts=many("trusted-host"),
        constraints=many("constraint"), pre=flag("pre"),
        cert=merged.get("cert") or None, timeout=merged.get("timeout") or None,
        files=tuple(read))
