"""``azml data``: pull, push, register and list, each an action with its own options."""

from __future__ import annotations

import argparse
import json
import sys

from azml.cli.args import positive_int


def add_data(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option given before the action (azml data --env-file X pull) is not reset
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of unexpected errors")
    common.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS,
                        help="settings file (default: ./.env if present)")
    p.set_defaults(handler=lambda _args: _data_help(p))
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    pull = sub.add_parser("pull", parents=[common], help="download DATASTORE[/PATH] from blob storage "
                          "into the local datastore folder (skips unchanged files, resumes)")
    pull.add_argument("spec", metavar="DATASTORE[/PATH]")
    pull.add_argument("--workers", type=positive_int, metavar="N", help="parallel transfers (default 8)")
    pull.add_argument("--verify", action="store_true",
                      help="check every downloaded file's MD5 against the blob's Content-MD5")
    pull.set_defaults(handler=_data_pull)
    push = sub.add_parser("push", parents=[common], help="upload the local datastore folder "
                          "DATASTORE[/PATH] (or --from DIR) to that blob path")
    push.add_argument("spec", metavar="DATASTORE[/PATH]")
    push.add_argument("--from", dest="source", metavar="DIR", help="upload this folder or file instead, "
                      "e.g. a step's output folder")
    push.add_argument("--workers", type=positive_int, metavar="N", help="parallel transfers (default 8)")
    push.set_defaults(handler=_data_push)
    reg = sub.add_parser("register", parents=[common], help="register a local folder or file, or "
                         "azureml://datastores/NAME/paths/PATH, as a dataset version")
    reg.add_argument("name")
    reg.add_argument("source", metavar="PATH")
    reg.add_argument("--version", type=positive_int, metavar="N", help="version number (default: next)")
    reg.set_defaults(handler=_data_register)
    lst = sub.add_parser("list", parents=[common], help="list registered datasets")
    lst.add_argument("name", nargs="?", help="only this dataset's versions")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(handler=_data_list)


def _data_help(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _data_pull(args: argparse.Namespace) -> int:
    from azml import api

    print(api.data_pull(args.spec, workers=args.workers, verify=args.verify,
                        env_file=args.env_file).summary())
    return 0


def _data_push(args: argparse.Namespace) -> int:
    from azml import api

    print(api.data_push(args.spec, source=args.source, workers=args.workers,
                        env_file=args.env_file).summary())
    return 0


def _data_register(args: argparse.Namespace) -> int:
    from azml import api

    found = api.data_register(args.name, args.source, version=args.version, env_file=args.env_file)
    print(f"dataset {found.name} version {found.version}: {found.source}")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from azml import api
    from azml.data.registry import as_dict

    found = api.data_list(name=args.name, env_file=args.env_file)
    if args.json:
        print(json.dumps([as_dict(d) for d in found], indent=2))
    elif not found:
        print("no datasets registered (azml data register NAME PATH)")
    else:
        for d in found:
            print(f"{d.name:<24} {d.version:>4}  {d.source}  ({d.registered})")
    return 0
