"""A step's software environment: image, Python, pip lines, and what each target adds.

The same :class:`EnvironmentSpec` is what AzureML v1 and v2 receive (as a conda
specification on a Docker image) and what a local run builds (a virtual
environment with the same pip lines), so a package missing from the
requirements file is missing everywhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from azml.plan.requirements import Requirements

Flavor = Literal["azureml_v1", "azureml_v2"]
FLAVORS: tuple[Flavor, ...] = ("azureml_v1", "azureml_v2")

#: Current AzureML base images (github.com/Azure/AzureML-Containers, images/): the
#: openmpi4.1.0-cuda11.8 image azml used before saw its last release in Dec 2024.
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi5.0-cuda12.6-ubuntu24.04"
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04"

#: Packages each target adds to the pip list. AzureML v1 runs every script
#: through its context managers (run history, project path on sys.path), which
#: need azureml-core: the SDK's own default environment lists azureml-defaults
#: (``CondaDependencies.create`` pins it to ``~=`` the client's SDK version). The
#: lower bound is the oldest SDK azml supports: pip takes the newest release either
#: way, but uv, given a bare ``azureml-defaults`` beside pinned torch and numpy,
#: backtracked to 1.0.85.1 (an sdist that no longer builds) and the demo's
#: environment failed on a fresh machine.
ADDED_PACKAGES: dict[Flavor, tuple[str, ...]] = {
    "azureml_v1": ("azureml-defaults>=1.57",),
    "azureml_v2": (),
}
#: What a ParallelRunStep (v1) / parallel job (v2) adds. AzureML's batch driver runs
#: in the step's image and imports azureml-core and azureml-dataset-runtime (which
#: mounts the partitioned inputs): the v1 SDK warns when neither they nor a package
#: depending on them is listed (``_ParallelRunStepBase._check_required_pip_packages``).
#: On v1 ``azureml-defaults`` (added above) already depends on both
#: (``azureml-core``, ``azureml-dataset-runtime[fuse]``), and the SDK counts it as
#: enough; v2 adds nothing to command jobs, so a parallel job lists them itself
#: (as Azure/azureml-examples' parallel pipelines do).
PARALLEL_PACKAGES: dict[Flavor, tuple[str, ...]] = {
    "azureml_v1": (),
    "azureml_v2": ("azureml-core", "azureml-dataset-runtime[fuse]"),
}
CONDA_CHANNELS = ("conda-forge",)


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a step's environment holds.

    Attributes:
        name: the environment's name on AzureML.
        base_image: the Docker image (the config's ``base_image`` or a default).
        python_version: ``major.minor`` of the environment's interpreter.
        requirements: the step's requirements file, read; None without one.
        parallel: the step is a ParallelRunStep (the target adds its driver's packages).
    """

    name: str
    base_image: str
    python_version: str
    requirements: Requirements | None
    parallel: bool = False

    def pip_lines(self, flavor: Flavor) -> tuple[str, ...]:
        """The pip list ``flavor`` installs: the file's lines, then what the target adds."""
        own = self.requirements.lines if self.requirements else ()
        named = {_distribution(line) for line in own}
        wanted = ADDED_PACKAGES[flavor] + (PARALLEL_PACKAGES[flavor] if self.parallel else ())
        added = tuple(p for p in dict.fromkeys(wanted) if _distribution(p) not in named)
        return own + added

    def added(self, flavor: Flavor) -> tuple[str, ...]:
        """What ``flavor`` adds beyond the requirements file."""
        own = self.requirements.lines if self.requirements else ()
        return self.pip_lines(flavor)[len(own):]

    def conda_specification(self, flavor: Flavor) -> dict[str, Any]:
        """The conda environment file AzureML builds (and shows in the studio)."""
        return {
            "name": self.name,
            "channels": list(CONDA_CHANNELS),
            "dependencies": [f"python={self.python_version}", "pip",
                             {"pip": list(self.pip_lines(flavor))}],
        }

    def digest(self, flavor: Flavor) -> str:
        """Content digest of the environment ``flavor`` builds (not of file bytes:
        an edit to a comment changes nothing AzureML or a local build would see)."""
        body = {"image": self.base_image, "python": self.python_version,
                "pip": list(self.pip_lines(flavor))}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_image": self.base_image,
            "python_version": self.python_version,
            "requirements": self.requirements.to_dict() if self.requirements else None,
            "added": {flavor: list(self.added(flavor)) for flavor in FLAVORS},
        }


def _distribution(line: str) -> str:
    """The normalised distribution name a requirement line installs (empty for options)."""
    if line.startswith("-"):
        return ""
    name = ""
    for char in line:
        if char.isalnum() or char in "-_.":
            name += char
        else:
            break
    return name.lower().replace("_", "-").replace(".", "-")
