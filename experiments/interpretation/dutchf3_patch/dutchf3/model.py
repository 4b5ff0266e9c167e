"""A small UNet for patch segmentation, and helpers around its inputs."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(cin: int, cout: int, dropout: float = 0.0) -> nn.Sequential:
    """Two 3x3 convolutions, each with batch norm and ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """UNet with ``levels`` poolings; channels double at each level.

    Inputs of any size work: they are padded up to a multiple of
    ``2 ** levels`` and the output is cropped back.

    Args:
        in_channels: input channels (seismic, plus depth if used).
        num_classes: output classes.
        base_channels: channels at the first level.
        levels: number of down-sampling steps.
        dropout: dropout rate at the bottleneck.
    """

    def __init__(self, in_channels: int, num_classes: int, base_channels: int = 16,
                 levels: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        widths = [base_channels * 2 ** k for k in range(levels + 1)]
        self.levels = levels
        self.down = nn.ModuleList([conv_block(in_channels, widths[0])])
        self.down.extend(conv_block(widths[k], widths[k + 1],
                                    dropout if k == levels - 1 else 0.0)
                         for k in range(levels))
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2)
                                      for k in reversed(range(levels)))
        self.up = nn.ModuleList(conv_block(2 * widths[k], widths[k])
                                for k in reversed(range(levels)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (N, classes, H, W) for inputs (N, channels, H, W)."""
        height, width = x.shape[-2:]
        unit = 2 ** self.levels
        pad_h, pad_w = (-height) % unit, (-width) % unit
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for upsample, block in zip(self.upsample, self.up, strict=True):
            x = block(torch.cat([skips.pop(), upsample(x)], dim=1))
        return self.head(x)[..., :height, :width]


def build_model(spec: dict[str, Any]) -> UNet:
    """Build the network from a model spec (as saved in ``model.pth``)."""
    return UNet(in_channels=int(spec["in_channels"]), num_classes=int(spec["num_classes"]),
                base_channels=int(spec["base_channels"]), levels=int(spec["levels"]),
                dropout=float(spec.get("dropout", 0.0)))


def model_spec(cfg: dict[str, Any]) -> dict[str, Any]:
    """The resolved model settings from a training config."""
    model = cfg["MODEL"]
    if str(model["NAME"]).lower() != "unet":
        raise ValueError(f"MODEL.NAME {model['NAME']!r} is not supported (only 'unet')")
    depth_mode = str(cfg["TRAIN"]["DEPTH"]).lower()
    if depth_mode not in ("none", "section"):
        raise ValueError(f"TRAIN.DEPTH must be 'none' or 'section', got {depth_mode!r}")
    return {
        "name": "unet", "in_channels": 2 if depth_mode == "section" else 1,
        "num_classes": int(cfg["DATASET"]["NUM_CLASSES"]),
        "base_channels": int(model["BASE_CHANNELS"]), "levels": int(model["LEVELS"]),
        "dropout": float(model["DROPOUT"]), "depth_mode": depth_mode,
    }


def make_inputs(seismic: torch.Tensor, depth_start: torch.Tensor, total_depth: int,
                depth_mode: str) -> torch.Tensor:
    """Network input from patches: seismic channel, plus relative depth if wanted.

    Args:
        seismic: (N, H, D) normalised amplitudes, depth along the last axis.
        depth_start: (N,) depth index of each patch's first sample.
        total_depth: number of depth samples in a whole section.
        depth_mode: ``"section"`` adds a channel with depth / total depth.

    Returns:
        (N, channels, H, D) float tensor.
    """
    x = seismic.unsqueeze(1)
    if depth_mode != "section":
        return x
    steps = torch.arange(seismic.shape[-1], device=seismic.device, dtype=seismic.dtype)
    depth = (depth_start.to(seismic.dtype)[:, None] + steps[None, :]) / float(total_depth)
    depth = depth[:, None, None, :].expand(-1, 1, seismic.shape[1], -1)
    return torch.cat([x, depth], dim=1)
