"""Step 2: normalise the training volume and cut 2-D patch sets.

Usage::

    python prepare_data.py --input_data SURVEY_DIR --output DIR
        [--patch_size N --stride N --val_fraction F --orientation both]

Reads ``train/train_seismic.npy`` and ``train/train_labels.npy`` under
``--input_data`` (the generate step's output, or the real F3 data). The mean
and standard deviation come from the training volume only. The last
``--val_fraction`` of the training inlines is held out for validation (its
inline sections only, as the block is thin). Writes
``{train,val}_patches.npy`` (float32 N x P x P), ``{train,val}_patch_labels.npy``
(uint8), ``{train,val}_patch_depths.npy`` (first depth index of each patch)
and ``stats.json`` to ``--output``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dutchf3 import CLASS_NAMES, NUM_CLASSES
from dutchf3.common import InputError, require_dir, run_main, setup_logging
from dutchf3.data import (
    ORIENTATIONS,
    STATS_FILE,
    PatchSet,
    load_volume_pair,
    normalisation_stats,
    normalise,
    save_patches,
    split_inlines,
    volume_patches,
)
from dutchf3.synthetic import TRAIN_LABELS, TRAIN_SEISMIC

LOG = logging.getLogger("prepare_data")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the step's arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input_data", required=True, type=Path,
                        help="survey folder holding train/train_seismic.npy and labels")
    parser.add_argument("--output", required=True, type=Path, help="folder to write to")
    parser.add_argument("--patch_size", type=int, default=32, help="patch side (samples)")
    parser.add_argument("--stride", type=int, default=16, help="step between patches")
    parser.add_argument("--val_fraction", type=float, default=0.1,
                        help="share of training inlines held out for validation")
    parser.add_argument("--orientation", choices=ORIENTATIONS, default="both",
                        help="cut patches from inline and/or crossline sections")
    parser.add_argument("--section_step", type=int, default=2,
                        help="use every N-th section (thins out near-duplicate patches)")
    args = parser.parse_args(argv)
    if args.patch_size < 4 or args.stride < 1 or args.section_step < 1:
        raise InputError("need --patch_size >= 4, --stride >= 1 and --section_step >= 1")
    return args


def describe(name: str, patches: PatchSet) -> dict:
    """Counts and class frequencies of a patch set, for stats.json and the log."""
    counts = np.bincount(patches.labels.ravel(), minlength=NUM_CLASSES)
    LOG.info("%s: %d patches, class shares %s", name, len(patches),
             np.round(counts / max(counts.sum(), 1), 3).tolist())
    return {"patches": len(patches), "class_counts": counts.tolist()}


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare the patch sets; returns the exit code."""
    setup_logging()
    args = parse_args(argv)
    start = time.perf_counter()
    survey = require_dir(args.input_data, "--input_data")
    seismic, labels = load_volume_pair(survey / TRAIN_SEISMIC, survey / TRAIN_LABELS)
    LOG.info("training volume %s from %s", seismic.shape, survey)
    stats = normalisation_stats(seismic)
    seismic = normalise(seismic, stats)
    split = split_inlines(seismic.shape[0], args.val_fraction)
    args.output.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, rows in (("train", slice(0, split)), ("val", slice(split, None))):
        if rows.start == seismic.shape[0]:
            continue
        if name == "train":
            orientation, step = args.orientation, args.section_step
        else:  # the validation block is thin: cut its inline sections only
            orientation, step = ("crossline" if args.orientation == "crossline"
                                 else "inline"), 1
        patches = volume_patches(seismic[rows], labels[rows], args.patch_size, args.stride,
                                 orientation, step)
        save_patches(args.output, name, patches)
        summary[name] = describe(name, patches)
    stats.update({
        "depth": int(seismic.shape[2]), "patch_size": args.patch_size, "stride": args.stride,
        "orientation": args.orientation, "section_step": args.section_step,
        "val_fraction": args.val_fraction,
        "train_volume_shape": list(seismic.shape), "val_first_inline": split,
        "num_classes": NUM_CLASSES, "class_names": list(CLASS_NAMES), "splits": summary,
    })
    (args.output / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n")
    LOG.info("wrote patches and %s to %s in %.2f s", STATS_FILE, args.output,
             time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main("prepare_data", main))
