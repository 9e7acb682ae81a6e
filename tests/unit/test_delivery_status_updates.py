"""A provider event as one normalised update: the message it names, what happened, its dedupe key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events.envelope import EventKind, Provider, ProviderEvent
from shared.events.status_updates import MalformedEvent, UpdateKind, parse_update


def _event(kind: EventKind, payload: dict[str, Any]) -> ProviderEvent:
    provider = Provider.TWILIO if kind is EventKind.TWILIO_STATUS else Provider.SENDGRID
    return ProviderEvent(
        provider=provider,
        kind=kind,
        company_id="ci-demo-001",
        project_id="pi-demo-001",
        received_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
        callback_base_url="https://api.example.test/dev",
        payload=payload,
    )


def twilio(**payload: Any):
    return parse_update(_event(EventKind.TWILIO_STATUS, payload))


def sendgrid(**payload: Any):
    return parse_update(_event(EventKind.SENDGRID_EVENT, payload))


def test_a_twilio_status_names_its_message_and_is_deduped_by_status_and_error_code():
    update = twilio(MessageSid="SM" + "a" * 32, MessageStatus="undelivered", ErrorCode="30003", To="+447700900123")

    assert (update.provider_message_id, update.message_key) == ("SM" + "a" * 32, "twilio#SM" + "a" * 32)
    assert (update.status, update.kind, update.rank) == ("undelivered", UpdateKind.DELIVERY, 4)
    assert (update.event_id, update.error_code) == ("undelivered#30003", "30003")
    # A status callback carries no text: the reason is Twilio's dictionary entry for the code.
    assert update.error_reason == "Unreachable destination handset"


def test_a_twilio_error_text_when_sent_wins_and_an_unknown_code_is_named():
    sent_text = twilio(MessageSid="SM1", MessageStatus="failed", ErrorCode="30007", ErrorMessage="Carrier said no")
    unknown = twilio(MessageSid="SM1", MessageStatus="failed", ErrorCode="39999")
    no_error = twilio(MessageSid="SM1", MessageStatus="delivered")

    assert sent_text.error_reason == "Carrier said no"
    assert unknown.error_reason == "Twilio error 39999"
    assert no_error.error_reason is None


def test_a_blank_twilio_error_code_is_no_error():
    update = twilio(MessageSid="SM1", MessageStatus="delivered", ErrorCode="")

    assert (update.error_code, update.event_id, update.rank) == (None, "delivered#", 5)


@pytest.mark.parametrize("status", ["receiving", "received", "something-new"])
def test_a_twilio_status_without_a_rank_is_kept_as_seen_not_as_a_delivery(status):
    update = twilio(MessageSid="SM1", MessageStatus=status)

    assert (update.kind, update.rank) == (UpdateKind.OTHER, None)


@pytest.mark.parametrize(
    "payload",
    [{"MessageStatus": "sent"}, {"MessageSid": "SM1"}, {"MessageSid": " ", "MessageStatus": "sent"}],
)
def test_a_twilio_callback_without_its_sid_or_status_is_malformed(payload):
    with pytest.raises(MalformedEvent):
        twilio(**payload)


def test_a_sendgrid_event_names_the_sends_message_id_and_its_own_event_id():
    update = sendgrid(
        event="delivered",
        sg_message_id="14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        sg_event_id="sg-event-1",
        timestamp=1795512615,
        conversation_id="ci-demo-001#pi-demo-001#r#talent@example.com",
    )

    assert (update.provider_message_id, update.event_id) == ("14c5d75ce93", "sg-event-1")
    assert (update.occurred_at, update.rank) == ("2026-11-24T09:30:15Z", 5)
    assert update.conversation_id == "ci-demo-001#pi-demo-001#r#talent@example.com"


def test_a_bounce_keeps_its_status_and_reason_and_other_events_keep_none():
    bounce = sendgrid(
        event="bounce", sg_message_id="m.f", sg_event_id="e", reason="550 5.1.1 unknown user", status="5.1.1"
    )
    deferred = sendgrid(event="deferred", sg_message_id="m.f", sg_event_id="e2", reason="421 try later")

    assert (bounce.error_code, bounce.error_reason, bounce.rank) == ("5.1.1", "550 5.1.1 unknown user", 4)
    assert (deferred.error_code, deferred.error_reason) == (None, None)
    dropped = sendgrid(event="dropped", sg_message_id="m.f", sg_event_id="e3", reason="Bounced Address", type="drop")
    assert (dropped.error_code, dropped.error_reason) == ("drop", "Bounced Address")


@pytest.mark.parametrize(
    ("event", "kind"),
    [("open", UpdateKind.ENGAGEMENT), ("click", UpdateKind.ENGAGEMENT), ("unsubscribe", UpdateKind.OTHER)],
)
def test_engagement_and_other_sendgrid_events_have_no_rank(event, kind):
    update = sendgrid(event=event, sg_message_id="m.f", sg_event_id="e")

    assert (update.kind, update.rank) == (kind, None)


def test_the_same_sendgrid_event_without_an_event_id_gets_the_same_id_twice():
    payload = {"event": "open", "sg_message_id": "m.f", "timestamp": 1795512615, "email": "a@example.com"}

    first, again = sendgrid(**payload), sendgrid(**dict(reversed(payload.items())))

    assert first.event_id == again.event_id and first.event_id.startswith("sha256:")
    assert sendgrid(**payload | {"timestamp": 1795512616}).event_id != first.event_id


def test_a_sendgrid_event_without_a_message_id_names_no_message():
    update = sendgrid(event="spamreport", sg_event_id="e")

    assert update.provider_message_id is None


@pytest.mark.parametrize("timestamp", ["1795512615", True, 10**20, None])
def test_a_sendgrid_timestamp_that_is_not_a_number_of_seconds_is_ignored(timestamp):
    assert sendgrid(event="delivered", sg_message_id="m", sg_event_id="e", timestamp=timestamp).occurred_at is None


def test_a_sendgrid_event_without_a_name_is_malformed():
    with pytest.raises(MalformedEvent):
        sendgrid(sg_message_id="m", sg_event_id="e")
