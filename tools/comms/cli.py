"""The ``comms`` entry point: parse, resolve where to act, run one command, map failures to exit codes.

Exit codes: 0 done; 1 not found, or AWS refused/failed (its message printed, never a secret); 2 bad
input, refused before anything changed (argparse uses 2 for unknown options too).
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from botocore.exceptions import BotoCoreError, ClientError

from tools.comms.errors import CommandError
from tools.comms.options import target_of

# Each group module has ``register(groups)``; the order is the order of ``comms --help``.
GROUP_MODULES: tuple[str, ...] = (
    "company",
    "apikeys",
    "secrets",
    "conversations",
    "dlq",
    "suppressions",
    "webhooks",
    "people",
    "maintenance",
    "prompt",
)


def _groups() -> list[ModuleType]:
    import importlib

    return [importlib.import_module(f"tools.comms.{name}") for name in GROUP_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="comms",
        description="Operate the AI Multi-Comms Engine: tenants, keys, secrets, conversations, dead letters.",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in _groups():
        module.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args, target_of(args)) or 0
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"error: AWS refused: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        print(f"error: AWS unreachable: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
