"""pip's configured package sources, read as pip reads them, handed to uv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from azml.targets.local.pipsources import DEFAULT_INDEX, PackageSources, read_pip_sources


def _pip_config_list(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], env=env, check=True,
                         capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'")
    return values


def _expected(listed: dict[str, str], option: str) -> str | None:
    """What pip would use for ``option``: env var, then [install], then [global]."""
    for section in (":env:", "install", "global"):
        if f"{section}.{option}" in listed:
            return listed[f"{section}.{option}"]
    return None


def test_matches_pip_config_list_on_this_machine() -> None:
    env = dict(os.environ)
    listed = _pip_config_list(env)
    sources = read_pip_sources(env)
    assert sources.extra_index_urls == tuple((_expected(listed, "extra-index-url") or "").split())
    assert sources.find_links == tuple((_expected(listed, "find-links") or "").split())
    assert sources.constraints == tuple((_expected(listed, "constraint") or "").split())
    assert sources.index_url == (_expected(listed, "index-url") or DEFAULT_INDEX)


def test_files_sections_and_variables_in_pip_order(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "pip").mkdir(parents=True)
    (xdg / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://mirror.example/simple\nfind-links = /a /b\n"
        "trusted-host = mirror.example\n")
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nextra-index-url = file:///x/simple\n[install]\nfind-links = /c\n"
        "[freeze]\nfind-links = /ignored\n")
    constraint = tmp_path / "c.txt"
    constraint.write_text("torch<=2.14\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(xdg), "PIP_CONSTRAINT": str(constraint),
           "PIP_DEFAULT_TIMEOUT": "60", "PIP_PRE": "yes"}
    sources = read_pip_sources(env, prefix=str(tmp_path / "no-venv"))
    listed = _pip_config_list({**env, "PATH": os.environ.get("PATH", "")})
    assert _expected(listed, "find-links") == "/c"
    # /etc/pip.conf is read whatever XDG_CONFIG_DIRS says (pip adds /etc): its cert counts
    assert sources == PackageSources(
        index_url="https://mirror.example/simple", extra_index_urls=("file:///x/simple",),
        find_links=("/c",), trusted_hosts=("mirror.example",), constraints=(str(constraint),),
        pre=True, timeout="60", cert=_expected(listed, "cert"))
    args = sources.uv_args()
    assert args[:2] == ["--index-strategy", "unsafe-best-match"]
    assert ["--constraint", str(constraint)] == args[args.index("--constraint"):][:2]
    assert "--allow-insecure-host" in args and ["--prerelease", "allow"] == args[-2:]
    assert sources.remote_hosts() == ["mirror.example"]
    assert sources.uv_environment()["UV_HTTP_TIMEOUT"] == "60"
    before = sources.identity()
    constraint.write_text("torch<=2.13\n")
    assert sources.identity() != before  # a changed constraints file changes env keys


def test_config_file_variable_and_devnull(tmp_path: Path) -> None:
    own = tmp_path / "own.conf"
    own.write_text("[global]\nno-index = true\nfind-links = /only\n")
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\nfind-links = /user\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none"), "PIP_CONFIG_FILE": str(own)}
    sources = read_pip_sources(env, prefix=str(tmp_path))
    assert sources.no_index and sources.find_links == ("/only",)
    assert sources.uv_args() == ["--index-strategy", "unsafe-best-match", "--no-index",
                                 "--find-links", "/only"]
    assert read_pip_sources({**env, "PIP_CONFIG_FILE": os.devnull}, prefix=str(tmp_path)) \
        == PackageSources()
    listed = _pip_config_list({**env, "PATH": os.environ.get("PATH", ""),
                               "PIP_CONFIG_FILE": os.devnull})
    assert listed == {"": ""} or not any(k.startswith(("global.", "install.")) for k in listed)
