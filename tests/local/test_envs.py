"""Step environments built with uv: real builds, offline, from local sources only."""

from __future__ import annotations

import io
import json
import os
import pwd
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from azml.errors import StepEnvironmentError
from azml.targets.local import envs
from azml.targets.local.cluster import script_command
from azml.targets.local.envhints import missing_module_hint
from azml.targets.local.envs import EnvBuilder, EnvRequest
from azml.targets.local.pipsources import PackageSources, read_pip_sources
from tests.local.wheels import make_wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    make_wheel(folder, "alpha", "1.0")
    make_wheel(folder, "beta", "1.0")
    make_wheel(folder, "gamma", "1.0", requires=["alpha"])
    make_wheel(folder, "pref", "1.0")
    make_wheel(folder, "pref", "2.0")
    return folder


def machine_sources() -> PackageSources:
    """pip's configuration for this machine's user (other tests may point HOME elsewhere)."""
    return read_pip_sources(os.environ, home=pwd.getpwuid(os.getuid()).pw_dir)


def local_builder(home: Path, wheelhouse: Path, **kwargs: object) -> EnvBuilder:
    sources = PackageSources(no_index=True, find_links=(str(wheelhouse),))
    options: dict[str, object] = {"sources": sources, "preferences": {}, "offline": True,
                                  "out": io.StringIO()}
    options.update(kwargs)
    return EnvBuilder(home, **options)  # type: ignore[arg-type]


def request(*lines: str, digest: str = "d", files: tuple[Path, ...] = (),
            steps: tuple[str, ...] = ("s",), added: tuple[str, ...] = ()) -> EnvRequest:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return EnvRequest(tuple(lines), python, digest, files, added, steps)


def imports(env: envs.Env, module: str) -> bool:
    done = subprocess.run([str(env.python), "-c", f"import {module}"], check=False, capture_output=True)
    return done.returncode == 0


def test_builds_from_the_configured_pip_sources_offline(tmp_path: Path) -> None:
    """The machine's pip configuration (file:// indexes, find-links) is enough: no network."""
    sources = machine_sources()
    assert sources.files, "pip is configured on this machine (see `pip config list`)"
    out = io.StringIO()
    builder = EnvBuilder(tmp_path / "home", sources=sources, offline=True, out=out)
    env = builder.prepare([request("six", steps=("prepare", "train"))])["d"]
    assert env.built and imports(env, "six") and not imports(env, "yaml")
    assert (env.path / envs.MARKER).is_file()
    assert "for prepare, train: installing 1 package (six " in out.getvalue()
    again = EnvBuilder(tmp_path / "home", sources=sources, offline=True).prepare([request("six")])
    assert again["d"].path == env.path and not again["d"].built


def test_same_digest_shares_one_environment(tmp_path: Path, wheelhouse: Path) -> None:
    builder = local_builder(tmp_path / "home", wheelhouse)
    envs_by_digest = builder.prepare([request("alpha", steps=("a",)), request("alpha", steps=("b",))])
    assert len(envs_by_digest) == 1
    assert "for a, b: installing" in builder.out.getvalue()  # type: ignore[attr-defined]
    assert [p.name for p in (tmp_path / "home" / "envs").iterdir() if p.is_dir()] \
        == [envs_by_digest["d"].key]


def test_dependencies_and_exact_lines(tmp_path: Path, wheelhouse: Path) -> None:
    env = local_builder(tmp_path / "home", wheelhouse).prepare([request("gamma")])["d"]
    assert imports(env, "gamma") and imports(env, "alpha") and not imports(env, "beta")


def test_installed_versions_are_preferred(tmp_path: Path, wheelhouse: Path) -> None:
    """A bare line takes the version azml's environment has, if the line accepts it."""
    prefer = local_builder(tmp_path / "a", wheelhouse, preferences={"pref": "1.0"})
    assert prefer.resolve(request("pref")) == ["pref==1.0"]
    assert prefer.resolve(request("pref>=2")) == ["pref==2.0"]
    assert local_builder(tmp_path / "b", wheelhouse).resolve(request("pref")) == ["pref==2.0"]


