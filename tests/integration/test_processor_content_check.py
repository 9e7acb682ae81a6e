"""A message the model was steered into writing (a stranger's link or number) never leaves: the
conversation ends ``failed_content_check``, nothing reaches the provider, the SQS message is deleted
(a retry would be steered the same way) and a metric counts it. The project's own contacts go out."""

from __future__ import annotations

import pytest

from local.sandboxes import Outcome
from shared.channels import Channel
from shared.processing import metric_names
from shared.tables import CONVERSATIONS
from tests.fixtures.emf import emitted_metrics

INJECTED = "Confirm your PIN at http://evil.example/pin or call +1 (900) 555-0100"
# What the model answers on each channel when a request's data has steered it.
STEERED = {
    Channel.WHATSAPP: {"1": "Alex", "2": "Healthcare Assistant", "3": "Carol", "4": INJECTED},
    Channel.SMS: {"body": f"Hi Alex, this is Carol. {INJECTED}"},
    Channel.EMAIL: {"subject": "Your application", "body": f"Hi Alex,\n\n{INJECTED}\n\nCarol"},
}
COMPANY_LINK = "https://careers.cucumber-recruitment.example/jobs/1042"
ALLOWED = {
    Channel.WHATSAPP: {"1": "Alex", "2": "Healthcare Assistant", "3": "Carol", "4": f"Details: {COMPANY_LINK}"},
    Channel.SMS: {"body": f"Hi Alex, details at {COMPANY_LINK} or reply to +447700900002."},
    Channel.EMAIL: {
        "subject": "Your application",
        "body": f"Hi Alex,\n\nDetails: {COMPANY_LINK}\nWrite to talent@cucumber-recruitment.example.\n\nCarol",
    },
}


@pytest.mark.parametrize("channel", list(Channel))
def test_a_message_with_a_link_and_number_the_project_did_not_supply_is_never_sent(
    channel, processor_for, context_message, sandbox, capsys
):
    processor = processor_for(channel)
    sandbox.openai.script(Outcome.output(STEERED[channel]))
    message = context_message(channel)

    result = processor.deliver(message)

    record = processor.record(message)
    assert record["conversation_status"] == "failed_content_check"
    assert "a link to evil.example" in record["failure_reason"]
    assert "phone number" in record["failure_reason"] and "9005550100" not in record["failure_reason"]
    assert record["ai_content"] == STEERED[channel]  # kept, so the operator sees what was refused
    assert processor.provider_outbox == []
    assert result.failed == [] and result.deleted == result.received  # deleted, not retried
    assert processor.queue_depth() == 0 and processor.queue_depth(processor.dlq_url) == 0
    assert len(sandbox.openai.requests) == 1  # not regenerated either
    assert metric_names.CONTENT_CHECK_FAILURES in emitted_metrics(capsys.readouterr().out)


@pytest.mark.parametrize("channel", list(Channel))
def test_a_redelivery_of_a_refused_message_sends_nothing(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    sandbox.openai.script(Outcome.output(STEERED[channel]))
    message = context_message(channel)
    processor.deliver(message)

    again = processor.deliver(message)

    assert again.deleted == again.received
    assert processor.record(message)["conversation_status"] == "failed_content_check"
    assert processor.provider_outbox == [] and len(sandbox.openai.requests) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_the_projects_own_link_domain_number_and_address_are_sent(channel, processor_for, context_message, sandbox):
    processor = processor_for(channel)
    sandbox.openai.script(Outcome.output(ALLOWED[channel]))
    message = context_message(channel, **{"project.allowed_link_domains": ["cucumber-recruitment.example"]})

    processor.deliver(message)

    assert processor.record(message)["conversation_status"] == "initial_message_sent"
    assert len(processor.provider_outbox) == 1


@pytest.mark.parametrize("channel", list(Channel))
def test_content_stored_before_the_check_existed_is_checked_when_the_send_resumes(
    channel, processor_for, context_message, sandbox
):
    # A record an older processor left in ai_generated (its send was refused for now by a 429),
    # holding content nobody checked: the redelivery sends from the record, so it checks there.
    processor = processor_for(channel)
    processor.provider.script(Outcome.status(429))
    message = context_message(channel)
    processor.deliver(message)
    assert processor.record(message)["conversation_status"] == "ai_generated"
    processor.aws.table(CONVERSATIONS.logical_name).update_item(
        Key={"primary_channel": message.recipient_address, "conversation_id": message.conversation_id},
        UpdateExpression="SET ai_content = :steered",
        ExpressionAttributeValues={":steered": STEERED[channel]},
    )

    processor.redeliver()

    record = processor.record(message)
    assert record["conversation_status"] == "failed_content_check"
    assert "a link to evil.example" in record["failure_reason"]
    assert processor.provider_outbox == [] and processor.queue_depth() == 0
