"""Print where the demo's metrics, predictions and pictures are, from ``azml status --json``
on stdin, then the run's metrics table (from the local tracking store) and a loss-curve plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    run = json.load(sys.stdin)[0]
    steps = {step["id"]: step for step in run["steps"]}
    model = Path(steps["train"]["outputs"]["model"])
    evaluation = Path(steps["evaluate"]["outputs"]["evaluation"])
    train = json.loads((model / "metrics.json").read_text())
    scores = json.loads((evaluation / "metrics.json").read_text())
    print(f"\nrun {run['run_id']}: trained on {train['world_size']} ranks ({model / 'metrics.json'})")
    print(f"held-out mean IoU {scores['mean_iou']:.3f}, pixel accuracy {scores['pixel_accuracy']:.3f}")
    print(f"metrics: {evaluation / 'metrics.json'}")
    for png in sorted(evaluation.glob("*.png")):
        print(f"picture: {png}")
    if "score" in steps:
        print_scores(Path(steps["score"]["outputs"]["predictions"]))
    print_tracked_metrics(run["run_id"], evaluation.parent.parent / "loss_curve.png")
    return 0


def print_scores(predictions: Path) -> None:
    """What the batch-scoring step (a ParallelRunStep) wrote: its rows, predictions, picture."""
    rows = [line.split() for line in (predictions / "scores.txt").read_text().splitlines()]
    accuracy = sum(float(row[1]) for row in rows) / max(len(rows), 1)
    print(f"batch scoring: {len(rows)} inlines, mean pixel accuracy {accuracy:.3f} "
          f"(rows: {predictions / 'scores.txt'}, predictions: {predictions}/test_inline_*.npy)")
    for png in sorted(predictions.glob("*.png")):
        print(f"picture: {png}")


def print_tracked_metrics(run_id: str, plot: Path) -> None:
    """The metrics table of the run and the path of its loss-curve plot (azml metrics)."""
    from azml import api
    from azml.errors import AzmlError

    try:
        result = api.metrics([run_id], plot=str(plot))
    except AzmlError as exc:
        print(f"tracked metrics: not available ({exc})")
        return
    print(f"\n{result['text']}")
    print(f"loss curve: {result['plot']}")


if __name__ == "__main__":
    sys.exit(main())
