"""Predicting whole sections with a trained checkpoint (shared by test.py and score.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .common import InputError, require_file
from .data import normalise, window_starts
from .model import UNet, build_model, make_inputs

MODEL_FILE = "model.pth"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read ``model.pth`` (or the folder holding it) and check it has what prediction needs.

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
    return dict(ckpt)


def load_network(ckpt: dict[str, Any]) -> UNet:
    """The checkpoint's network with its weights, in eval mode, on the GPU if there is one."""
    net = build_model(ckpt["model"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise InputError(f"checkpoint weights do not fit its model spec: {exc}") from exc
    return net.to(torch.device("cuda" if torch.cuda.is_available() else "cpu")).eval()


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


def predict_labels(net: UNet, ckpt: dict[str, Any], seismic: np.ndarray) -> np.ndarray:
    """Predicted labels (uint8) of one raw section (horizontal x depth)."""
    section = normalise(seismic, ckpt["stats"])
    return predict_section(net, section, ckpt).argmax(0).astype(np.uint8)
