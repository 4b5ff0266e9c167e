"""Cancel a pipeline run, or one of its step runs, by id.

Local run ids (from ``azml run``) are looked up first; other ids are fetched
from the AzureML workspace, whatever experiment they belong to. Waits until the
service reports a final state or the timeout passes, and says which.

Example::

    python -m azml.pipelines.dev.cancel_run --run_id RUN_ID [--step_id STEP_RUN_ID] [--timeout 300]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from azml.errors import AzmlError, exit_code_for


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_id", "--run-id", dest="run_id", required=True, help="pipeline run id")
    parser.add_argument("--step_id", "--step-id", dest="step_id", default=None,
                        help="step run id; omit to cancel the whole pipeline run")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for a final state (default: %(default)s)")
    parser.add_argument("--ws-config", "--ws_config", dest="ws_config", default=None,
                        help="workspace config.json (default: .azureml/config.json, searched upward)")
    parser.add_argument("--env-file", dest="env_file", default=None, help="settings file (default: .env)")
    return parser.parse_args(argv)


def cancel(run_id: str, step_id: str | None, env_file: str | None, ws_config: str | None,
           timeout: float) -> str:
    """Local ids first, then AzureML: exactly ``azml cancel`` (one call into :mod:`azml.api`)."""
    from azml import api

    return api.cancel(run_id, step_id=step_id, env_file=env_file, ws_config=ws_config,
                      timeout=timeout)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sentence = cancel(args.run_id, args.step_id, args.env_file, args.ws_config, args.timeout)
    except AzmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    print(sentence)
    return 0 if "timed out" not in sentence else 1


if __name__ == "__main__":
    sys.exit(main())
