"""How commands print: an aligned table for people (the default), JSON for scripts (``--json``).

Nothing printed here is a secret or an unmasked address: commands pass only what may be shown.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from shared import json_codec


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    stream: TextIO | None = None,
) -> None:
    """``rows`` as a table of ``columns`` (in that order), or the whole rows as a JSON array."""
    out = stream or sys.stdout
    if as_json:
        out.write(json_codec.dumps(list(rows), sort_keys=True) + "\n")
        return
    out.write(table(rows, columns) + "\n")


def emit_one(item: Mapping[str, Any], *, as_json: bool, stream: TextIO | None = None) -> None:
    """One object: ``field  value`` lines, or a JSON object."""
    out = stream or sys.stdout
    if as_json:
        out.write(json_codec.dumps(dict(item), sort_keys=True) + "\n")
        return
    width = max((len(name) for name in item), default=0)
    for name, value in item.items():
        out.write(f"{name.ljust(width)}  {_cell(value)}\n")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = ["  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns)).rstrip()]
    lines += ["  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() for line in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set):
        return ",".join(_cell(item) for item in value) or "-"
    if isinstance(value, Mapping):
        return json_codec.dumps(dict(value), sort_keys=True)
    return str(value)
