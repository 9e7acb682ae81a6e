"""A project's first message rehearsed exactly as the engine writes it, with nothing sent or kept.

The router's context (``build_context``), the AI writer's instructions and input, the channel's
output contract and the processor's content check, for a sample request; the draft is written by
the same ``AiWriter`` with the channel's OpenAI key read as the processor reads it. No request is
reserved or counted, no record written, no message queued, no provider called; OpenAI keeps no
copy (``store=False``, as in the processor).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.api_errors import ApiError
from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.models.context import ContextMessage
from shared.processing.ai_writer import AiDraft, AiWriter, ResponsesConfig, ai_input, ai_instructions, responses_config
from shared.processing.content_policy import allowed_contacts, check_content
from shared.processing.credentials import OpenAiCredentials, SecretReader
from shared.processing.errors import ContentCheckFailed, ProcessingFailure
from shared.processing.output_contracts import OutputContract, contract_for
from shared.processing.settings import DEFAULT_AI_MAX_RETRIES, DEFAULT_AI_TIMEOUT_SECONDS
from shared.processing.telemetry import ProcessorTelemetry
from shared.request_errors import parse_initiate_request
from shared.routing.context_builder import build_context
from shared.secret_names import openai_secret_prefix
from tools.comms.errors import CommandError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REQUEST = ROOT / "examples" / "initiate_request.example.json"
ROUTER_VERSION = "comms-prompt-test"


class RehearsalFailed(CommandError):
    """The project's configuration, its OpenAI key or OpenAI itself failed the rehearsal: what the
    processor would record as a failed conversation (the message says why, never a value)."""

    exit_code = 1


@dataclass(frozen=True)
class Rendered:
    message: ContextMessage
    contract: OutputContract
    config: ResponsesConfig
    instructions: str
    input: str


def read_request(path: Path | None) -> dict[str, Any]:
    """The sample request: ``path``, or the README's example request."""
    source = path or DEFAULT_REQUEST
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"cannot read {source}: {error.strerror or error}") from None
    except ValueError:
        raise CommandError(f"{source} is not JSON") from None
    if not isinstance(document, dict):
        raise CommandError(f"{source} is not a JSON object like examples/initiate_request.example.json")
    return document


def render(record: CompanyRecord, channel: Channel, document: dict[str, Any], *, now: datetime) -> Rendered:
    """The request made the project's, on ``channel``, and everything the processor would send OpenAI."""
    body = copy.deepcopy(document)
    body["company_data"] = {"company_id": record.company_id, "project_id": record.project_id}
    request_data = body.get("request_data")
    body["request_data"] = {**(request_data if isinstance(request_data, dict) else {}), "channel_method": channel.value}
    try:
        request = parse_initiate_request(body, now=now)
        message = build_context(
            request, record, router_version=ROUTER_VERSION, queued_at=now, correlation_id=None, callback_base_url=None
        )
        contract = contract_for(message)
        config = responses_config(message.project.ai_config, channel.value)
    except ApiError as refused:
        raise CommandError(f"{refused.error_code}: {refused.message}") from None
    except ProcessingFailure as failure:
        raise RehearsalFailed(f"{type(failure).__name__}: {failure}") from None
    return Rendered(message, contract, config, ai_instructions(config), ai_input(message))


def write_draft(rendered: Rendered, *, secretsmanager: Any, env: str, openai_base_url: str | None) -> AiDraft:
    """The draft the processor's ``AiWriter`` gets from OpenAI, with the key the processor would read."""
    channel = rendered.message.channel
    ai_config = rendered.message.project.ai_config
    problem = ai_config.key_problem(channel, env)
    if problem is not None:
        raise RehearsalFailed(problem)
    reader = SecretReader(secretsmanager, allowed_prefixes=(openai_secret_prefix(channel.value),))
    writer = AiWriter(
        base_url=openai_base_url,
        timeout_seconds=DEFAULT_AI_TIMEOUT_SECONDS,
        max_retries=DEFAULT_AI_MAX_RETRIES,
        telemetry=ProcessorTelemetry.unmeasured(),
    )
    try:
        key = reader.read(ai_config.api_key_reference, OpenAiCredentials).value.ai_api_key
        return writer.write(rendered.message, rendered.contract, api_key=key.get_secret_value())
    except ProcessingFailure as failure:
        raise RehearsalFailed(f"{type(failure).__name__}: {failure}") from None


def content_check(rendered: Rendered, content: dict[str, str]) -> str:
    """``passed``, or why the processor would fail the conversation ``failed_content_check``."""
    try:
        check_content(content, allowed_contacts(rendered.message))
    except ContentCheckFailed as failed:
        return f"refused: {failed}"
    return "passed"


def utc_now() -> datetime:
    return datetime.now(UTC)
