"""A queued context message becomes one sent message and a complete conversation record, per channel
(the real handler, moto, and the real OpenAI/Twilio/SendGrid SDKs against the sandboxes)."""

from __future__ import annotations

import json

import pytest

from shared.channels import Channel
from shared.processing.ai_writer import DATA_END, DATA_START, ENGINE_RULES

GSI = {
    Channel.WHATSAPP: {"gsi_company_whatsapp_number", "gsi_recipient_tel"},
    Channel.SMS: {"gsi_company_sms_number", "gsi_recipient_tel"},
    Channel.EMAIL: {"gsi_company_email", "gsi_recipient_email", "gsi_reply_token"},
}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_queued_message_is_sent_once_and_recorded_with_history_tokens_and_provider_id(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)

    result = processor.deliver(message)

    assert result.failed == [] and result.deleted == result.received
    assert processor.queue_depth() == 0
    [sent] = processor.provider_outbox
    [written] = sandbox.openai.outbox
    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    provider_id = sent["message_id"] if channel is Channel.EMAIL else sent["sid"]
    assert record["provider_message_id"] == provider_id
    assert record["ai_response_id"] == written["id"]
    assert json.loads(written["output_text"]) == record["ai_content"]
    assert record["ai_model"] == "gpt-5-mini"
    assert record["prompt_version"] == message.project.ai_config.template_sender.prompt_version
    assert record["processor_version"] == "processor-test" and record["router_version"] == "router-test"
    assert record["initial_processing_time_ms"] >= 0
    [entry] = record["messages"]
    assert entry["message_id"] == provider_id and entry["role"] == "assistant"
    usage = record["ai_usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert {k: entry[k] for k in usage} == usage
    # Only the record's own channel puts it in a reply-matching index; every record is in its
    # project's listing (issue 13).
    assert {k for k in record if k.startswith("gsi_")} == GSI[channel] | {"gsi_project_key"}
    assert record["gsi_project_key"] == f"{record['company_id']}#{record['project_id']}"


def test_whatsapp_sends_the_projects_content_template_with_the_ai_variables(processor_for, context_message):
    processor = processor_for(Channel.WHATSAPP)
    message = context_message(Channel.WHATSAPP)

    processor.deliver(message)

    [sent] = processor.provider_outbox
    record = processor.record(message)
    assert sent["content_sid"] == message.project.channel_config.content_template.content_sid
    assert sent["content_variables"] == record["ai_content"]
    assert set(sent["content_variables"]) == {"1", "2", "3", "4"}
    assert sent["to"] == "whatsapp:+447700900123" and sent["from"] == "whatsapp:+447700900001"
    assert json.loads(record["messages"][0]["content"]) == record["ai_content"]


def test_sms_sends_the_ai_body_from_the_company_number(processor_for, context_message):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)

    processor.deliver(message)

    [sent] = processor.provider_outbox
    record = processor.record(message)
    assert sent["body"] == record["ai_content"]["body"] == record["messages"][0]["content"]
    assert (sent["to"], sent["from"]) == ("+447700900123", "+447700900002")


def test_email_sends_subject_plain_text_and_html_from_the_company_address(processor_for, context_message):
    processor = processor_for(Channel.EMAIL)
    message = context_message(Channel.EMAIL)

    processor.deliver(message)

    [sent] = processor.provider_outbox
    content = processor.record(message)["ai_content"]
    assert sent["from"] == "talent@cucumber-recruitment.example" and sent["from_name"] == "Cucumber Recruitment"
    assert sent["to"] == ["alex.morgan@example.com"]
    assert (sent["subject"], sent["text"]) == (content["subject"], content["body"])
    assert sent["html"].startswith("<p>") and content["body"][:20] in sent["html"]


@pytest.mark.parametrize("channel", list(Channel))
def test_the_ai_gets_the_projects_model_instructions_and_a_strict_schema_but_no_contact_details(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(channel)

    processor.deliver(message)

    [request] = sandbox.openai.requests
    body = request.body
    config = message.project.ai_config
    assert body["model"] == config.model
    assert body["instructions"] == f"{config.template_sender.instructions}\n\n{ENGINE_RULES}"
    assert body["store"] is False
    text_format = body["text"]["format"]
    assert text_format["type"] == "json_schema" and text_format["strict"] is True
    assert text_format["schema"]["additionalProperties"] is False
    ai_input = json.loads(body["input"].partition(DATA_START)[2].partition(DATA_END)[0])
    assert ai_input["recipient"] == {"recipient_first_name": "Alex", "recipient_last_name": "Morgan"}
    assert ai_input["project_data"] == message.project_data
    assert ai_input["company"]["company_representatives"] == ["Carol"]
    assert set(ai_input["company_contact_channels"]) == {"whatsapp", "sms", "email"}
    for private in ("+447700900123", "alex.morgan@example.com", "comms_consent"):
        assert private not in body["input"]
