"""Segmentation scores from a confusion matrix."""

from __future__ import annotations

import numpy as np
import torch

from . import CLASS_NAMES


def confusion(target: torch.Tensor, prediction: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Confusion matrix (rows: true class, columns: predicted), int64."""
    index = target.reshape(-1).long() * num_classes + prediction.reshape(-1).long()
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def scores(matrix: np.ndarray | torch.Tensor) -> dict:
    """Pixel accuracy, mean class accuracy and (mean) IoU of a confusion matrix.

    Classes absent from both the truth and the prediction are left out of the
    means (their per-class values are ``None``).

    Returns:
        A JSON-ready dict with ``pixel_accuracy``, ``mean_class_accuracy``,
        ``mean_iou``, ``class_accuracy`` and ``class_iou`` (by class name).
    """
    m = np.asarray(matrix, dtype=np.float64)
    true = m.sum(axis=1)
    predicted = m.sum(axis=0)
    hits = np.diag(m)
    union = true + predicted - hits
    with np.errstate(divide="ignore", invalid="ignore"):
        class_acc = np.where(true > 0, hits / true, np.nan)
        iou = np.where(union > 0, hits / union, np.nan)
    names = [CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class_{k}" for k in range(len(m))]

    def listed(values: np.ndarray) -> dict[str, float | None]:
        return {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, values, strict=True)}

    return {
        "pixel_accuracy": float(hits.sum() / max(m.sum(), 1.0)),
        "mean_class_accuracy": float(np.nanmean(class_acc)) if (true > 0).any() else 0.0,
        "mean_iou": float(np.nanmean(iou)) if (union > 0).any() else 0.0,
        "class_accuracy": listed(class_acc),
        "class_iou": listed(iou),
    }


def majority_baseline(matrix: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Scores of always predicting the most frequent true class."""
    m = np.asarray(matrix, dtype=np.float64)
    true = m.sum(axis=1)
    top = int(np.argmax(true))
    share = float(true[top] / max(true.sum(), 1.0))
    present = int((true > 0).sum())
    return {"pixel_accuracy": share, "mean_iou": share / max(present, 1),
            "mean_class_accuracy": 1.0 / max(present, 1)}
