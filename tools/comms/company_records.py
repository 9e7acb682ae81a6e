"""A company/project record as ``comms company put`` stores it: read from a file, validated by the
model the router reads it with, and refused when the environment may not use it.

A project's ``webhook`` must be an https URL to a public host (``shared.url_safety``, the rule the
webhook sender applies again at every delivery) and name its own signing secret; only against the
local stack does ``allow_local_webhook`` admit an http:// or loopback receiver.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from shared import json_codec
from shared.models.company import CompanyRecord
from shared.url_safety import configuration_problem
from tools.comms.errors import CommandError


class RecordRefused(ValueError):
    """The record is valid but the environment may not use it: it names secrets that are not its
    project's own, or a webhook URL the engine must not call."""


def utc_stamp(now: datetime) -> str:
    """The records' time format: ISO 8601 in UTC with ``Z``, as the example record writes it."""
    return now.isoformat().replace("+00:00", "Z")


def read_record_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; CommandError (nothing written) when there is none."""
    try:
        document = json_codec.loads(path.read_text())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CommandError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise CommandError(f"{path} holds a JSON {type(document).__name__}, not a company/project record object")
    return document


def record_key(document: dict[str, Any]) -> dict[str, str] | None:
    """The table key the document names, or None when its ids are missing (validation says why)."""
    company_id, project_id = document.get("company_id"), document.get("project_id")
    if isinstance(company_id, str) and isinstance(project_id, str):
        return {"company_id": company_id, "project_id": project_id}
    return None


def prepared_record(
    document: dict[str, Any],
    *,
    api_key_ids: list[str],
    now: datetime,
    env: str,
    existing: dict[str, Any] | None = None,
    allow_local_webhook: bool = False,
) -> dict[str, Any]:
    """The record as it will be stored; raises ValidationError when the router could not use it,
    and RecordRefused when it names another tenant's (or no tenant's) credentials in ``env`` or a
    webhook URL that is not https to a public host (http/loopback only with ``allow_local_webhook``).

    Once a record exists, the table is the truth of which keys are bound to it (``comms apikey``
    binds and revokes them there): the file's ``api_key_ids`` only seed a new record, and
    ``api_key_ids`` given here are added to whatever is bound now.
    """
    record = dict(document)
    bound = existing.get("api_key_ids", []) if existing else record.get("api_key_ids", [])
    # "<…>" is the example file's placeholder, never a key id.
    record["api_key_ids"] = sorted({key for key in [*bound, *api_key_ids] if not key.startswith("<")})
    stamp = utc_stamp(now)
    record["created_at"] = (existing or {}).get("created_at") or record.get("created_at") or stamp
    record["updated_at"] = stamp
    company = CompanyRecord.model_validate(record)
    problems = company.secret_problems(env)
    if problems:
        raise RecordRefused("the record names secrets that are not its own:\n" + "\n".join(problems))
    if company.webhook is not None:
        problem = configuration_problem(company.webhook.url, allow_local=allow_local_webhook)
        if problem is not None:
            raise RecordRefused(f"webhook.url: {problem}")
    return record
