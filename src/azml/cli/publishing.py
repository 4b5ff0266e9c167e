"""The commands on pipelines kept on AzureML: publish, schedule, schedules, unschedule."""

from __future__ import annotations

import argparse
import json
import sys

from azml.cli.args import azure_options, params


def add_publish(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json (v2: or a pipeline job YAML)")
    p.add_argument("--name", required=True, help="published pipeline (v1) / pipeline component (v2) name")
    p.add_argument("--endpoint", metavar="E", help="v1: pipeline endpoint to make it the default of; "
                   "v2: batch endpoint (default: the name)")
    p.add_argument("--compute", metavar="CLUSTER", help="v2: the deployment's default compute cluster")
    params(p)
    azure_options(p, "azureml-v1")
    p.set_defaults(handler=_publish)


def add_schedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json (v2: or a pipeline job YAML)")
    p.add_argument("--name", required=True, help="schedule name (v1 also publishes the pipeline under it)")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar='"M H DOM MON DOW"', help='a cron expression, e.g. "0 2 * * *"')
    when.add_argument("--every", metavar="N{m,h,d,w}", help="an interval, e.g. 30m, 6h, 1d, 2w")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment of the scheduled runs")
    p.add_argument("--endpoint", metavar="E", help="v1: schedule this pipeline endpoint's default version")
    params(p)
    azure_options(p, "azureml-v1")
    p.set_defaults(handler=_schedule)


def add_schedules(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="disabled schedules too")
    p.add_argument("--json", action="store_true", help="print JSON")
    azure_options(p, "azureml-v1")
    p.set_defaults(handler=_schedules)


def add_unschedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="schedule name (or v1 schedule id)")
    azure_options(p, "azureml-v1")
    p.set_defaults(handler=_unschedule)


def _publish(args: argparse.Namespace) -> int:
    from azml import api

    done = api.publish(args.config, name=args.name, endpoint=args.endpoint, target=args.target,
                       env_file=args.env_file, params=args.param, ws_config=args.ws_config,
                       compute=args.compute, out=sys.stderr)
    what = f"component {done['component']}" if "component" in done else f"pipeline {done['pipeline_id']}"
    endpoint = f" as version {done['version']} of endpoint {done['endpoint']}" if done.get("endpoint") else ""
    print(f"published {done['name']} ({what}){endpoint}")
    print(f"REST endpoint: {done['rest_endpoint']}")
    print(f"example request:\n  {done['example']}")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from azml import api

    done = api.schedule(args.config, name=args.name, cron=args.cron, every=args.every,
                        experiment=args.experiment, endpoint=args.endpoint, target=args.target,
                        env_file=args.env_file, params=args.param, ws_config=args.ws_config,
                        out=sys.stderr)
    print(f"schedule {done['name']} ({done['id']}): {done['recurrence']}, {done['status']}")
    return 0


def _schedules(args: argparse.Namespace) -> int:
    from azml import api

    rows = api.schedules(target=args.target, active_only=not args.all, env_file=args.env_file,
                         ws_config=args.ws_config)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no schedules" if args.all else "no active schedules (--all shows disabled ones)")
    for row in [] if args.json else rows:
        print(f"{row['name']:<24} {row['status']:<9} {row['recurrence']}  {row['id']}")
    return 0


def _unschedule(args: argparse.Namespace) -> int:
    from azml import api

    done = api.unschedule(args.name, target=args.target, env_file=args.env_file,
                          ws_config=args.ws_config)
    print(f"schedule {done['name']} ({done['id']}): {done['status']}")
    return 0
