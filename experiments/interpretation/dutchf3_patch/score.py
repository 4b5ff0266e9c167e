"""Step 5 (a ParallelRunStep): score held-out inlines in mini-batches with the trained model.

AzureML's batch driver imports this file in each worker process, calls ``init()``
once, then ``run(mini_batch)`` with a list of section files (``test_inline_NNN.npz``
from ``generate_data.py --sections``). Arguments (read with ``parse_known_args``:
the driver's own options share ``sys.argv``)::

    --model MODEL_DIR        the train step's output (holding model.pth)
    [--picture_inline N]     test inline drawn as a PNG (default 0)

For each section ``run()`` saves the predicted labels as ``test_inline_NNN.npy`` in
the step's output (``AZUREML_BI_OUTPUT_PATH``) and returns one row: the file name,
the pixel accuracy against the section's labels and the predicted share of each
class. The driver appends the rows to the output's rows file.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dutchf3 import NUM_CLASSES
from dutchf3.predict import load_checkpoint, load_network, predict_labels
from dutchf3.render import save_section_png

LOG = logging.getLogger("score")
STATE: dict[str, Any] = {}


def init() -> None:
    """Load the model once per worker; share the node's cores between the workers."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--picture_inline", type=int, default=0)
    parser.add_argument("--process_count_per_node", type=int, default=1)  # the driver's own
    args, _ = parser.parse_known_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.process_count_per_node))
    ckpt = load_checkpoint(args.model)
    STATE.update(ckpt=ckpt, net=load_network(ckpt), picture=args.picture_inline,
                 output=Path(os.environ["AZUREML_BI_OUTPUT_PATH"]))
    LOG.info("model from epoch %s loaded from %s", ckpt.get("epoch"), args.model)


def run(mini_batch: list[str]) -> list[str]:
    """One row per section file: ``NAME ACCURACY SHARE_0 ... SHARE_5``."""
    rows = []
    for name in mini_batch:
        path = Path(name)
        with np.load(path) as data:
            seismic, labels = data["seismic"], data["labels"]
        prediction = predict_labels(STATE["net"], STATE["ckpt"], seismic)
        np.save(STATE["output"] / f"{path.stem}.npy", prediction)
        index = int(path.stem.rsplit("_", 1)[-1])
        if index == STATE["picture"]:
            save_section_png(STATE["output"] / f"{path.stem}.png", seismic, labels, prediction,
                             f"scored test inline {index}")
        accuracy = float((prediction == labels).mean())
        shares = np.bincount(prediction.ravel(), minlength=NUM_CLASSES) / prediction.size
        rows.append(f"{path.name} {accuracy:.4f} " + " ".join(f"{s:.3f}" for s in shares))
    return rows
