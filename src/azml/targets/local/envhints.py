"""The one-line hint for a step that failed with ``ModuleNotFoundError``.

When a step's environment is built from its requirements, a package the
script imports but the file forgets fails locally, as it would on AzureML. The
hint names the missing module, the distribution that provides it (import and
distribution names often differ: ``yaml`` is ``pyyaml``), and the requirements
file to add it to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from azml.targets.local.reqlines import normalize, project_name

#: Import names whose distribution is named differently (the common cases).
IMPORT_TO_DISTRIBUTION: Mapping[str, str] = {
    "yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "cv2": "opencv-python",
    "skimage": "scikit-image", "bs4": "beautifulsoup4", "dateutil": "python-dateutil",
    "attr": "attrs", "dotenv": "python-dotenv", "jwt": "pyjwt", "Crypto": "pycryptodome",
    "serial": "pyserial", "magic": "python-magic", "docx": "python-docx",
    "pptx": "python-pptx", "fitz": "pymupdf", "git": "gitpython", "OpenSSL": "pyopenssl",
    "zmq": "pyzmq", "usb": "pyusb", "wx": "wxpython", "Levenshtein": "python-levenshtein",
    "jose": "python-jose", "multipart": "python-multipart", "slugify": "python-slugify",
    "faiss": "faiss-cpu", "ruamel": "ruamel.yaml", "pkg_resources": "setuptools",
    "google.protobuf": "protobuf", "azureml": "azureml-core", "mpl_toolkits": "matplotlib",
    "tensorboardX": "tensorboardx", "osgeo": "gdal", "Bio": "biopython",
    "lightning": "lightning", "pytorch_lightning": "pytorch-lightning",
    "sentence_transformers": "sentence-transformers", "segyio": "segyio",
}

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def missing_module(log_tail: str) -> str | None:
    """The module of the last ``ModuleNotFoundError`` in a log, if any."""
    found = _MISSING.findall(log_tail)
    return found[-1] if found else None


@lru_cache(maxsize=1)
def _installed_providers() -> dict[str, list[str]]:
    try:
        return {k: list(v) for k, v in metadata.packages_distributions().items()}
    except (OSError, ValueError, KeyError, TypeError):  # broken metadata must not break a hint
        return {}


def distribution_for(module: str, providers: Mapping[str, Sequence[str]] | None = None) -> str:
    """The distribution to install for ``import module`` (``yaml.cyaml`` -> ``pyyaml``).

    The table of known differences first (dotted names too), then whatever
    provides the top-level package in azml's own environment, else the name itself.
    """
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in IMPORT_TO_DISTRIBUTION:
            return IMPORT_TO_DISTRIBUTION[prefix]
    top = parts[0]
    known = (providers if providers is not None else _installed_providers()).get(top)
    if known:
        return normalize(known[0])
    return normalize(top)


def _is_snapshot_module(top: str, snapshot: Path | None) -> bool:
    if snapshot is None:
        return False
    return (snapshot / f"{top}.py").is_file() or (snapshot / top).is_dir()


def missing_module_hint(
    log_tail: str,
    requirements: Path | None,
    *,
    lines: Sequence[str] = (),
    snapshot: Path | None = None,
    isolated: bool = True,
    providers: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """One line telling how to fix a ``ModuleNotFoundError``, or None if there is none.

    Args:
        log_tail: the end of the failed step's log.
        requirements: the step's requirements file (None when it has none).
        lines: the requirement lines the environment was built from.
        snapshot: the step's snapshot root: a missing module that is a file or
            folder there is the script's own code, not a package (no hint).
        isolated: False under ``--env current`` (azml's own interpreter ran the step).
        providers: import name -> distributions (default: azml's environment).
    """
    module = missing_module(log_tail)
    if module is None or _is_snapshot_module(module.split(".")[0], snapshot):
        return None
    dist = distribution_for(module, providers)
    named = f"'{module}'" if dist == normalize(module) else f"'{module}' (distribution {dist})"
    listed = {project_name(line) for line in lines} - {None}
    if requirements is None:
        return (f"hint: the step imports {named}, and it has no requirements file: give it "
                f"'requirements' with a line '{dist}' (AzureML installs only what it lists)")
    if not isolated:
        return (f"hint: {named} is not installed for azml's own interpreter (--env current); "
                f"pip install {dist}, and add '{dist}' to {requirements} so AzureML installs it too")
    if normalize(dist) in listed:
        return (f"hint: '{dist}' is in {requirements} but '{module}' cannot be imported: check "
                "that this distribution provides that module at the version installed")
    return f"hint: add '{dist}' to {requirements}: the step imports {named}, which it does not install"
