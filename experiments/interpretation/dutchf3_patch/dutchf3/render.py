"""Pillow rendering of a section: seismic, ground truth and prediction side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import CLASS_NAMES

#: One colour per facies (RGB), shared by the truth and prediction panels.
PALETTE: np.ndarray = np.array([
    (69, 117, 180),   # upper North Sea
    (145, 191, 219),  # middle North Sea
    (224, 243, 138),  # lower North Sea
    (254, 224, 100),  # Rijnland / Chalk
    (252, 141, 89),   # Scruff
    (215, 48, 39),    # Zechstein
], dtype=np.uint8)
_TITLE_H = 18
_GAP = 8


def seismic_rgb(section: np.ndarray) -> np.ndarray:
    """Grayscale RGB image of a section (horizontal x depth), depth downwards."""
    image = section.T.astype(np.float64)
    clip = float(np.percentile(np.abs(image), 99)) or 1.0
    gray = ((np.clip(image / clip, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def labels_rgb(labels: np.ndarray) -> np.ndarray:
    """Palette RGB image of a label section (horizontal x depth), depth downwards."""
    return PALETTE[np.clip(labels.T.astype(np.intp), 0, len(PALETTE) - 1)]


def _panel(rgb: np.ndarray, scale: int, title: str,
           font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> Image.Image:
    """One titled panel, enlarged by ``scale`` with nearest-neighbour sampling."""
    body = Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale),
                                       Image.Resampling.NEAREST)
    panel = Image.new("RGB", (body.width, body.height + _TITLE_H), "white")
    panel.paste(body, (0, _TITLE_H))
    ImageDraw.Draw(panel).text((2, 2), title, fill="black", font=font)
    return panel


def _legend(width: int, font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
            names: Sequence[str]) -> Image.Image:
    """A strip with one colour box and name per class."""
    per_row = max(1, width // 150)
    rows = math.ceil(len(names) / per_row)
    legend = Image.new("RGB", (width, rows * 16 + 4), "white")
    draw = ImageDraw.Draw(legend)
    for k, name in enumerate(names):
        x, y = (k % per_row) * 150 + 4, (k // per_row) * 16 + 2
        draw.rectangle((x, y + 2, x + 10, y + 12), fill=tuple(int(c) for c in PALETTE[k]))
        draw.text((x + 14, y), f"{k} {name}", fill="black", font=font)
    return legend


def save_section_png(path: Path, seismic: np.ndarray, truth: np.ndarray,
                     prediction: np.ndarray, title: str = "") -> Path:
    """Write seismic, ground truth and prediction panels side by side.

    Args:
        path: PNG file to write.
        seismic: section (horizontal x depth).
        truth: true labels, same shape.
        prediction: predicted labels, same shape.
        title: text prefixed to the panel titles (e.g. ``"inline 12"``).

    Returns:
        ``path``.
    """
    font = ImageFont.load_default()
    scale = max(1, math.ceil(240 / max(seismic.shape[1], 1)))
    prefix = f"{title}: " if title else ""
    panels = [_panel(seismic_rgb(seismic), scale, f"{prefix}seismic", font),
              _panel(labels_rgb(truth), scale, "ground truth", font),
              _panel(labels_rgb(prediction), scale, "prediction", font)]
    width = sum(p.width for p in panels) + _GAP * (len(panels) + 1)
    legend = _legend(width, font, CLASS_NAMES)
    canvas = Image.new("RGB", (width, panels[0].height + legend.height + 2 * _GAP), "white")
    x = _GAP
    for panel in panels:
        canvas.paste(panel, (x, _GAP))
        x += panel.width + _GAP
    canvas.paste(legend, (0, panels[0].height + _GAP + 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
