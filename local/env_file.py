"""``.local/env``: what a running local stack tells other shells and tools (URLs, the key, AWS).

Written as ``export NAME=value`` lines so that both ``. .local/env`` and
``set -a; . .local/env; set +a`` put the values into the environment of the commands that follow.
"""

from __future__ import annotations

import shlex
from pathlib import Path


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    """Written whole or not at all: a reader waiting for the file never sees half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items()))
    temporary.replace(path)
    return path


def read_env_file(path: Path) -> dict[str, str]:
    """The values of an env file; {} when there is none. Blank lines and comments are skipped."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name.strip() and not name.startswith("#"):
            parts = shlex.split(value)
            values[name.strip()] = parts[0] if parts else ""
    return values
