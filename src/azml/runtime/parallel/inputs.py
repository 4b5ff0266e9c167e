"""Checks made before any worker starts, and the partition of inputs into mini-batches.

File input (a FileDataset on AzureML): every file under the input folder, at any
depth, in sorted order, ``mini_batch_size`` files per mini-batch; each input is
partitioned separately, and ``run()`` receives absolute paths.

Tabular input (a TabularDataset from delimited files): every file under the folder
is read as CSV with a header row. A mini-batch never crosses a file: a file no larger
than ``mini_batch_size`` bytes is one mini-batch, a larger one is cut into
``ceil(size / mini_batch_size)`` mini-batches of about equal row counts (AzureML's
documented partition). Rows are counted by line, so quoted fields that contain
newlines are not supported.
"""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path
from typing import NamedTuple

from .options import Options, UsageError

#: Names whose top-level use makes the set of module globals undecidable statically.
_DYNAMIC = frozenset({"globals", "setattr", "__getattr__", "exec"})


class MiniBatch(NamedTuple):
    """One unit of work for ``run()``.

    Attributes:
        id: position in the whole job (mini-batches are numbered in input order).
        items: absolute file paths (file input) or ``(file,)`` (tabular input).
        skip: data rows of ``items[0]`` before this mini-batch (tabular input).
        nrows: rows in this mini-batch (tabular input); ``None`` for the whole file.
        size: the number of items ``run()`` is expected to return rows for.
    """

    id: int
    input_name: str
    items: tuple[str, ...]
    size: int
    skip: int = 0
    nrows: int | None = None

    def message(self) -> dict[str, object]:
        """The task a worker receives."""
        task: dict[str, object] = {"id": self.id, "items": list(self.items)}
        if self.nrows is not None or self.skip:
            task.update(skip=self.skip, nrows=self.nrows)
        return task


def check_entry(options: Options) -> Path:
    """The entry script's path, after checking it exists, parses and defines init and run.

    AzureML imports the script in every worker and calls ``init()`` then ``run()``;
    a missing function would fail every worker, so it is reported here, once,
    without running the script (its top level is parsed, not executed).
    """
    source = options.source
    if not source.is_dir():
        raise UsageError(f"--source {source}: not a folder")
    script = source / options.entry
    if not script.is_file():
        raise UsageError(f"entry script {options.entry!r}: no such file in {source}")
    try:
        tree = ast.parse(script.read_bytes(), filename=str(script))
    except SyntaxError as exc:
        raise UsageError(f"entry script {script}, line {exc.lineno}: {exc.msg}") from None
    names = _top_level_names(tree)
    if names is None:
        return script
    for name, why in (("init", "once in every worker process before the first mini-batch"),
                      ("run", "for every mini-batch, with a list of file paths or a DataFrame")):
        if name not in names:
            raise UsageError(f"entry script {script}: no top-level {name}() function; "
                             f"ParallelRunStep calls {name}() {why}")
    return script


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """Names the module binds at top level, or None when that cannot be known statically."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            pending.extend(_bodies(node))
        if _calls_dynamic(node):
            return None
    return names


def _bodies(node: ast.stmt) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for field in ("body", "orelse", "finalbody"):
        found.extend(getattr(node, field, []) or [])
    for handler in getattr(node, "handlers", []) or []:
        found.extend(handler.body)
    return found


def _calls_dynamic(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == "__getattr__"
    return any(isinstance(n, ast.Name) and n.id in _DYNAMIC for n in ast.walk(node))


def check_inputs(options: Options) -> None:
    """Each input is a folder holding at least one file (stops at the first file found)."""
    for name, folder in options.inputs:
        _check_folder(name, folder)
        if not _has_file(str(folder)):
            raise UsageError(f"input '{name}' ({folder}): the folder holds no files, so there is "
                             "nothing to partition into mini-batches")


def _check_folder(name: str, folder: Path) -> None:
    if not folder.exists():
        raise UsageError(f"input '{name}' ({folder}): no such folder")
    if not folder.is_dir():
        raise UsageError(f"input '{name}' ({folder}): a ParallelRunStep input must be a folder of "
                         "files (a FileDataset or TabularDataset), not a single file")


def _has_file(folder: str) -> bool:
    with os.scandir(folder) as entries:
        folders = []
        for entry in entries:
            if entry.is_file():
                return True
            if entry.is_dir():
                folders.append(entry.path)
    return any(_has_file(path) for path in folders)


def list_files(name: str, folder: Path) -> list[str]:
    """Absolute paths of every file under ``folder``, sorted; it must hold at least one."""
    _check_folder(name, folder)
    files: list[str] = []
    _walk(os.path.realpath(folder), files)
    if not files:
        raise UsageError(f"input '{name}' ({folder}): the folder holds no files, so there is "
                         "nothing to partition into mini-batches")
    return files


def _walk(folder: str, files: list[str]) -> None:
    """Depth-first, names sorted at every level (scandir: no stat per file)."""
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda entry: entry.name)
    for entry in ordered:
        if entry.is_dir():
            _walk(entry.path, files)
        elif entry.is_file():
            files.append(entry.path)


def plan_batches(options: Options) -> list[MiniBatch]:
    """Every mini-batch of the job, inputs in command-line order."""
    batches: list[MiniBatch] = []
    for name, folder in options.inputs:
        files = list_files(name, folder)
        if options.input_kind == "tabular":
            batches.extend(_tabular(name, files, options.mini_batch_size, len(batches)))
        else:
            batches.extend(_files(name, files, options.mini_batch_size, len(batches)))
    return batches


def _files(name: str, files: list[str], size: int, start: int) -> list[MiniBatch]:
    out: list[MiniBatch] = []
    for offset in range(0, len(files), size):
        chunk = tuple(files[offset:offset + size])
        out.append(MiniBatch(start + len(out), name, chunk, len(chunk)))
    return out


def _tabular(name: str, files: list[str], size: int, start: int) -> list[MiniBatch]:
    out: list[MiniBatch] = []
    for path in files:
        rows = count_rows(Path(path))
        if rows == 0:
            continue
        parts = max(1, math.ceil(os.path.getsize(path) / size))
        per_part = math.ceil(rows / parts)
        for skip in range(0, rows, per_part):
            nrows = min(per_part, rows - skip)
            whole = skip == 0 and nrows == rows
            out.append(MiniBatch(start + len(out), name, (path,), nrows,
                                 skip, None if whole else nrows))
    return out


def count_rows(path: Path) -> int:
    """Data rows of a CSV file with a header line (lines after the first, blank last line ignored)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)
