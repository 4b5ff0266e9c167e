"""Code that runs inside a step's own process, in the step's own environment.

Nothing here imports azml outside ``azml.runtime``, nor anything but the
standard library: azml is not installed where a step runs. Targets copy or
point at these files by path (see :func:`path_of`), or install them into a
step environment (see :func:`install_hook`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The name the runtime package has inside a step environment.
PACKAGE = "_azml_runtime"
PTH_FILE = "azml_runhook.pth"
#: Runs at interpreter start; costs one dictionary look-up unless MLFLOW_RUN_ID is set.
PTH_LINE = ("import os; os.environ.get('MLFLOW_RUN_ID') and "
            f"__import__('{PACKAGE}.runhook').runhook.activate()\n")
HOOK_FILES = ("__init__.py", "mlflowrest.py", "localrun.py", "runhook.py")


def path_of(name: str) -> Path:
    """The file ``name`` of this package, to be run or copied into a step's environment."""
    return HERE / name


def install_hook(site_packages: str | os.PathLike[str]) -> Path:
    """Install the local ``Run.get_context()`` hook into an environment's site-packages.

    Copies this package as ``_azml_runtime`` and writes ``azml_runhook.pth``. The
    hook is inert outside a local azml step (see :mod:`azml.runtime.runhook`), so
    it is safe in any environment. Idempotent and atomic: an up-to-date copy is
    left alone, a changed one is replaced whole. Returns the ``.pth`` path.
    """
    site = Path(site_packages)
    digest = _digest()
    target = site / PACKAGE
    stamp = target / "DIGEST"
    pth = site / PTH_FILE
    current = stamp.read_text() if stamp.is_file() else ""
    if current != digest:
        staging = site / f".{PACKAGE}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in HOOK_FILES:
            shutil.copyfile(HERE / name, staging / name)
        (staging / "DIGEST").write_text(digest)
        old = site / f".{PACKAGE}.{os.getpid()}.old"
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    if not pth.is_file() or pth.read_text() != PTH_LINE:
        partial = pth.with_name(f".{PTH_FILE}.{os.getpid()}.tmp")
        partial.write_text(PTH_LINE)
        os.replace(partial, pth)
    return pth


def current_site_packages() -> Path:
    """site-packages of the interpreter azml runs under (for steps run with ``--env current``)."""
    return Path(sysconfig.get_paths()["purelib"])


def _digest() -> str:
    sha = hashlib.sha256(PTH_LINE.encode())
    for name in HOOK_FILES:
        sha.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return sha.hexdigest()
