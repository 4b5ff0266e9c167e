"""Synthetic survey shaped like the Dutch F3 facies benchmark.

The real F3 volumes cannot be downloaded here, so this module builds a small
stand-in with the same layout (``train/train_seismic.npy``,
``train/train_labels.npy``, ``test_once/test1_seismic.npy``,
``test_once/test1_labels.npy``; arrays shaped inline x crossline x depth,
float32 seismic and uint8 labels 0..5).

The geology: six facies stacked in depth order with laterally varying
thickness, folded over a dome that grows with depth (as over the F3 salt),
cut by normal faults (the hanging wall shifted down by the throw). Each facies
has its own acoustic impedance and internal layering (one of them chaotic);
impedance becomes reflectivity, is convolved with a Ricker wavelet along depth
and gets band-limited noise. The held-out test split is the last block of
inlines. Everything follows from the seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import CLASS_NAMES, NUM_CLASSES

#: Default survey size (inlines incl. the test block, crosslines, depth samples).
DEFAULT_SIZE: tuple[int, int, int] = (128, 96, 112)
#: Share of the inlines held out as the test block (the last inlines).
DEFAULT_TEST_FRACTION = 0.25
#: Smallest accepted size along each axis.
MIN_SIZE: tuple[int, int, int] = (4, 8, 16)
#: Inlines rendered at once (also fixes the noise streams, so keep it constant).
_CHUNK = 32
#: Typical RMS amplitude of the noise-free seismic; the noise level is relative to it.
_SIGNAL_RMS = 0.09

TRAIN_SEISMIC = Path("train") / "train_seismic.npy"
TRAIN_LABELS = Path("train") / "train_labels.npy"
TEST_SEISMIC = Path("test_once") / "test1_seismic.npy"
TEST_LABELS = Path("test_once") / "test1_labels.npy"


@dataclass(frozen=True)
class Facies:
    """Rock model of one facies.

    Attributes:
        impedance: mean acoustic impedance (arbitrary units).
        layering: standard deviation of the internal layering's impedance.
        layers: number of internal layers across the facies' thickness.
        thickness: nominal thickness as a share of the depth axis.
        chaotic: whether the internal layering is disrupted laterally.
    """

    impedance: float
    layering: float
    layers: int
    thickness: float
    chaotic: bool = False


#: Upper, middle and lower North Sea group, Rijnland/Chalk, Scruff, Zechstein.
FACIES: tuple[Facies, ...] = (
    Facies(4.0, 0.45, 9, 0.16),
    Facies(4.7, 0.10, 3, 0.17),
    Facies(5.3, 0.55, 5, 0.15),
    Facies(7.6, 0.30, 6, 0.13),
    Facies(6.3, 0.50, 8, 0.13, chaotic=True),
    Facies(9.2, 0.04, 1, 0.26),
)


@dataclass(frozen=True)
class Structure:
    """Laterally varying parts of the model, shared by all inline chunks.

    Attributes:
        bases: depth of the base of facies 0..4, shape (5, inlines, crosslines).
        tops: depth of the top of each facies, shape (6, inlines, crosslines).
        thick: thickness used to place internal layers, same shape as ``tops``.
        lateral: smooth impedance variation, shape (inlines, crosslines).
        chaos: rough lateral field that disrupts chaotic facies.
        faults: (crossline at mid depth, slope per inline, shift per depth
            sample, throw) for each fault.
    """

    bases: np.ndarray
    tops: np.ndarray
    thick: np.ndarray
    lateral: np.ndarray
    chaos: np.ndarray
    faults: tuple[tuple[float, float, float, float], ...]


def smooth_field(rng: np.random.Generator, shape: tuple[int, int],
                 waves: int = 4, max_cycles: float = 1.5) -> np.ndarray:
    """A random sum of plane cosine waves over a map, scaled to [-1, 1].

    Args:
        rng: random generator.
        shape: (inlines, crosslines).
        waves: number of cosine waves.
        max_cycles: largest number of cycles across the map.

    Returns:
        float64 array of ``shape``.
    """
    u = np.arange(shape[0])[:, None] / max(shape[0], 1)
    v = np.arange(shape[1])[None, :] / max(shape[1], 1)
    field = np.zeros(shape)
    for _ in range(waves):
        ku, kv = rng.uniform(-max_cycles, max_cycles, size=2)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        field += rng.uniform(0.5, 1.0) * np.cos(2.0 * math.pi * (ku * u + kv * v) + phase)
    return field / max(float(np.abs(field).max()), 1e-9)


def ricker(peak: float) -> np.ndarray:
    """Ricker wavelet sampled once per depth sample.

    Args:
        peak: peak frequency in cycles per sample.

    Returns:
        The symmetric wavelet, float64.
    """
    half = int(math.ceil(1.5 / peak))
    t = np.arange(-half, half + 1, dtype=np.float64)
    a = (math.pi * peak * t) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def build_structure(rng: np.random.Generator, size: tuple[int, int, int],
                    faults: int) -> Structure:
    """Draw horizons, folding, faults and lateral fields for a survey."""
    ni, nj, nz = size
    nominal = np.array([f.thickness for f in FACIES]) * nz
    vary = np.stack([smooth_field(rng, (ni, nj)) for _ in range(NUM_CLASSES - 1)])
    thick = np.maximum(nominal[:-1, None, None] * (1.0 + 0.35 * vary), 2.0)
    dome = smooth_field(rng, (ni, nj), waves=2, max_cycles=1.0)
    growth = np.linspace(0.3, 1.0, NUM_CLASSES - 1)[:, None, None]
    bases = np.cumsum(thick, axis=0) - 0.07 * nz * growth * dome
    tops = np.concatenate([bases[:1] - nominal[0], bases])
    last = np.full((1, ni, nj), nominal[-1])
    layer_thick = np.concatenate([np.diff(tops, axis=0), last])
    fault_list = []
    for _ in range(faults):
        shift = rng.uniform(0.35, 0.6) * rng.choice([-1.0, 1.0])
        fault_list.append((rng.uniform(0.3, 0.7) * nj, rng.uniform(-0.25, 0.25), shift,
                           rng.uniform(0.05, 0.09) * nz))
    return Structure(
        bases=bases, tops=tops, thick=np.maximum(layer_thick, 1.0),
        lateral=smooth_field(rng, (ni, nj), waves=5, max_cycles=2.0),
        chaos=smooth_field(rng, (ni, nj), waves=12, max_cycles=8.0),
        faults=tuple(fault_list),
    )


def unfaulted_depth(st: Structure, rows: slice, nj: int, nz: int) -> np.ndarray:
    """Depth each sample had before faulting, for the inlines in ``rows``."""
    ni = st.bases.shape[1]
    ii = np.arange(ni)[rows][:, None, None].astype(np.float64)
    jj = np.arange(nj)[None, :, None].astype(np.float64)
    z = np.arange(nz)[None, None, :].astype(np.float64)
    depth = np.broadcast_to(z, (ii.shape[0], nj, nz)).copy()
    for j0, slope, shift, throw in st.faults:
        plane = j0 + slope * (ii - ni / 2.0) + shift * (z - nz / 2.0)
        hanging = np.sign(shift) * (jj - plane) > 0.0
        depth -= throw * hanging
    return depth


def _impedance(st: Structure, rows: slice, depth: np.ndarray, labels: np.ndarray,
               sequences: list[np.ndarray]) -> np.ndarray:
    """Impedance of each sample from its facies, layer and lateral position."""
    ii = np.arange(labels.shape[0])[:, None, None]
    jj = np.arange(labels.shape[1])[None, :, None]
    top = st.tops[:, rows][labels, ii, jj]
    thick = st.thick[:, rows][labels, ii, jj]
    position = (depth - top) / thick
    chaotic = np.array([f.chaotic for f in FACIES])[labels]
    position = position + chaotic * 0.35 * st.chaos[rows][:, :, None]
    impedance = np.array([f.impedance for f in FACIES])[labels]
    impedance = impedance + 0.12 * st.lateral[rows][:, :, None]
    for k, facies in enumerate(FACIES):
        mask = labels == k
        if not mask.any():
            continue
        index = np.floor(position[mask] * facies.layers).astype(np.int64) % facies.layers
        impedance[mask] += facies.layering * sequences[k][index]
    return impedance


def _convolve_depth(x: np.ndarray, wavelet: np.ndarray) -> np.ndarray:
    """Convolve every trace (last axis) with a symmetric wavelet, same length."""
    half = len(wavelet) // 2
    padded = np.pad(x, ((0, 0), (0, 0), (half, half)))
    out = np.zeros_like(x)
    for k, weight in enumerate(wavelet):
        out += weight * padded[:, :, k:k + x.shape[2]]
    return out


def _render(st: Structure, rows: slice, nj: int, nz: int, sequences: list[np.ndarray],
            wavelet: np.ndarray, noise: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels and seismic for the inlines in ``rows``."""
    depth = unfaulted_depth(st, rows, nj, nz)
    labels = np.zeros(depth.shape, dtype=np.uint8)
    for base in st.bases[:, rows]:
        labels += (depth >= base[:, :, None]).astype(np.uint8)
    imp = _impedance(st, rows, depth, labels, sequences)
    refl = np.zeros_like(imp)
    refl[:, :, :-1] = (imp[:, :, 1:] - imp[:, :, :-1]) / (imp[:, :, 1:] + imp[:, :, :-1])
    seismic = _convolve_depth(refl, wavelet)
    colored = _convolve_depth(rng.standard_normal(seismic.shape), wavelet)
    seismic += (noise * _SIGNAL_RMS / float(np.sqrt(np.sum(wavelet ** 2)))) * colored
    return seismic.astype(np.float32), labels


