"""Step 4: score the trained model on the held-out test inlines.

Usage::

    python test.py --model MODEL_DIR --test_data SURVEY_DIR --output DIR [--inline N]

``--model`` is the train step's output (holding ``model.pth``), ``--test_data``
the survey folder (holding ``test_once/test1_seismic.npy`` and labels). Every
test inline section is predicted whole, from overlapping tiles the size of the
training patches whose class probabilities are averaged. Writes
``metrics.json`` (``pixel_accuracy``, ``mean_class_accuracy``, ``mean_iou``,
per-class IoU, and the majority-class baseline), ``predictions.npy`` and a PNG
of one inline (seismic, ground truth, prediction).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dutchf3.common import InputError, require_dir, run_main, setup_logging
from dutchf3.data import load_volume_pair
from dutchf3.metrics import confusion, majority_baseline, scores
from dutchf3.predict import load_checkpoint, load_network, predict_labels
from dutchf3.render import save_section_png
from dutchf3.synthetic import TEST_LABELS, TEST_SEISMIC

LOG = logging.getLogger("test")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the step's arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path,
                        help="train step output folder (or a model.pth file)")
    parser.add_argument("--test_data", required=True, type=Path,
                        help="survey folder holding test_once/test1_*.npy")
    parser.add_argument("--output", required=True, type=Path, help="folder for the results")
    parser.add_argument("--inline", type=int, default=None,
                        help="test inline (0-based within the test block) to draw; "
                             "default: the middle one")
    return parser.parse_args(argv)


def predict_volume(ckpt: dict[str, Any], seismic: np.ndarray) -> np.ndarray:
    """Predicted labels (uint8) of every inline section of a raw test volume."""
    net = load_network(ckpt)
    out = np.empty(seismic.shape, dtype=np.uint8)
    for i, section in enumerate(seismic):
        out[i] = predict_labels(net, ckpt, section)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate; returns the exit code."""
    setup_logging()
    args = parse_args(argv)
    start = time.perf_counter()
    ckpt = load_checkpoint(args.model)
    survey = require_dir(args.test_data, "--test_data")
    seismic, labels = load_volume_pair(survey / TEST_SEISMIC, survey / TEST_LABELS)
    if seismic.shape[2] != int(ckpt["stats"]["depth"]):
        LOG.warning("test depth %d differs from training depth %d", seismic.shape[2],
                    ckpt["stats"]["depth"])
    inline = seismic.shape[0] // 2 if args.inline is None else args.inline
    if not 0 <= inline < seismic.shape[0]:
        raise InputError(f"--inline {inline} outside the {seismic.shape[0]} test inlines")
    LOG.info("test volume %s, model from epoch %s", seismic.shape, ckpt.get("epoch"))
    prediction = predict_volume(ckpt, seismic)
    n = int(ckpt["model"]["num_classes"])
    matrix = confusion(torch.from_numpy(labels), torch.from_numpy(prediction), n).numpy()
    result = scores(matrix)
    result.update({"baseline_majority_class": majority_baseline(matrix),
                   "confusion_matrix": matrix.tolist(), "test_shape": list(seismic.shape),
                   "seconds": round(time.perf_counter() - start, 3)})
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    np.save(args.output / "predictions.npy", prediction)
    png = save_section_png(args.output / f"test_inline_{inline}.png", seismic[inline],
                           labels[inline], prediction[inline], f"test inline {inline}")
    LOG.info("pixel accuracy %.4f, mean class accuracy %.4f, mean IoU %.4f "
             "(majority baseline: %.4f / IoU %.4f); wrote metrics.json and %s in %.2f s",
             result["pixel_accuracy"], result["mean_class_accuracy"], result["mean_iou"],
             result["baseline_majority_class"]["pixel_accuracy"],
             result["baseline_majority_class"]["mean_iou"], png.name,
             time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main("test", main))
