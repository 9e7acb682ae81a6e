"""Each failure class ends in its status: permanent failures are recorded and not retried, transient
ones leave the record at its last durable step and come back through SQS, where the retry really
retries."""

from __future__ import annotations

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from tests.fixtures.processors import accepted_credentials, provider_secret_name

TWILIO_CHANNELS = [Channel.WHATSAPP, Channel.SMS]
# One rejection the provider gives for good, per channel: an invalid number, a bad address.
PERMANENT_REJECTION = {
    Channel.WHATSAPP: Outcome.provider_error(63016),
    Channel.SMS: Outcome.provider_error(21211),
    Channel.EMAIL: Outcome.provider_error(400),
}


def _permanent(result, record, status):
    assert result.failed == [] and result.deleted == result.received  # deleted, not retried
    assert record["conversation_status"] == status
    assert record["failure_reason"]


@pytest.mark.parametrize("channel", list(Channel))
def test_missing_provider_credentials_fail_the_record_before_any_ai_call(
    channel, processor_for, context_message, company_record, aws, sandbox
):
    processor = processor_for(channel)
    aws.client("secretsmanager").delete_secret(
        SecretId=provider_secret_name(company_record, channel), ForceDeleteWithoutRecovery=True
    )
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_secrets_fetch")
    assert "ResourceNotFoundException" in record["failure_reason"]
    assert sandbox.openai.requests == [] and processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_an_openai_secret_without_a_key_fails_with_the_missing_field_named(
    channel, processor_for, context_message, company_record, aws
):
    processor = processor_for(channel)
    aws.client("secretsmanager").put_secret_value(
        SecretId=company_record.ai_config.openai_config[channel].api_key_reference, SecretString='{"ai_api_key": ""}'
    )
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_secrets_fetch")
    assert "ai_api_key" in record["failure_reason"]


