"""``azml data`` as a real subprocess: settings from .env, errors on one line, Ctrl-C and resume."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from azml.data.transfer import PARTIAL
from tests.azurite.server import ACCOUNT, KEY
from tests.data.conftest import Workspace

WRONG_KEY = "AAAAbm90LXRoZS1rZXktbm90LXRoZS1rZXktbm90LXRoZS1rZXktbm90LXRoZS1rZXk="


def _env_file_only(ws: Workspace, **values: str) -> dict[str, str]:
    """Write the BLOB_* settings into .env and return an environment without them."""
    settings = {k: v for k, v in ws.env.items() if k.startswith("BLOB_")}
    settings.update(values)
    (ws.root / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return {k: v for k, v in ws.env.items() if not k.startswith("BLOB_")}


def test_pull_then_push_from_the_command_line_with_settings_from_dotenv(ws: Workspace) -> None:
    ws.upload("raw/a.txt", b"from blob\n")
    env = _env_file_only(ws)
    pulled = ws.cli("data", "pull", "f3/raw", "--workers", "2", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.startswith("pull: ") and "1 transferred" in pulled.stdout
    assert pulled.stderr == ""  # not a terminal: no progress line
    assert (ws.datastores / "f3/raw/a.txt").read_bytes() == b"from blob\n"
    (ws.datastores / "f3/raw/b.txt").write_text("from laptop\n")
    pushed = ws.cli("data", "push", "f3/raw", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert "2 files, 1 transferred, 1 unchanged" in pushed.stdout
    assert ws.client.download_blob("raw/b.txt").readall() == b"from laptop\n"
    assert KEY not in pulled.stdout + pulled.stderr + pushed.stdout + pushed.stderr


def test_wrong_key_is_one_line_naming_account_and_container_never_the_key(ws: Workspace) -> None:
    ws.upload("raw/a.txt", b"x")
    env = _env_file_only(ws, BLOB_ACCOUNT_KEY=WRONG_KEY)
    proc = ws.cli("data", "pull", "f3/raw", env=env)
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"azml data: storage account '{ACCOUNT}', container '{ws.container}': "
                                  "listing 'raw' was refused with the account key")
    assert "Check BLOB_ACCOUNT_KEY" in proc.stderr
    assert WRONG_KEY not in proc.stderr and WRONG_KEY[:12] not in proc.stderr
    assert not list((ws.root / ".azml").rglob("*.json")) or all(
        WRONG_KEY not in p.read_text() for p in (ws.root / ".azml").rglob("*.json"))


def test_missing_container_is_one_line(ws: Workspace) -> None:
    env = _env_file_only(ws, BLOB_CONTAINER_NAME="absent-container")
    proc = ws.cli("data", "push", "f3/raw", "--from", str(Path(__file__).parent), env=env)
    assert proc.returncode == 4
    assert proc.stderr == (f"azml data: storage account '{ACCOUNT}', container 'absent-container': the "
                           "container does not exist. Check BLOB_CONTAINER_NAME, or create the container\n")


def test_ctrl_c_leaves_no_partial_file_under_its_final_name_and_the_next_pull_resumes(
        ws: Workspace) -> None:
    big = os.urandom(100 * 1024 * 1024)
    ws.upload("raw/big.bin", big, max_concurrency=4)
    ws.upload("raw/small.txt", b"small")
    del big
    target = ws.datastores / "f3/raw/big.bin"
    proc = subprocess.Popen([sys.executable, "-m", "azml", "data", "pull", "f3/raw", "--workers", "1"],
                            cwd=ws.root, env=ws.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        partial = _wait_for_partial(target, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted after" in err and "run it again to resume" in err
    assert err.count("\n") == 1, err
    assert not target.exists()
    assert partial.exists() and 0 < partial.stat().st_size < 100 * 1024 * 1024
    resumed = ws.cli("data", "pull", "f3/raw")
    assert resumed.returncode == 0, resumed.stderr
    assert "(1 resumed)" in resumed.stdout
    expected = hashlib.md5(ws.client.download_blob("raw/big.bin").readall()).hexdigest()
    assert hashlib.md5(target.read_bytes()).hexdigest() == expected
    assert not list(target.parent.glob(f"*{PARTIAL}"))


def _wait_for_partial(target: Path, proc: subprocess.Popen[str]) -> Path:
    """The partial download of ``target`` once it holds some bytes (fails if the pull ends first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pull ended before it could be interrupted: {proc.communicate()}"
        for candidate in target.parent.glob(f".{target.name}.*{PARTIAL}") if target.parent.exists() else ():
            if candidate.stat().st_size > 0:
                return candidate
        time.sleep(0.005)
    raise AssertionError("no partial download appeared within 60 s")
