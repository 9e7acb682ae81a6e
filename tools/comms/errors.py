"""What a command refuses or cannot find: printed as ``error: …`` with its exit code, nothing changed."""

from __future__ import annotations


class CommandError(Exception):
    """Bad input (an unknown id, a malformed file, a missing ``--reason``): refused before any write."""

    exit_code = 2


class NotFound(CommandError):
    """The thing named does not exist in the environment (a company, a key, a conversation)."""

    exit_code = 1


class Unavailable(CommandError):
    """What the command needs in the environment could not be used (a missing key, a failing
    table): nothing was changed by this command, and retrying may help."""

    exit_code = 1