def test_default_preferences_come_from_azml_environment() -> None:
    versions = envs.installed_versions()
    assert versions["uv"] and versions["pyyaml"]


def test_missing_package_fails_with_the_hint_and_the_fix_passes(tmp_path: Path,
                                                                  wheelhouse: Path) -> None:
    """The acceptance case: forgotten line fails locally with the hint; adding it passes."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text("import alpha, beta\nprint('ok', beta.VERSION)\n")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("alpha\n")
    builder = local_builder(tmp_path / "home", wheelhouse)

    def run(lines: tuple[str, ...], digest: str) -> subprocess.CompletedProcess[str]:
        env = builder.prepare([request(*lines, digest=digest, files=(reqs,))])[digest]
        argv = script_command(env.python, "train.py", [], work)
        return subprocess.run(argv, cwd=work, check=False, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})

    failed = run(("alpha",), "d1")
    assert failed.returncode == 1 and "No module named 'beta'" in failed.stderr
    hint = missing_module_hint(failed.stderr, reqs, lines=("alpha",), snapshot=work)
    assert hint == (f"hint: add 'beta' to {reqs}: the step imports 'beta', "
                    "which it does not install")
    reqs.write_text("alpha\nbeta\n")
    passed = run(("alpha", "beta"), "d2")
    assert passed.returncode == 0 and passed.stdout.strip() == "ok 1.0"


def test_current_interpreter_has_what_the_requirements_forget(tmp_path: Path) -> None:
    """--env current: azml's own interpreter has yaml, so the same script passes there."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.py").write_text("import yaml\nprint('ok')\n")
    sources = machine_sources()
    env = EnvBuilder(tmp_path / "home", sources=sources, offline=True,
                     out=io.StringIO()).prepare([request("six")])["d"]
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    isolated = subprocess.run(script_command(env.python, "s.py", [], work), cwd=work,
                              check=False, capture_output=True, text=True, env=base)
    assert isolated.returncode == 1
    hint = missing_module_hint(isolated.stderr, tmp_path / "r.txt", lines=("six",))
    assert hint is not None and "add 'pyyaml' to" in hint and "'yaml' (distribution pyyaml)" in hint
    current = subprocess.run(script_command(sys.executable, "s.py", [], work), cwd=work,
                             check=False, capture_output=True, text=True, env=base)
    assert current.returncode == 0, current.stderr


