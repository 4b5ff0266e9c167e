"""Loading the survey, normalising it and cutting 2-D patches (NumPy only).

Sections keep the horizontal axis first and depth second, whether they are
inline sections (``volume[i]``: crossline x depth) or crossline sections
(``volume[:, j]``: inline x depth); patches are square windows of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import NUM_CLASSES
from .common import InputError, require_dir, require_file

#: File names of the prepared patch sets, per split ("train", "val").
PATCH_FILES: dict[str, str] = {
    "seismic": "{split}_patches.npy",
    "labels": "{split}_patch_labels.npy",
    "depth": "{split}_patch_depths.npy",
}
STATS_FILE = "stats.json"
ORIENTATIONS = ("inline", "crossline", "both")


@dataclass
class PatchSet:
    """Patches of one split.

    Attributes:
        seismic: float32 (N, P, P), normalised amplitudes.
        labels: uint8 (N, P, P), facies labels.
        depth: int32 (N,), depth index of each patch's first sample.
    """

    seismic: np.ndarray
    labels: np.ndarray
    depth: np.ndarray

    def __len__(self) -> int:
        return int(self.seismic.shape[0])


def load_volume_pair(seismic_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and check a seismic volume and its labels.

    Args:
        seismic_path: ``.npy`` with a 3-D float array (inline x crossline x depth).
        labels_path: ``.npy`` with the labels, same shape, values 0..5.

    Returns:
        ``(seismic as float32, labels as uint8)``.

    Raises:
        InputError: a file is missing or unreadable, or shapes or values are wrong.
    """
    arrays = []
    for path in (seismic_path, labels_path):
        require_file(path, "volume")
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
    seismic, labels = arrays
    if seismic.ndim != 3:
        raise InputError(f"{seismic_path} must be 3-D (inline x crossline x depth), "
                         f"got shape {seismic.shape}")
    if labels.shape != seismic.shape:
        raise InputError(f"labels {labels.shape} and seismic {seismic.shape} differ in shape")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 \
            or labels.max() >= NUM_CLASSES:
        raise InputError(f"{labels_path} must hold integer labels 0..{NUM_CLASSES - 1}")
    if not np.isfinite(seismic).all():
        raise InputError(f"{seismic_path} holds NaN or infinite values")
    return seismic.astype(np.float32, copy=False), labels.astype(np.uint8, copy=False)


def normalisation_stats(seismic: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation of a (training) volume."""
    std = float(seismic.std(dtype=np.float64))
    return {"mean": float(seismic.mean(dtype=np.float64)), "std": std if std > 0 else 1.0}


def normalise(seismic: np.ndarray, stats: dict[str, float]) -> np.ndarray:
    """Standardise amplitudes with the given stats, as float32."""
    return ((seismic - stats["mean"]) / stats["std"]).astype(np.float32)


def window_starts(length: int, patch: int, stride: int) -> list[int]:
    """Start offsets of windows covering ``length`` completely.

    Windows step by ``stride``; a last window flush with the end is added if
    the stride does not land there.

    Raises:
        InputError: if ``patch`` is longer than ``length``.
    """
    if patch > length:
        raise InputError(f"patch size {patch} is larger than a section side of {length}; "
                         f"use a smaller --patch_size")
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


def section_patches(seismic: np.ndarray, labels: np.ndarray, patch: int,
                    stride: int) -> PatchSet:
    """Cut all patches from a stack of sections (sections x horizontal x depth)."""
    rows = window_starts(seismic.shape[1], patch, stride)
    cols = window_starts(seismic.shape[2], patch, stride)
    xs, ys, ds = [], [], []
    for r in rows:
        for c in cols:
            xs.append(seismic[:, r:r + patch, c:c + patch])
            ys.append(labels[:, r:r + patch, c:c + patch])
            ds.append(np.full(seismic.shape[0], c, dtype=np.int32))
    return PatchSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(ds))


def volume_patches(seismic: np.ndarray, labels: np.ndarray, patch: int, stride: int,
                   orientation: str, section_step: int = 1) -> PatchSet:
    """Patches from inline and/or crossline sections of a (sub-)volume.

    Args:
        seismic: normalised volume (inline x crossline x depth).
        labels: its labels.
        patch: patch side.
        stride: step between patches within a section.
        orientation: ``inline``, ``crossline`` or ``both``.
        section_step: use every ``section_step``-th section only.
    """
    sets = []
    if orientation in ("inline", "both"):
        sets.append(section_patches(seismic[::section_step], labels[::section_step],
                                    patch, stride))
    if orientation in ("crossline", "both"):
        sets.append(section_patches(seismic[:, ::section_step].transpose(1, 0, 2),
                                    labels[:, ::section_step].transpose(1, 0, 2),
                                    patch, stride))
    return PatchSet(*(np.concatenate([getattr(s, f) for s in sets])
                      for f in ("seismic", "labels", "depth")))


def split_inlines(n_inlines: int, val_fraction: float) -> int:
    """Index of the first validation inline (validation = the last block).

    Raises:
        InputError: on a fraction outside [0, 1) or too few inlines.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"--val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(n_inlines * val_fraction))
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n_inlines - n_val < 1:
        raise InputError(f"only {n_inlines} training inlines; cannot hold out {n_val}")
    return n_inlines - n_val


def save_patches(out_dir: Path, split: str, patches: PatchSet) -> None:
    """Write one split's patch arrays into ``out_dir``."""
    for field, pattern in PATCH_FILES.items():
        np.save(out_dir / pattern.format(split=split), getattr(patches, field))


def load_patches(in_dir: Path, split: str) -> PatchSet:
    """Read one split's patches written by :func:`save_patches`.

    Raises:
        InputError: a file is missing or the arrays do not match.
    """
    require_dir(in_dir, "prepared data")
    arrays = {}
    for field, pattern in PATCH_FILES.items():
        path = require_file(in_dir / pattern.format(split=split),
                            f"{split} patch file (run prepare_data.py first)")
        arrays[field] = np.load(path, allow_pickle=False)
    ps = PatchSet(arrays["seismic"].astype(np.float32, copy=False),
                  arrays["labels"].astype(np.int64, copy=False),
                  arrays["depth"].astype(np.int64, copy=False))
    if ps.seismic.ndim != 3 or ps.labels.shape != ps.seismic.shape \
            or ps.depth.shape != ps.seismic.shape[:1]:
        raise InputError(f"{split} patches in {in_dir} have inconsistent shapes")
    return ps


def load_stats(in_dir: Path) -> dict:
    """Read ``stats.json`` written by the prepare step.

    Raises:
        InputError: if missing, unreadable or lacking mean/std/depth.
    """
    path = require_file(in_dir / STATS_FILE, "stats.json (run prepare_data.py first)")
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = {"mean", "std", "depth", "patch_size"} - set(stats)
    if missing:
        raise InputError(f"{path} lacks {sorted(missing)}")
    return stats
