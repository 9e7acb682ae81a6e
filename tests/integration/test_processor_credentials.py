"""Credentials are read from Secrets Manager once per warm container, re-read once when a provider
refuses them, and never leave the secret store: not in a log line, a record or a queue message."""

from __future__ import annotations

import json

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from shared.processing.credentials import OpenAiCredentials, SecretReader, TwilioCredentials
from shared.processing.errors import CredentialsMissing
from shared.secret_names import (
    credentials_secret_name,
    credentials_secret_prefix,
    openai_secret_name,
    openai_secret_prefix,
)
from tests.fixtures.processors import (
    FAKE_SECRET_VALUES,
    TWILIO_AUTH_TOKEN,
    accepted_credentials,
    provider_secret_name,
    provider_secret_value,
)

OPENAI_SECRET = openai_secret_name("sms", "dev")


@pytest.mark.parametrize("channel", list(Channel))
def test_a_rotated_openai_key_is_read_again_after_one_refusal(
    channel, processor_for, context_message, company_record, aws, sandbox
):
    processor = processor_for(channel)
    processor.deliver(context_message(channel))  # the warm container now caches the old key
    rotated = "sk-test-rotated-openai-key"
    aws.client("secretsmanager").put_secret_value(
        SecretId=company_record.ai_config.openai_config[channel].api_key_reference,
        SecretString=json.dumps({"ai_api_key": rotated}),
    )
    message = context_message(channel)

    with accepted_credentials(sandbox, channel, ai_key=rotated):
        processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert len(processor.provider_outbox) == 2


@pytest.mark.parametrize("channel", list(Channel))
def test_rotated_provider_credentials_are_read_again_after_one_refusal(
    channel, processor_for, context_message, company_record, aws, sandbox
):
    processor = processor_for(channel)
    processor.deliver(context_message(channel))
    rotated = "rotated-provider-secret-1234"
    aws.client("secretsmanager").put_secret_value(
        SecretId=provider_secret_name(company_record, channel), SecretString=provider_secret_value(channel, rotated)
    )
    message = context_message(channel)

    with accepted_credentials(sandbox, channel, provider=rotated):
        processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert len(processor.provider_outbox) == 2


def test_secrets_are_served_from_the_cache_until_they_expire(aws, processor_secrets):
    manager = aws.client("secretsmanager")
    now = [0.0]
    reader = SecretReader(manager, allowed_prefixes=(openai_secret_prefix("sms"),), clock=lambda: now[0])
    first = reader.read(OPENAI_SECRET, OpenAiCredentials)
    manager.put_secret_value(SecretId=OPENAI_SECRET, SecretString='{"ai_api_key": "sk-new"}')

    cached = reader.read(OPENAI_SECRET, OpenAiCredentials)
    now[0] = 301.0
    expired = reader.read(OPENAI_SECRET, OpenAiCredentials)

    assert not first.from_cache and cached.from_cache
    assert cached.value == first.value
    assert expired.value.ai_api_key.get_secret_value() == "sk-new" and not expired.from_cache


def test_a_processor_may_not_read_another_channels_secret(aws, processor_secrets, company_record):
    reader = SecretReader(aws.client("secretsmanager"), allowed_prefixes=(credentials_secret_prefix("whatsapp"),))

    with pytest.raises(CredentialsMissing, match="not one this channel's processor may read"):
        reader.read(company_record.channel_config.sms.sms_credentials_id, TwilioCredentials)


def test_a_secret_of_the_wrong_shape_names_the_missing_field_but_not_the_values(aws):
    manager = aws.client("secretsmanager")
    name = credentials_secret_name("sms", "acme", "cv", "twilio", "dev")
    manager.create_secret(Name=name, SecretString=json.dumps({"twilio_account_sid": "AC1", "token": "s3cr3t-value"}))
    reader = SecretReader(manager, allowed_prefixes=(credentials_secret_prefix("sms"),))

    with pytest.raises(CredentialsMissing) as failure:
        reader.read(name, TwilioCredentials)

    assert "twilio_auth_token missing" in failure.value.reason
    assert "s3cr3t-value" not in failure.value.reason and "AC1" not in failure.value.reason


def test_credentials_never_appear_in_their_repr():
    credentials = TwilioCredentials(twilio_account_sid="AC1", twilio_auth_token="s3cr3t-value")

    assert "s3cr3t-value" not in repr(credentials) and "s3cr3t-value" not in str(credentials)


@pytest.mark.parametrize("channel", list(Channel))
def test_no_log_line_record_or_queue_message_holds_a_credential_or_an_unmasked_address(
    channel, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(channel)
    sent = context_message(channel)
    processor.deliver(sent)
    refused = context_message(channel)
    with accepted_credentials(sandbox, channel, ai_key="sk-other", provider="other"):
        processor.deliver(refused)
    poisoned = context_message(channel)
    sandbox.openai.script(*[Outcome.status(503)] * 2)
    processor.deliver(poisoned)  # left on the queue for a retry

    logs = processor.log_stream.getvalue() + capsys.readouterr().out
    records = json.dumps(processor.all_records(), default=str)
    queued = json.dumps(
        processor.sqs.receive_message(QueueUrl=processor.queue_url, VisibilityTimeout=0, WaitTimeSeconds=3)["Messages"]
    )
    assert '"level":"ERROR"' in logs or '"level": "ERROR"' in logs  # the failures were logged
    for value in FAKE_SECRET_VALUES:
        assert value not in logs and value not in records and value not in queued
    for address in ("+447700900123", "alex.morgan@example.com"):
        assert address not in logs
    assert processor.record(sent)["messages"][0]["content"] not in logs  # nor what was sent


@pytest.mark.parametrize("channel", list(Channel))
def test_a_message_naming_another_tenants_credentials_fails_without_reading_them(
    channel, faulty_secrets, processor_for, context_message, aws, sandbox
):
    # Another tenant's credentials exist and would work: only the tenant check stands in the way.
    provider = "sendgrid" if channel is Channel.EMAIL else "twilio"
    other = credentials_secret_name(channel.value, "ci-other-002", "pi-other-002", provider, "dev")
    aws.client("secretsmanager").create_secret(
        Name=other, SecretString=provider_secret_value(channel, TWILIO_AUTH_TOKEN)
    )
    processor = processor_for(channel)
    message = context_message(channel, **{f"project.channel_config.{channel.value}_credentials_id": other})

    result = processor.deliver(message)

    record = processor.record(message)
    assert result.failed == [] and result.deleted == result.received  # permanent: not retried
    assert record["conversation_status"] == "failed_secrets_fetch"
    assert "ci-demo-001/pi-demo-001" in record["failure_reason"]
    assert processor.provider_outbox == [] and sandbox.openai.requests == []
    assert not any(other.encode() in body for _, body in faulty_secrets.requests)  # never even asked for


@pytest.mark.parametrize("channel", list(Channel))
def test_provider_credentials_named_as_the_openai_key_are_refused_without_reading_them(
    channel, faulty_secrets, processor_for, context_message, company_record, sandbox
):
    processor = processor_for(channel)
    own_credentials = provider_secret_name(company_record, channel)
    message = context_message(channel, **{"project.ai_config.api_key_reference": own_credentials})

    result = processor.deliver(message)

    record = processor.record(message)
    assert result.failed == [] and result.deleted == result.received
    assert record["conversation_status"] == "failed_secrets_fetch"
    assert f"openai-api-key/{channel.value}-dev" in record["failure_reason"]
    assert processor.provider_outbox == [] and sandbox.openai.requests == []
    assert not any(own_credentials.encode() in body for _, body in faulty_secrets.requests)
