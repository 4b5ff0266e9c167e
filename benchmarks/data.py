"""Section 6: ``azml data pull`` from a real Azurite against a direct parallel download.

1,000 blobs of 1 MB are uploaded once to a container of an Azurite started for the
section (``tests/azurite``, installed by ``npm ci``; stopped by its PID at the end).
Each timed run pulls them into a fresh folder: ``azml data pull`` against a short
script that does what azcopy does with azure-storage-blob directly (list once, one
thread per file, ``download_blob().readinto``), with the same number of workers; then
``azml data pull`` again with nothing changed. After every run the harness counts the
files (and sizes) that arrived, so a run that skipped work cannot pass for a fast one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.context import Context, Goal, Row
from benchmarks.environment import REPO, python_has
from benchmarks.timing import CaseError, Outcome, Unavailable, measure, run_command

FILES = 1000
SIZE = 1024 * 1024
WORKERS = 8
CONTAINER = "bench"
THROUGHPUT_GOAL = Goal("≥ 0.8× its throughput (time ≤ 1.25×)", "ratio_max", 1.25)
NOOP_GOAL = Goal("< 1 s", "seconds_max", 1.0)

DIRECT_SCRIPT = '''\
"""List once, then one thread per blob: download_blob().readinto(file) (azcopy-like)."""
import os, sys
from concurrent.futures import ThreadPoolExecutor
from azure.storage.blob import ContainerClient

url, container, prefix, dest, workers = sys.argv[1:6]
client = ContainerClient(url, container, credential={
    "account_name": os.environ["BLOB_ACCOUNT_NAME"], "account_key": os.environ["BLOB_ACCOUNT_KEY"]})
names = [b.name for b in client.list_blobs(name_starts_with=prefix)]

def fetch(name):
    path = os.path.join(dest, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        client.get_blob_client(name).download_blob(max_concurrency=1).readinto(fh)

with ThreadPoolExecutor(int(workers)) as pool:
    list(pool.map(fetch, names))
'''


LIST_SCRIPT = '''\
"""The least any no-change check must do: start Python, import the SDK, list the blobs."""
import os, sys
from azure.storage.blob import ContainerClient

url, container, prefix = sys.argv[1:4]
client = ContainerClient(url, container, credential={
    "account_name": os.environ["BLOB_ACCOUNT_NAME"], "account_key": os.environ["BLOB_ACCOUNT_KEY"]})
print(sum(1 for _ in client.list_blobs(name_starts_with=prefix)))
'''


def _blocker(ctx: Context) -> Outcome | None:
    if not python_has(ctx.tools, "azure.storage.blob"):
        return Unavailable("azure-storage-blob not installed: pip install -e '.[data]'")
    sys.path.insert(0, str(REPO))
    from tests.azurite.server import missing_reason

    reason = missing_reason()
    return Unavailable(reason) if reason else None


def _seed(service: object) -> None:
    """Upload FILES distinct blobs of SIZE bytes under data/ (8 at a time)."""
    container = service.create_container(CONTAINER)  # type: ignore[attr-defined]
    base = os.urandom(SIZE)

    def put(i: int) -> None:
        body = i.to_bytes(4, "big") + base[4:]
        container.upload_blob(f"data/{i:04d}.bin", body, overwrite=True)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(put, range(FILES)))


def _check(folder: Path, label: str) -> None:
    files = [p for p in folder.rglob("*.bin") if p.is_file()]
    if len(files) != FILES or any(p.stat().st_size != SIZE for p in files):
        raise CaseError(f"{label}: {len(files)} complete files arrived, expected {FILES}")


def section_data(ctx: Context) -> list[Row]:
    """6. Blob data: a 1,000 x 1 MB pull against a direct download, and a no-change re-pull."""
    title = "6. Blob data"
    case = f"pull {FILES:,} files of 1 MB from Azurite, {WORKERS} workers"
    blocker = _blocker(ctx)
    if blocker is not None:
        return [Row(title, case, "azml data pull", blocker, "direct azure-storage-blob", blocker,
                    THROUGHPUT_GOAL)]
    from tests.azurite.server import Azurite

    server = Azurite(ctx.folder("azurite")).start()
    try:
        ctx.log(f"{title}: uploading {FILES} blobs of 1 MB to Azurite")
        _seed(server.service())
        return _measure(ctx, title, case, server)
    finally:
        server.stop()


def _measure(ctx: Context, title: str, case: str, server: object) -> list[Row]:
    env_extra = server.env(CONTAINER)  # type: ignore[attr-defined]
    script = ctx.folder("direct-script") / "direct_pull.py"
    script.write_text(DIRECT_SCRIPT)
    azml = ctx.tools.azml

    def azml_pull(*extra: str) -> Callable[[int], float]:
        def timed(_index: int) -> float:
            folder = ctx.folder("pull-azml")
            seconds = run_command([*azml, "data", "pull", "bench/data", "--workers", str(WORKERS), *extra],
                                  cwd=folder, env={**ctx.env(folder), **env_extra},
                                  label=f"azml data pull {' '.join(extra)}".strip())[0]
            _check(folder / "datastores", "azml data pull")
            return seconds
        return timed

    def direct_pull(_index: int) -> float:
        folder = ctx.folder("pull-direct")
        seconds = run_command([ctx.tools.python, script, server.url, CONTAINER, "data/",  # type: ignore[attr-defined]
                               str(folder / "out"), str(WORKERS)],
                              cwd=folder, env={**ctx.env(folder), **env_extra}, label="direct download")[0]
        _check(folder / "out", "direct download")
        return seconds

    list_script = script.with_name("direct_list.py")
    list_script.write_text(LIST_SCRIPT)

    def direct_list(_index: int) -> float:
        folder = ctx.folder("list-direct")
        seconds, proc = run_command([ctx.tools.python, list_script, server.url, CONTAINER,  # type: ignore[attr-defined]
                                     "data/"], cwd=folder, env={**ctx.env(folder), **env_extra},
                                    label="direct listing")
        if proc.stdout.strip() != str(FILES):
            raise CaseError(f"direct listing found {proc.stdout.strip()} blobs, expected {FILES}")
        return seconds

    ctx.log(f"{title}: {case}")
    full = measure(ctx.slow_reps, {"azml": azml_pull(), "direct": direct_pull,
                                   "verify": azml_pull("--verify")}, warmup=True)
    noop_folder = ctx.folder("pull-noop")
    noop_env = {**ctx.env(noop_folder), **env_extra}
    argv = [*azml, "data", "pull", "bench/data", "--workers", str(WORKERS)]

    def noop(_index: int) -> float:
        seconds, proc = run_command(argv, cwd=noop_folder, env=noop_env, label="azml data pull (no change)")
        if f"0 transferred, {FILES} unchanged" not in proc.stdout:
            raise CaseError(f"no-change pull moved data: {proc.stdout.strip()}")
        return seconds

    ctx.log(f"{title}: second pull, nothing changed")
    run_command(argv, cwd=noop_folder, env=noop_env, label="azml data pull (first)")
    again = measure(ctx.fast_reps, {"noop": noop, "list": direct_list})
    ctx.notes.append(f"Blob data: Azurite {server.url.rsplit('/', 1)[0]} on this machine, "  # type: ignore[attr-defined]
                     f"so its own CPU use competes with the downloaders. azml writes each file "
                     f"under a partial name and renames it into place, with a conditional "
                     f"(If-Match) request; with --verify it also hashes every file (MD5) against "
                     f"the blob's Content-MD5. The direct script does none of this.")
    return [
        Row(title, case, "azml data pull", full["azml"], "direct azure-storage-blob, same workers",
            full["direct"], THROUGHPUT_GOAL),
        Row(title, case + ", MD5 of every file checked", "azml data pull --verify", full["verify"],
            "direct azure-storage-blob, same workers", full["direct"]),
        Row(title, f"second pull of the {FILES:,} files, nothing changed", "azml data pull (no change)",
            again["noop"], "python: import azure.storage.blob + list the blobs (floor)", again["list"],
            NOOP_GOAL),
    ]
