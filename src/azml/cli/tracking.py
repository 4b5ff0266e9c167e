"""The commands on metrics and models: metrics, models, ui (the local MLflow UI)."""

from __future__ import annotations

import argparse
import json

from azml.errors import UsageError


def add_metrics(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="+", help="local run id, or AzureML run id (several with --compare)")
    p.add_argument("--step", metavar="STEP", help="only this step (step id, name or step run id)")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of every series metric (loss curves)")
    p.add_argument("--compare", action="store_true", help="one row per run with the final value of each metric")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json, for AzureML runs")
    p.set_defaults(handler=_metrics)


def add_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_models)


def add_ui(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stop", action="store_true", help="stop the local MLflow server")
    p.set_defaults(handler=_ui)


def _metrics(args: argparse.Namespace) -> int:
    from azml import api

    if len(args.run_id) > 1 and not args.compare:
        raise UsageError("several run ids need --compare")
    result = api.metrics(args.run_id, step=args.step, plot=args.plot, compare=args.compare,
                         env_file=args.env_file, ws_config=args.ws_config)
    print(json.dumps(result, indent=2) if args.json else result["text"])
    if result["plot"] and not args.json:
        print(f"plot: {result['plot']}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from azml import api

    rows = api.models(env_file=args.env_file)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no models registered locally")
    else:
        for row in rows:
            print(f"{row['name']:<24} v{row['version']:<4} run {row.get('step_run_id') or '-'}  "
                  f"(mlflow run {row['run_id']})  {row['source']}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    from azml import api

    answer = api.ui(env_file=args.env_file, stop=args.stop)
    print(answer if args.stop else f"MLflow UI for the local store: {answer}")
    return 0
