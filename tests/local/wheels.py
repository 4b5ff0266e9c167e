"""Tiny real wheels, written by hand, for building step environments with no index at all."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(folder: Path, name: str, version: str, modules: Mapping[str, str] | None = None,
               requires: Sequence[str] = ()) -> Path:
    """A pure-Python wheel ``name-version-py3-none-any.whl`` in ``folder``.

    ``modules`` maps a file inside the wheel (``pkg/__init__.py``) to its text;
    by default one module named like the distribution, holding ``VERSION``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    modules = modules or {f"{dist}.py": f"VERSION = {version!r}\n"}
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                *[f"Requires-Dist: {r}" for r in requires]]
    files: dict[str, bytes] = {path: text.encode() for path, text in modules.items()}
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: azml-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for inner, data in files.items():
            archive.writestr(inner, data)
    return path
