"""Context messages for unit tests, built from the example files without any I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.models.context import ContextMessage
from shared.models.request import InitiateRequest
from shared.routing.context_builder import build_context

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def context_message(
    channel: Channel, *, variables: dict[str, str] | None = None, max_message_length: int | None = None
) -> ContextMessage:
    record: dict[str, Any] = json.loads((EXAMPLES / "company_record.example.json").read_text())
    request: dict[str, Any] = json.loads((EXAMPLES / "initiate_request.example.json").read_text())
    request["request_data"]["channel_method"] = channel.value
    if variables is not None:
        record["channel_config"]["whatsapp"]["content_template"]["variables"] = variables
    if max_message_length is not None:
        record["rate_limits"]["max_message_length"] = max_message_length
    return build_context(
        InitiateRequest.model_validate(request),
        CompanyRecord.model_validate(record),
        router_version="unit",
        queued_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        correlation_id=None,
        callback_base_url="https://api.example.test/dev",
    )
