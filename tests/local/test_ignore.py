""".amlignore / .gitignore rules, checked against AzureML's own matcher (pathspec)."""

from __future__ import annotations

from pathlib import Path

import pathspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azml.targets.local.ignore import (
    IgnorePatternError,
    IgnoreRules,
    compile_lines,
    compile_pattern,
    load_rules,
)


def _rules(*lines: str) -> IgnoreRules:
    return IgnoreRules(None, compile_lines(list(lines)))


@pytest.mark.parametrize(("lines", "path", "excluded"), [
    (["data/"], "data/x.bin", True),
    (["data/"], "data", False),  # a file named data is not a directory
    (["data/"], "src/data/x.bin", True),
    (["/data"], "src/data/x.bin", False),
    (["*.md"], "docs/deep/readme.md", True),
    (["docs/*.md"], "docs/deep/readme.md", False),
    (["docs/**/*.md"], "docs/deep/readme.md", True),
    (["data/", "!data/keep.txt"], "data/keep.txt", False),
    (["data/", "!data/keep.txt"], "data/other.txt", True),
    (["# a comment", "", "   "], "anything", False),
    (["\\#hash"], "#hash", True),
    (["\\!bang"], "!bang", True),
    (["a?c"], "abc", True),
    (["a[!b]c"], "abc", False),
    (["**/"], "top.txt", False),
    (["**/"], "dir/file.txt", True),
])
def test_examples(lines: list[str], path: str, excluded: bool) -> None:
    assert _rules(*lines).excluded(path) is excluded


def test_trailing_backslash_is_an_invalid_pattern() -> None:
    with pytest.raises(ValueError):
        compile_pattern("oops\\")
    with pytest.raises(IgnorePatternError, match="line 2"):
        compile_lines(["ok", "oops\\"])


def test_amlignore_wins_over_gitignore_and_nested_files_are_not_read(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.py\n")
    assert load_rules(tmp_path).excluded("a.py")
    (tmp_path / ".amlignore").write_text("*.txt\n")
    rules = load_rules(tmp_path)
    assert rules.file == tmp_path / ".amlignore"
    assert not rules.excluded("a.py") and rules.excluded("b.txt")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".amlignore").write_text("*\n")
    assert not load_rules(tmp_path).excluded("sub/a.py")
    assert load_rules(tmp_path / "sub").excluded("a.py")


SEGMENTS = st.sampled_from(["a", "b", "ab", "*", "**", "?", "a*", "*b", "[ab]", "[!a]", "\\*", ""])
PATTERN = st.builds(
    lambda neg, lead, segs: ("!" if neg else "") + ("/" if lead else "") + "/".join(segs),
    st.booleans(), st.booleans(), st.lists(SEGMENTS, min_size=1, max_size=4))
PATH = st.lists(st.sampled_from(["a", "b", "ab", "ba", "*", "c"]), min_size=1, max_size=4).map("/".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(PATTERN, min_size=1, max_size=4), st.lists(PATH, min_size=1, max_size=6))
def test_same_verdict_as_pathspec(patterns: list[str], paths: list[str]) -> None:
    try:
        spec = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    except ValueError:  # pathspec refuses the pattern (GitWildMatchPatternError)
        with pytest.raises(ValueError):
            compile_lines(patterns)
        return
    rules = _rules(*patterns)
    for path in paths:
        assert rules.excluded(path) == spec.match_file(path), (patterns, path)
