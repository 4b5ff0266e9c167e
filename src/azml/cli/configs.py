"""The commands that take a pipeline config: validate, plan, run, submit, export."""

from __future__ import annotations

import argparse
import sys

from azml.cli.args import AZURE_TARGETS, params, positive_int


def add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--target", choices=("local", *AZURE_TARGETS), default="local",
                   help="'azureml-v2' also checks everything AzureML SDK v2 would refuse")
    p.set_defaults(handler=_validate)


def add_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--target", choices=("local", *AZURE_TARGETS), default="local",
                   help="'azure' shows the SDK v1 objects AzureML would receive, 'azureml-v2' the SDK v2 "
                   "pipeline job (no credentials, no network)")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment name (azureml-v2)")
    params(p)
    p.set_defaults(handler=_plan)


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    params(p)
    p.add_argument("--no-reuse", action="store_true", help="run every step even when nothing changed")
    p.add_argument("--max-parallel", type=positive_int, metavar="N",
                   help="steps running at once (default: number of cores)")
    p.add_argument("--experiment", default="local", help="experiment name recorded with the run")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop independent branches as soon as one step fails")
    p.add_argument("--env", choices=("isolated", "current"), default="isolated", dest="env_mode",
                   help="isolated (default): each step in an environment built from its "
                   "requirements; current: azml's own interpreter and packages")
    p.add_argument("--pass-env", action="append", default=[], metavar="NAME",
                   help="give steps this shell variable too (repeatable; AzureML would not)")
    p.add_argument("--pull", action="store_true",
                   help="pull missing datastore inputs from blob storage before running")
    p.add_argument("--target", choices=AZURE_TARGETS, default="azureml-v1",
                   help="whose contract the steps get: AzureML SDK v1's variables (default) or a v2 "
                   "command job's (azureml-v2); argv is the same")
    p.set_defaults(handler=_run)


def add_submit(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="AzureML experiment name")
    params(p)
    p.add_argument("--wait", action="store_true", help="wait for the run to finish")
    p.add_argument("--ws-config", metavar="PATH", help="workspace config.json (default: as the SDK finds it)")
    p.add_argument("--target", choices=AZURE_TARGETS, default="azure",
                   help="'azure' (SDK v1, default) or 'azureml-v2' (SDK v2 pipeline job)")
    p.set_defaults(handler=_submit)


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="path to pipeline_config.json")
    p.add_argument("-o", "--output", required=True, metavar="PIPELINE.yml",
                   help="the YAML file to write (for 'az ml job create -f')")
    p.add_argument("--experiment", default="DEV-train-pipeline", help="experiment name in the YAML")
    params(p)
    p.set_defaults(handler=_export)


def _validate(args: argparse.Namespace) -> int:
    from azml import api

    print(api.validate(args.config, env_file=args.env_file, warn=sys.stderr, target=args.target))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from azml import api

    print(api.plan(args.config, env_file=args.env_file, params=args.param,
                   target=args.target, as_json=args.json, experiment=args.experiment))
    return 0


def _run(args: argparse.Namespace) -> int:
    from azml import api

    api.run(args.config, env_file=args.env_file, params=args.param, experiment=args.experiment,
            reuse=not args.no_reuse, max_parallel=args.max_parallel, fail_fast=args.fail_fast,
            env_mode=args.env_mode, pass_env=args.pass_env, pull=args.pull,
            target=args.target)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from azml import api

    api.submit(args.config, env_file=args.env_file, params=args.param, experiment=args.experiment,
               ws_config=args.ws_config, wait=args.wait, target=args.target)
    return 0


def _export(args: argparse.Namespace) -> int:
    from azml import api

    written = api.export(args.config, args.output, env_file=args.env_file, params=args.param,
                         experiment=args.experiment)
    print(f"wrote {written} (submit it with: az ml job create -f {written})")
    return 0
