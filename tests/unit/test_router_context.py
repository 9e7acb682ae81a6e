"""The context message: the requested channel's slice only, the conversation id, and its size."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared import json_codec
from shared.api_errors import ConfigurationError, PayloadTooLarge
from shared.channels import Channel
from shared.models.company import CompanyRecord
from shared.models.context import ContextMessage
from shared.models.request import InitiateRequest
from shared.routing.context_builder import MAX_QUEUE_MESSAGE_BYTES, build_context, queue_body

QUEUED_AT = datetime(2026, 11, 24, 9, 30, 1, 250000, tzinfo=UTC)


def _build(request: dict, record: dict) -> ContextMessage:
    return build_context(
        InitiateRequest.model_validate(request),
        CompanyRecord.model_validate(record),
        router_version="r-1",
        queued_at=QUEUED_AT,
        correlation_id="gw-1",
        callback_base_url="https://api.example.test/dev",
    )


@pytest.mark.parametrize(
    ("channel", "sender_part", "config_field"),
    [
        ("whatsapp", "447700900001", "company_whatsapp_number"),
        ("sms", "447700900002", "company_sms_number"),
        ("email", "talent@cucumber-recruitment.example", "company_email"),
    ],
)
def test_only_the_requested_channels_configuration_travels(
    initiate_request_example, company_record_example, channel, sender_part, config_field
):
    initiate_request_example["request_data"]["channel_method"] = channel
    message = _build(initiate_request_example, company_record_example)
    dumped = message.project.model_dump()
    assert config_field in dumped["channel_config"]
    assert (
        dumped["channel_config"]
        == CompanyRecord.model_validate(company_record_example)
        .channel_config.for_channel(Channel(channel))
        .model_dump()
    )
    assert dumped["ai_config"]["api_key_reference"] == f"ai-multi-comms/openai-api-key/{channel}-dev"
    others = {c.value for c in Channel} - {channel}
    body = queue_body(message)
    for other in others:
        assert f"{other}_credentials_id" not in body
        assert f"openai-api-key/{other}" not in body
    assert message.conversation_id == f"ci-demo-001#pi-demo-001#3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f#{sender_part}"


def test_the_ai_sees_the_companys_sender_address_on_every_allowed_channel(
    initiate_request_example, company_record_example
):
    company_record_example["allowed_channels"] = ["whatsapp", "email"]
    message = _build(initiate_request_example, company_record_example)
    assert message.project.contact_channels == {
        "whatsapp": "+447700900001",
        "email": "talent@cucumber-recruitment.example",
    }


def test_the_projects_link_domains_travel_for_the_content_check(initiate_request_example, company_record_example):
    company_record_example["allowed_link_domains"] = ["Careers.Cucumber-Recruitment.example", "bücher.example"]
    message = _build(initiate_request_example, company_record_example)
    assert message.project.allowed_link_domains == ["careers.cucumber-recruitment.example", "xn--bcher-kva.example"]


def test_metadata_names_the_router_version_the_queue_time_and_the_correlation_id(
    initiate_request_example, company_record_example
):
    metadata = _build(initiate_request_example, company_record_example).metadata
    assert (metadata.router_version, metadata.queued_at, metadata.correlation_id) == ("r-1", QUEUED_AT, "gw-1")


def test_the_queue_body_parses_back_into_the_same_message_with_exact_numbers(
    initiate_request_example, company_record_example
):
    initiate_request_example["project_data"]["score"] = Decimal("0.1000000000000000055511151231257827")
    message = _build(initiate_request_example, company_record_example)
    parsed = ContextMessage.model_validate(json_codec.loads(queue_body(message)))
    assert parsed == message
    assert parsed.project_data["score"] == Decimal("0.1000000000000000055511151231257827")


def test_a_channel_without_configuration_is_a_configuration_error(initiate_request_example, company_record_example):
    del company_record_example["channel_config"]["whatsapp"]
    with pytest.raises(ConfigurationError):
        _build(initiate_request_example, company_record_example)
    del company_record_example["ai_config"]["openai_config"]["sms"]
    initiate_request_example["request_data"]["channel_method"] = "sms"
    with pytest.raises(ConfigurationError, match="no AI configuration"):
        _build(initiate_request_example, company_record_example)


def test_a_project_that_names_only_a_retired_assistant_is_refused_before_queueing(
    initiate_request_example, company_record_example
):
    company_record_example["ai_config"]["openai_config"]["whatsapp"] = {
        "api_key_reference": "ai-multi-comms/openai-api-key/whatsapp-dev",
        "assistant_id_template_sender": "asst_123",
    }
    with pytest.raises(ConfigurationError, match="retired OpenAI Assistant"):
        _build(initiate_request_example, company_record_example)


def test_a_message_that_would_not_fit_the_queue_is_refused(initiate_request_example, company_record_example):
    company_record_example["ai_config"]["openai_config"]["whatsapp"]["template_sender"]["instructions"] = "x" * (
        MAX_QUEUE_MESSAGE_BYTES
    )
    with pytest.raises(PayloadTooLarge):
        queue_body(_build(initiate_request_example, company_record_example))


def test_an_older_clients_api_key_field_never_reaches_the_message(initiate_request_example, company_record_example):
    initiate_request_example["company_data"]["api_key"] = "legacy-key-value"
    body = queue_body(_build(initiate_request_example, company_record_example))
    assert "legacy-key-value" not in body
    assert 'api_key"' not in body