def test_unresolvable_line_is_named_before_anything_is_built(tmp_path: Path,
                                                             wheelhouse: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# what the step needs\nalpha  # the first\n\nnot-a-package-anywhere==1.0\n")
    good = request("beta", digest="good")
    bad = request("alpha", "not-a-package-anywhere==1.0", digest="bad", files=(reqs,),
                  steps=("train",))
    builder = local_builder(tmp_path / "home", wheelhouse)
    with pytest.raises(StepEnvironmentError) as caught:
        builder.prepare([good, bad])
    error = caught.value
    assert error.where == f"{reqs}:4" and error.requirement == "not-a-package-anywhere==1.0"
    assert error.steps == ("train",) and "cannot be resolved" in error.message
    assert not (tmp_path / "home" / "envs").exists() or not any(
        p.is_dir() for p in (tmp_path / "home" / "envs").iterdir())


def test_version_that_does_not_exist_and_a_parse_error(tmp_path: Path, wheelhouse: Path) -> None:
    reqs = tmp_path / "r.txt"
    reqs.write_text("alpha\nbeta==9.9\n")
    builder = local_builder(tmp_path / "home", wheelhouse)
    with pytest.raises(StepEnvironmentError) as caught:
        builder.resolve(request("alpha", "beta==9.9", files=(reqs,)))
    assert caught.value.where == f"{reqs}:2" and "beta==9.9" in caught.value.message
    reqs.write_text("alpha\nbeta \\\n  >>1\n")
    with pytest.raises(StepEnvironmentError) as caught:
        builder.resolve(request("alpha", "beta >>1", files=(reqs,)))
    assert caught.value.where == f"{reqs}:2" and caught.value.requirement == "beta >>1"


def test_a_line_the_target_adds_is_named_as_such(tmp_path: Path, wheelhouse: Path) -> None:
    builder = local_builder(tmp_path / "home", wheelhouse)
    with pytest.raises(StepEnvironmentError, match="added by azml because AzureML installs it"):
        builder.resolve(request("alpha", "azureml-defaults", added=("azureml-defaults",)))


def test_interrupted_build_leaves_nothing_a_later_run_takes(tmp_path: Path, wheelhouse: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    builder = local_builder(home, wheelhouse)
    original = builder._run

    def interrupted(argv: list[str], what: str, **kwargs: object) -> object:
        if what == "uv pip sync":
            raise KeyboardInterrupt
        return original(argv, what, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builder, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        builder.prepare([request("alpha")])
    key = builder.key(request("alpha"))
    assert not (home / "envs" / key).exists()
    assert builder.find(request("alpha")) is None
    env = local_builder(home, wheelhouse).prepare([request("alpha")])["d"]
    assert env.built and imports(env, "alpha")


def test_killed_build_leftover_is_removed_and_rebuilt(tmp_path: Path, wheelhouse: Path) -> None:
    """What SIGKILL leaves (a venv without its marker) is never used."""
    home = tmp_path / "home"
    builder = local_builder(home, wheelhouse)
    key = builder.key(request("alpha"))
    leftover = home / "envs" / key
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_text("not a python")
    (leftover / "stale.txt").write_text("half-built")
    assert builder.find(request("alpha")) is None
    env = builder.prepare([request("alpha")])["d"]
    assert env.built and not (leftover / "stale.txt").exists() and imports(env, "alpha")


def test_marker_of_another_key_is_not_trusted(tmp_path: Path, wheelhouse: Path) -> None:
    builder = local_builder(tmp_path / "home", wheelhouse)
    env = builder.prepare([request("alpha")])["d"]
    (env.path / envs.MARKER).write_text(json.dumps({"key": "other"}))
    assert builder.find(request("alpha")) is None
    (env.path / envs.MARKER).write_text("{not json")
    assert builder.find(request("alpha")) is None
    assert builder.prepare([request("alpha")])["d"].built


def test_concurrent_builders_build_once(tmp_path: Path, wheelhouse: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "build.py"
    script.write_text(textwrap.dedent(f"""
        import io, json, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from tests.local.test_envs import local_builder, request
        from pathlib import Path
        env = local_builder(Path({str(home)!r}), Path({str(wheelhouse)!r})).prepare(
            [request("gamma")])["d"]
        print(json.dumps({{"built": env.built, "path": str(env.path)}}))
    """))
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["built"] for r in results) == [False, False, True]
    assert len({r["path"] for r in results}) == 1


def test_key_covers_lines_python_and_sources(tmp_path: Path, wheelhouse: Path) -> None:
    builder = local_builder(tmp_path / "home", wheelhouse)
    base = builder.key(request("alpha"))
    assert builder.key(request("alpha")) == base
    assert builder.key(request("alpha", "beta")) != base
    assert builder.key(request("alpha", digest="other")) != base
    other = local_builder(tmp_path / "home", wheelhouse,
                          sources=PackageSources(find_links=(str(wheelhouse),)))
    assert other.key(request("alpha")) != base


def test_network_probe() -> None:
    assert envs.network_reachable([]) is True
    assert envs.network_reachable(["127.0.0.1"], timeout=0.5) is False  # nothing on :443
