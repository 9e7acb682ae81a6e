"""The processor's settings, read from its environment variables."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.processing.adapters.email import as_html
from shared.processing.settings import ProcessorSettings, SettingsInvalid

ENVIRON = {
    "CHANNEL": "sms",
    "ENVIRONMENT": "dev",
    "CONVERSATIONS_TABLE_NAME": "ai-multi-comms-conversations-dev",
    "PROVIDER_MESSAGES_TABLE_NAME": "ai-multi-comms-provider-messages-dev",
    "QUEUE_URL": "https://sqs.eu-north-1.amazonaws.com/1/ai-multi-comms-sms-queue-dev",
    "HEARTBEAT_INTERVAL_SECONDS": "60",
    "VISIBILITY_TIMEOUT_SECONDS": "720",
    "PROCESSOR_VERSION": "abc123",
    "SUPPRESSIONS_TABLE_NAME": "ai-multi-comms-suppressions-dev",
    "CONSENT_KEY_SECRET_ID": "ai-multi-comms/consent-key-dev",
    "CONVERSATION_RETENTION_DAYS": "30",
    "SCHEDULER_GROUP_NAME": "ai-multi-comms-schedules-dev",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/ai-multi-comms-wakeup-scheduler-dev",
}


def test_the_deployed_variables_give_production_timings():
    settings = ProcessorSettings.from_environ(ENVIRON, channel=Channel.SMS)

    assert settings.openai_base_url is None and settings.twilio_api_base_url is None
    assert (settings.ai_timeout_seconds, settings.provider_timeout_seconds) == (30.0, 10.0)
    assert settings.send_settle_seconds == 20.0


def test_a_handler_refuses_another_channels_configuration():
    with pytest.raises(SettingsInvalid, match="CHANNEL is 'sms' but this is the email processor"):
        ProcessorSettings.from_environ(ENVIRON, channel=Channel.EMAIL)


def test_missing_variables_are_named():
    with pytest.raises(SettingsInvalid, match="QUEUE_URL"):
        ProcessorSettings.from_environ({k: v for k, v in ENVIRON.items() if k != "QUEUE_URL"}, channel=Channel.SMS)


def test_a_heartbeat_slower_than_the_visibility_timeout_is_refused():
    with pytest.raises(SettingsInvalid, match="HEARTBEAT_INTERVAL_SECONDS must be shorter"):
        ProcessorSettings.from_environ({**ENVIRON, "HEARTBEAT_INTERVAL_SECONDS": "720"}, channel=Channel.SMS)


def test_the_retry_delay_doubles_per_receive_and_never_exceeds_the_visibility_timeout():
    settings = ProcessorSettings.from_environ(ENVIRON, channel=Channel.SMS)

    assert [settings.retry_delay(n) for n in (1, 2, 3, 10)] == [30, 60, 120, 720]


def test_a_retry_that_must_wait_for_a_send_to_settle_comes_no_sooner_than_that():
    settings = ProcessorSettings.from_environ({**ENVIRON, "RETRY_BACKOFF_SECONDS": "1"}, channel=Channel.SMS)

    assert [settings.retry_delay(n, at_least=19.2) for n in (1, 2, 6, 11)] == [20, 20, 32, 720]
    assert settings.retry_delay(1, at_least=None) == 1


def test_the_environment_a_settings_model_renders_reads_back_as_the_same_settings():
    settings = ProcessorSettings.from_environ(ENVIRON, channel=Channel.SMS)
    rendered = settings.to_environment()

    assert rendered == ENVIRON  # only what was set: the defaults stay in the code, once
    assert ProcessorSettings.from_environ(rendered, channel=Channel.SMS) == settings


def test_the_processor_reads_no_variable_its_settings_do_not_declare():
    settings = ProcessorSettings.from_environ({**ENVIRON, "AWS_SECRET_ACCESS_KEY": "x"}, channel=Channel.SMS)

    assert "AWS_SECRET_ACCESS_KEY" not in settings.to_environment()
    assert "ENVIRONMENT" in ProcessorSettings.variable_names()


def test_the_email_html_is_the_escaped_plain_text_in_paragraphs():
    assert as_html("Hi <Alex>,\n\nLine one\nline two") == "<p>Hi &lt;Alex&gt;,</p><p>Line one<br>line two</p>"