def synthesize(seed: int = 0, size: tuple[int, int, int] = DEFAULT_SIZE, faults: int = 2,
               noise: float = 0.3, peak: float = 0.09) -> tuple[np.ndarray, np.ndarray]:
    """Build a whole survey in memory.

    Args:
        seed: random seed; the same seed and arguments give the same arrays.
        size: (inlines, crosslines, depth samples).
        faults: number of normal faults (at least one is usual).
        noise: noise RMS relative to the typical RMS of the noise-free seismic.
        peak: Ricker peak frequency in cycles per depth sample.

    Returns:
        ``(seismic, labels)``: float32 and uint8 arrays of ``size``.

    Raises:
        ValueError: if the size is too small or an argument is out of range.
    """
    ni, nj, nz = (int(n) for n in size)
    if any(n < m for n, m in zip((ni, nj, nz), MIN_SIZE, strict=True)):
        raise ValueError(f"survey size {size} too small; minimum is {MIN_SIZE}")
    if faults < 0 or noise < 0 or not 0.0 < peak < 0.5:
        raise ValueError("need faults >= 0, noise >= 0 and 0 < peak < 0.5")
    root = np.random.SeedSequence(seed)
    model_seq, *chunk_seqs = root.spawn(1 + math.ceil(ni / _CHUNK))
    rng = np.random.default_rng(model_seq)
    st = build_structure(rng, (ni, nj, nz), faults)
    sequences = [rng.standard_normal(f.layers) for f in FACIES]
    wavelet = ricker(peak)
    seismic = np.empty((ni, nj, nz), dtype=np.float32)
    labels = np.empty((ni, nj, nz), dtype=np.uint8)
    for c, start in enumerate(range(0, ni, _CHUNK)):
        rows = slice(start, min(start + _CHUNK, ni))
        seismic[rows], labels[rows] = _render(st, rows, nj, nz, sequences, wavelet, noise,
                                              np.random.default_rng(chunk_seqs[c]))
    return seismic, labels


