"""The ModuleNotFoundError hint, and tracing requirement lines back to their files."""

from __future__ import annotations

from pathlib import Path

import pytest

from azml.targets.local.envhints import distribution_for, missing_module, missing_module_hint
from azml.targets.local.reqlines import Origin, culprit, locate, logical_lines, project_name

TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 3, in <module>
    import yaml
ModuleNotFoundError: No module named '{}'
"""


@pytest.mark.parametrize(("module", "dist"), [
    ("yaml", "pyyaml"), ("PIL", "pillow"), ("sklearn", "scikit-learn"), ("cv2", "opencv-python"),
    ("sklearn.linear_model", "scikit-learn"), ("google.protobuf", "protobuf"),
    ("numpy", "numpy"), ("Some_Thing", "some-thing"),
])
def test_distribution_names(module: str, dist: str) -> None:
    assert distribution_for(module, providers={}) == dist


def test_installed_providers_map_other_names() -> None:
    assert distribution_for("dotenv") == "python-dotenv"
    assert distribution_for("jsonschema_specifications") == "jsonschema-specifications"
    assert distribution_for("mymod", providers={"mymod": ["My.Dist"]}) == "my-dist"


def test_hint_lines(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    log = "some output\n" + TRACEBACK.format("yaml")
    assert missing_module(log) == "yaml"
    assert missing_module_hint(log, reqs, lines=("numpy",), providers={}) == (
        f"hint: add 'pyyaml' to {reqs}: the step imports 'yaml' (distribution pyyaml), "
        "which it does not install")
    assert "is in" in (missing_module_hint(log, reqs, lines=("PyYAML>=6",), providers={}) or "")
    assert "no requirements file" in (missing_module_hint(log, None, providers={}) or "")
    current = missing_module_hint(log, reqs, isolated=False, providers={}) or ""
    assert "--env current" in current and "pip install pyyaml" in current
    assert missing_module_hint("Traceback...\nValueError: x\n", reqs) is None


def test_no_hint_for_the_snapshots_own_modules(tmp_path: Path) -> None:
    (tmp_path / "dutchf3").mkdir()
    (tmp_path / "utils.py").write_text("")
    for module in ("dutchf3.data", "utils"):
        assert missing_module_hint(TRACEBACK.format(module), tmp_path / "r.txt",
                                   snapshot=tmp_path) is None


def test_logical_lines_and_origin(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# comment\n\ntorch==2.13.0  # pinned\nnumpy \\\n   >=1.24\n"
                    "--extra-index-url https://x/simple\n")
    assert list(logical_lines(reqs)) == [(3, "torch==2.13.0"), (4, "numpy >=1.24"),
                                         (6, "--extra-index-url https://x/simple")]
    assert locate("numpy >=1.24", [tmp_path / "missing.txt", reqs]) == Origin(reqs, 4)
    assert str(Origin(reqs, 4)) == f"{reqs}:4"
    assert locate("scipy", [reqs]) is None


@pytest.mark.parametrize(("line", "name"), [
    ("PyYAML>=6", "pyyaml"), ("torch==2.13.0 ; python_version >= '3.9'", "torch"),
    ("pkg[extra] @ https://x/pkg.whl", "pkg"), ("git+https://x/y.git#egg=My_Pkg", "my-pkg"),
    ("--extra-index-url https://x", None), ("./local", None), ("", None),
])
def test_project_names(line: str, name: str | None) -> None:
    assert project_name(line) == name


def test_culprit_is_the_first_line_the_message_names() -> None:
    lines = ["numpy", "six==99", "pyyaml"]
    message = ("No solution found when resolving dependencies: Because there is no version "
               "of six==99 and you require six==99, we can conclude ...")
    assert culprit(message, lines) == 1
    assert culprit("something about nothing", lines) is None
    assert culprit("Because numpy-financial was not found", ["numpy", "numpy-financial"]) == 1
