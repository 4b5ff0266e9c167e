"""Section 7: a no-op re-run over an input folder of 100,000 small files.

Issue #11: a re-run with nothing changed over such a folder took 1.8 s and 208 MB
while walking it with ``os.stat`` takes 0.2–0.3 s. Three commands, timed side by
side (alternating) on the same folder, each a whole Python process:

- the floor: ``os.walk`` + ``os.stat`` of every file (``STAT_WALK``);
- the hashing layer's no-op (``HASH_NOOP``): ``Hasher.tree_digest`` of the folder
  with a run store that already knows it (the folder stat cache);
- ``azml run`` of a one-step pipeline reading the folder as a datastore input,
  every step reused (as the runner of this checkout hashes its inputs).

Before timing, each azml command runs once untimed to fill its store, after the
folder's newest change is more than 2 s old (a younger fingerprint is not trusted).
Peak memory (max RSS) of each command is measured in a separate untimed run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.timing import CaseError, Outcome, Runner, measure, run_command

FILES = 100_000
PER_FOLDER = 1_000
GOAL = Goal("≤ 2× the os.stat walk", "ratio_max", 2.0)
RSS_LIMIT_MB = 150

STAT_WALK = """\
import os, sys
count = 0
for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        os.stat(os.path.join(folder, name))
        count += 1
print(count)
"""

HASH_NOOP = """\
import sys
from pathlib import Path
from azml.targets.local.hashing import Hasher
from azml.targets.local.store import Store
store = Store(Path(sys.argv[2]))
print(Hasher(store).tree_digest(Path(sys.argv[1])))
store.close()
"""

MAX_RSS = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

STEP = """\
import sys
with open(sys.argv[sys.argv.index("--trace") + 1], "a") as trace:
    trace.write("ran\\n")
"""


def make_folder(root: Path) -> Path:
    """``root/datastores/big/files``: 100 folders of 1,000 small files."""
    folder = root / "datastores" / "big" / "files"
    for index in range(FILES // PER_FOLDER):
        sub = folder / f"part{index:03d}"
        sub.mkdir(parents=True)
        for number in range(PER_FOLDER):
            (sub / f"{number:04d}.txt").write_text(f"{index}/{number}\n")
    return folder


def _pipeline(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "step.py").write_text(STEP)
    config = {"read": {"type": "PythonScriptStep", "name": "read", "script": "step.py",
                       "source_directory": "src",
                       "inputs": {"data": {"datastore": "big", "path": "files/"}},
                       "arguments": ["--input", "${{inputs.data}}",
                                     "--trace", str(root / "trace.txt")]}}
    path = root / "pipeline_config.json"
    path.write_text(json.dumps(config))
    return path


def _trace(root: Path) -> int:
    trace = root / "trace.txt"
    return len(trace.read_text().splitlines()) if trace.exists() else 0


def _scripts(root: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (("walk", STAT_WALK), ("noop", HASH_NOOP), ("rss", MAX_RSS)):
        paths[name] = root / f"{name}.py"
        paths[name].write_text(text)
    return paths


def section_bigdata(ctx: Context, pending: Outcome | None) -> list[Row]:
    """7. No-op over 100,000 files against the bare os.stat walk of the same folder."""
    title = "7. Large input, nothing changed"
    case = f"{FILES:,} small files in one datastore input"
    root = ctx.folder("bigdata")
    ctx.log(f"{title}: writing {FILES:,} files")
    folder = make_folder(root)
    scripts = _scripts(root)
    env = ctx.env(root)
    python = ctx.tools.python
    commands = {
        "walk": [python, scripts["walk"], folder],
        "noop": [python, scripts["noop"], folder, root / ".azml-hash"],
        "azml": [*ctx.tools.azml, "run", _pipeline(root).name],
    }
    time.sleep(2.1)  # so the stores' fingerprints are not racy
    ctx.log(f"{title}: first runs (hash every file once)")
    for name in ("noop", "azml"):
        if name == "azml" and pending is not None:
            continue
        run_command(commands[name], cwd=root, env=env, label=f"{name} (first run)", timeout=600)
    before = _trace(root)

    def runner(name: str) -> Runner:
        def run(index: int) -> float:
            elapsed, _ = run_command(commands[name], cwd=root, env=env, label=name)
            if name == "azml" and _trace(root) != before:
                raise CaseError("azml run: the step ran again although nothing changed")
            return elapsed

        return run

    ctx.log(f"{title}: timing")
    outcomes = measure(ctx.fast_reps, {"walk": runner("walk"), "noop": runner("noop"),
                                       "azml": pending if pending is not None else runner("azml")})
    for name in ("walk", "noop", "azml"):
        if name == "azml" and pending is not None:
            continue
        ctx.notes.append(f"Large input: peak memory (max RSS) of `{_label(name)}`: "
                         f"{_max_rss(ctx, scripts['rss'], commands[name], root, env)} "
                         f"(goal for azml ≤ {RSS_LIMIT_MB} MB).")
    return [
        Row(title, case, "hashing layer no-op (Hasher.tree_digest)", outcomes["noop"],
            "os.walk + os.stat (floor)", outcomes["walk"], GOAL),
        Row(title, case, "azml run (all reused)", outcomes["azml"],
            "os.walk + os.stat (floor)", outcomes["walk"], GOAL),
    ]


def _label(name: str) -> str:
    return {"walk": "os.walk + os.stat", "noop": "hashing layer no-op",
            "azml": "azml run (all reused)"}[name]


def _max_rss(ctx: Context, script: Path, command: list[object], root: Path,
             env: dict[str, str]) -> str:
    try:
        _, proc = run_command([ctx.tools.python, script, *command], cwd=root, env=env,
                              label="max RSS")
    except CaseError as exc:
        return f"n/a ({exc})"
    code, kilobytes = proc.stdout.split()
    return f"{int(kilobytes) / 1024:.0f} MB" if code == "0" else f"n/a (exit {code})"