def test_inline_count(inlines: int, test_fraction: float = DEFAULT_TEST_FRACTION) -> int:
    """Number of inlines in the held-out test block (at least 1, leaving 3 to train)."""
    return min(max(1, round(inlines * test_fraction)), inlines - 3)


def generate_survey(out_dir: str | Path, seed: int = 0,
                    size: tuple[int, int, int] = DEFAULT_SIZE,
                    test_fraction: float = DEFAULT_TEST_FRACTION, **kwargs: float) -> dict:
    """Write a synthetic F3-like survey in the benchmark's folder layout.

    Args:
        out_dir: folder to write into (created if missing).
        seed: random seed.
        size: (inlines, crosslines, depth) of the whole survey; the last
            ``test_fraction`` of the inlines form the test block.
        test_fraction: share of inlines held out for testing.
        **kwargs: passed to :func:`synthesize` (``faults``, ``noise``, ``peak``).

    Returns:
        The survey description also written to ``survey.json``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    seismic, labels = synthesize(seed=seed, size=size, **kwargs)
    n_test = test_inline_count(seismic.shape[0], test_fraction)
    split = seismic.shape[0] - n_test
    out = Path(out_dir)
    for rel, array in ((TRAIN_SEISMIC, seismic[:split]), (TRAIN_LABELS, labels[:split]),
                       (TEST_SEISMIC, seismic[split:]), (TEST_LABELS, labels[split:])):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(out / rel, np.ascontiguousarray(array))
    info = {
        "seed": seed, "size": list(seismic.shape), "train_inlines": [0, split],
        "test_inlines": [split, seismic.shape[0]], "class_names": list(CLASS_NAMES),
        "class_counts_train": np.bincount(labels[:split].ravel(), minlength=NUM_CLASSES).tolist(),
        "bytes": int(seismic.nbytes + labels.nbytes), **kwargs,
    }
    (out / "survey.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


#: One held-out test inline per file: ``test_inline_NNN.npz`` (``seismic``, ``labels``),
#: NNN its index in the test block; the files a batch-scoring step splits into mini-batches.
SECTION_FILE = "test_inline_{:03d}.npz"


def save_test_sections(survey_dir: str | Path, out_dir: str | Path) -> int:
    """Write each inline of the survey's test block to its own file; returns how many."""
    seismic = np.load(Path(survey_dir) / TEST_SEISMIC)
    labels = np.load(Path(survey_dir) / TEST_LABELS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index, (section, truth) in enumerate(zip(seismic, labels, strict=True)):
        np.savez(out / SECTION_FILE.format(index), seismic=section, labels=truth)
    return int(seismic.shape[0])
