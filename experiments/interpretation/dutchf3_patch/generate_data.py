"""Step 1: write a synthetic Dutch-F3-like survey to ``--output``.

Usage::

    python generate_data.py --output DIR [--sections DIR] [--seed N] [--inlines N --crosslines N --depth N]

The layout is the F3 benchmark's: ``train/train_seismic.npy``,
``train/train_labels.npy``, ``test_once/test1_seismic.npy``,
``test_once/test1_labels.npy`` (+ ``survey.json``). ``--inlines`` counts the
whole survey; the last ``--test_fraction`` of it is the held-out test block.
``--sections`` also writes each test inline to its own file
(``test_inline_NNN.npz``), for batch scoring.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dutchf3.common import InputError, run_main, setup_logging
from dutchf3.synthetic import (
    DEFAULT_SIZE,
    DEFAULT_TEST_FRACTION,
    generate_survey,
    save_test_sections,
)

LOG = logging.getLogger("generate_data")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the step's arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, type=Path, help="folder to write to")
    parser.add_argument("--sections", type=Path, default=None,
                        help="folder for the test inlines, one file each (optional)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--inlines", type=int, default=DEFAULT_SIZE[0],
                        help="inlines in the whole survey, test block included")
    parser.add_argument("--crosslines", type=int, default=DEFAULT_SIZE[1])
    parser.add_argument("--depth", type=int, default=DEFAULT_SIZE[2], help="depth samples")
    parser.add_argument("--test_fraction", type=float, default=DEFAULT_TEST_FRACTION,
                        help="share of inlines held out as the test block")
    parser.add_argument("--faults", type=int, default=2, help="number of normal faults")
    parser.add_argument("--noise", type=float, default=0.3,
                        help="noise RMS relative to the noise-free signal's")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the survey; returns the exit code."""
    setup_logging()
    args = parse_args(argv)
    size = (args.inlines, args.crosslines, args.depth)
    start = time.perf_counter()
    try:
        info = generate_survey(args.output, seed=args.seed, size=size,
                               test_fraction=args.test_fraction, faults=args.faults,
                               noise=args.noise)
        if args.sections is not None:
            count = save_test_sections(args.output, args.sections)
            LOG.info("wrote %d test inlines, one file each, to %s", count, args.sections)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    except OSError as exc:
        raise InputError(f"cannot write to {exc.filename or args.output}: {exc}") from exc
    LOG.info("wrote survey %s (train inlines %s, test inlines %s, %.1f MB) to %s in %.2f s",
             info["size"], info["train_inlines"], info["test_inlines"],
             info["bytes"] / 1e6, args.output, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main("generate_data", main))
