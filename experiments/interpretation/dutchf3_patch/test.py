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

from dutchf3.common import InputError, require_dir, require_file, run_main, setup_logging
from dutchf3.data import load_volume_pair, normalise, window_starts
from dutchf3.metrics import confusion, majority_baseline, scores
from dutchf3.model import UNet, build_model, make_inputs
from dutchf3.render import save_section_png
from dutchf3.synthetic import TEST_LABELS, TEST_SEISMIC

LOG = logging.getLogger("test")
MODEL_FILE = "model.pth"


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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read ``model.pth`` and check it has what the test needs.

    Raises:
        InputError: if missing, unreadable or incomplete.
    """
    if path.is_dir():
        path = path / MODEL_FILE
    require_file(path, "model checkpoint (the train step's model.pth)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds here
        raise InputError(f"cannot load {path}: {exc}") from exc
    missing = {"state_dict", "config", "model", "stats"} - set(ckpt)
    if missing:
        raise InputError(f"{path} is not a train.py checkpoint (lacks {sorted(missing)})")
    return ckpt


def tile_sizes(shape: tuple[int, int], patch: int) -> tuple[int, int]:
    """Tile sides: the training patch size, shrunk to sections smaller than it."""
    return min(patch, shape[0]), min(patch, shape[1])


@torch.no_grad()
def predict_section(net: UNet, section: np.ndarray, ckpt: dict[str, Any]) -> np.ndarray:
    """Class probabilities (classes x horizontal x depth) of one normalised section."""
    patch = int(ckpt["stats"]["patch_size"])
    stride = int(ckpt["config"]["TEST"]["STRIDE"])
    th, td = tile_sizes(section.shape, patch)
    corners = [(r, c) for r in window_starts(section.shape[0], th, stride)
               for c in window_starts(section.shape[1], td, stride)]
    tiles = torch.from_numpy(np.stack([section[r:r + th, c:c + td] for r, c in corners]))
    depth = torch.tensor([c for _, c in corners])
    spec = ckpt["model"]
    x = make_inputs(tiles, depth, int(ckpt["stats"]["depth"]), spec["depth_mode"])
    device = next(net.parameters()).device
    probs = torch.cat([net(b.to(device)).softmax(1).cpu()
                       for b in x.split(ckpt["config"]["TEST"]["BATCH_SIZE"])])
    total = np.zeros((spec["num_classes"], *section.shape), dtype=np.float32)
    count = np.zeros(section.shape, dtype=np.float32)
    for (r, c), p in zip(corners, probs.numpy(), strict=True):
        total[:, r:r + th, c:c + td] += p
        count[r:r + th, c:c + td] += 1.0
    return total / count


def predict_volume(ckpt: dict[str, Any], seismic: np.ndarray) -> np.ndarray:
    """Predicted labels (uint8) of every inline section of a raw test volume."""
    net = build_model(ckpt["model"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"checkpoint weights do not fit its model spec: {exc}") from exc
    net.to(torch.device("cuda" if torch.cuda.is_available() else "cpu")).eval()
    volume = normalise(seismic, ckpt["stats"])
    out = np.empty(seismic.shape, dtype=np.uint8)
    for i, section in enumerate(volume):
        out[i] = predict_section(net, section, ckpt).argmax(0)
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