@pytest.mark.parametrize("channel", list(Channel))
def test_a_legacy_assistant_only_config_fails_clearly_without_calling_openai(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    message = context_message(
        channel,
        **{
            "project.ai_config": {
                "api_key_reference": f"ai-multi-comms/openai-api-key/{channel.value}-dev",
                "assistant_id_template_sender": "asst_legacy123",
            }
        },
    )

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_process_ai")
    reason = record["failure_reason"]
    assert "assistant_id_template_sender" in reason and "Assistants API was shut down" in reason
    assert "'model'" in reason and "'template_sender'" in reason  # says how to migrate
    assert sandbox.openai.requests == []


@pytest.mark.parametrize("channel", list(Channel))
def test_schema_invalid_ai_output_is_retried_once_then_fails_without_sending(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    sandbox.openai.script(Outcome.invalid_output(), Outcome.invalid_output())
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_process_ai")
    assert "contract 2 times" in record["failure_reason"]
    assert len(sandbox.openai.requests) == 2 and processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_one_invalid_ai_answer_is_regenerated_and_sent(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    sandbox.openai.script(Outcome.invalid_output())
    message = context_message(channel)

    processor.deliver(message)

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert len(sandbox.openai.requests) == 2 and len(processor.provider_outbox) == 1
    # Both generations were paid for, so both count.
    assert record["ai_usage"]["prompt_tokens"] > sandbox_prompt_tokens_of_one(sandbox)


def sandbox_prompt_tokens_of_one(sandbox) -> int:
    body = sandbox.openai.requests[-1].body
    return (len(body["instructions"]) + len(body["input"]) + 3) // 4


def test_an_sms_longer_than_the_projects_limit_is_rejected_by_the_engine(processor_for, context_message, sandbox):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS, **{"project.rate_limits.max_message_length": 20})

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_process_ai")
    assert "at most 20 allowed" in record["failure_reason"]
    assert processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_a_refused_openai_key_fails_the_record(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    message = context_message(channel)

    with accepted_credentials(sandbox, channel, ai_key="sk-some-other-key"):
        result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_process_ai")
    assert "HTTP 401" in record["failure_reason"]
    assert processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_a_permanent_provider_rejection_fails_the_record_without_retry(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    processor.provider.script(PERMANENT_REJECTION[channel])
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_send_message")
    assert "HTTP 400" in record["failure_reason"]
    assert processor.provider_outbox == []


@pytest.mark.parametrize("channel", list(Channel))
def test_refused_provider_credentials_fail_the_record(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    message = context_message(channel)

    with accepted_credentials(sandbox, channel, provider="some-other-secret"):
        result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_to_send_message")
    assert "HTTP 401" in record["failure_reason"]


@pytest.mark.parametrize("channel", list(Channel))
def test_openai_throttling_is_retried_through_sqs_and_the_redelivery_sends(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    # No SDK retry inside the invocation: SQS is the retry loop.
    sandbox.openai.script(Outcome.status(429))
    message = context_message(channel)

    first = processor.deliver(message)

    assert first.failed == first.received  # a batch item failure: SQS delivers it again
    record = processor.record(message)
    assert record["conversation_status"] == "processing"
    assert "HTTP 429" in record["last_error"]
    assert processor.provider_outbox == []

    second = processor.redeliver()

    assert second.deleted == first.received
    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert "last_error" not in record
    assert len(processor.provider_outbox) == 1
    assert len(sandbox.openai.requests) == 2


@pytest.mark.parametrize("channel", list(Channel))
def test_a_provider_outage_keeps_the_written_message_and_the_redelivery_sends_it(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    processor.provider.script(Outcome.status(429))
    message = context_message(channel)

    first = processor.deliver(message)

    assert first.failed == first.received
    record = processor.record(message)
    assert record["conversation_status"] == "ai_generated"  # back from sending: nothing was taken
    assert "send_started_at" not in record and "HTTP 429" in record["last_error"]
    written = record["ai_content"]

    processor.redeliver()

    record = processor.record(message)
    assert record["conversation_status"] == "initial_message_sent"
    assert len(sandbox.openai.requests) == 1  # the stored content was reused, not rewritten
    assert record["ai_content"] == written
    assert len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_a_provider_that_breaks_its_contract_fails_the_record_as_unknown(
    channel, processor_for, context_message, sandbox
):
    processor = processor_for(channel)
    # A 200 whose body is not JSON at all: the SDK hands back text, a failure nobody named.
    sandbox.openai.script(Outcome.status(200, body="<html>upstream proxy page</html>"))
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    _permanent(result, record, "failed_unknown")
    assert "AttributeError" in record["failure_reason"]
    [logged] = [line for line in processor.logs() if line["level"] == "ERROR" and "cause" in line]
    assert logged["cause"].startswith("AttributeError") and "pipeline.py" in logged["trace"]


@pytest.mark.parametrize("channel", list(Channel))
def test_a_malformed_message_is_logged_with_its_id_and_moved_to_the_dlq_at_once(channel, processor_for):
    processor = processor_for(channel)

    result = processor.deliver('{"conversation_id": "only this"}')

    assert result.failed == [] and result.deleted == result.received  # not retried
    assert processor.all_records() == []
    [line] = [line for line in processor.logs() if line["message"] == "malformed message moved to the DLQ"]
    assert line["sqs_message_id"] == result.received[0]
    assert "channel: missing" in line["reason"]
    sqs = processor.aws.client("sqs")
    [kept] = sqs.receive_message(QueueUrl=processor.aws.queues[channel].dlq_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert kept["Body"] == '{"conversation_id": "only this"}'
    assert "channel: missing" in kept["MessageAttributes"]["failure_reason"]["StringValue"]


def test_a_message_for_another_channel_is_malformed_here(processor_for, context_message):
    processor = processor_for(Channel.WHATSAPP)

    result = processor.deliver(context_message(Channel.SMS))

    assert result.deleted == result.received
    assert processor.all_records() == []
    assert any("reached the whatsapp processor" in line.get("reason", "") for line in processor.logs())
