"""Build the batch-inference pipeline from its config and submit it (or run it locally).

The config needs at least one ParallelRunStep (the scoring step). Example::

    python -m azml.pipelines.dev.kickoff_inference_pipeline --config configs/pipeline_config.json
    python -m azml.pipelines.dev.kickoff_inference_pipeline --wait
    python -m azml.pipelines.dev.kickoff_inference_pipeline --local
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from azml.pipelines.dev._kickoff import kickoff


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from azml.pipelines.dev._kickoff import parse_args as parse

    return parse(argv, __doc__.splitlines()[0], "DEV-inference-pipeline")


def make(args: argparse.Namespace) -> Any:
    from azml.pipelines.inference import InferencePipeline

    return InferencePipeline(args.config, ws_config=args.ws_config, env_file=args.env_file,
                             params=args.param, target=args.target)


def main(argv: Sequence[str] | None = None) -> int:
    return kickoff(make, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
