"""The options every command takes, wherever on the line they are written (``comms dlq list --env prod --json``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeAlias

from tools.comms.target import LOCAL, Target, resolve_target

ENVIRONMENT_CHOICES = ("dev", "prod", LOCAL)


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--env",
        default="dev",
        choices=ENVIRONMENT_CHOICES,
        help="dev or prod (cdk.json; default dev), or local: the running `make local` (.local/env)",
    )
    parent.add_argument("--region", help="override the environment's region from cdk.json")
    parent.add_argument("--json", action="store_true", help="machine-readable output")
    return parent


# What ``comms`` hands each group's ``register`` and what a group hands its commands.
# A string: argparse's class is generic only to the type checker (not subscriptable at run time on 3.11).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_group(groups: Subcommands, name: str, *, help: str, description: str, **options: Any) -> Subcommands:
    """A group (``comms <name> …``) whose commands are added with :func:`add_command`."""
    group = groups.add_parser(name, help=help, description=description, **options)
    return group.add_subparsers(dest="command", required=True, metavar="COMMAND")


def add_command(
    commands: Subcommands,
    name: str,
    run: Callable[[argparse.Namespace, Target], int | None],
    *,
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A leaf command: ``run(args, target)`` is called with the resolved target; it returns the exit code (None = 0)."""
    parser = commands.add_parser(name, help=help, description=description or help, parents=[common_options()])
    parser.set_defaults(run=run)
    return parser


def target_of(args: argparse.Namespace) -> Target:
    return resolve_target(args.env, args.region)
