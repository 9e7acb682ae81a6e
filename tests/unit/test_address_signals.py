"""Which address a provider event asks to suppress: read from the event, decided by provider_signals."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from shared.events.address_signals import address_signal
from shared.events.status_updates import parse_update
from tests.fixtures.processors import sendgrid_event, twilio_status


def _signal(event):
    return address_signal(event, parse_update(event))


def _to(event, to):
    return event.model_copy(update={"payload": {**event.payload, "To": to}})


def test_a_twilio_opt_out_error_names_the_number_on_its_channel():
    callback = twilio_status("ci-1", "pi-1", "SM1", "failed", error_code="21610")

    sms = _signal(callback)
    whatsapp = _signal(_to(callback, "whatsapp:+447700900123"))

    assert (sms.channel, sms.address, sms.reason, sms.source) == (
        Channel.SMS,
        "+447700900123",
        SuppressionReason.PROVIDER_OPT_OUT,
        "twilio_error:21610",
    )
    assert (whatsapp.channel, whatsapp.address) == (Channel.WHATSAPP, "+447700900123")


@pytest.mark.parametrize("to", ["", "client:alex", "whatsapp:0770090012", None])
def test_a_twilio_error_without_a_usable_number_names_no_address(to):
    callback = twilio_status("ci-1", "pi-1", "SM1", "failed", error_code="21211")
    payload = {k: v for k, v in callback.payload.items() if k != "To"} | ({"To": to} if to is not None else {})

    signal = _signal(callback.model_copy(update={"payload": payload}))

    assert (signal.reason, signal.address) == (SuppressionReason.HARD_BOUNCE, None)


def test_a_sendgrid_signal_names_the_email_lower_cased_and_the_event_id():
    event = sendgrid_event("ci-1", "pi-1", "msg", "spamreport", event_id="ev-9", email="Alex.Morgan@Example.com")

    signal = _signal(event)

    assert (signal.channel, signal.address, signal.reason, signal.source) == (
        Channel.EMAIL,
        "alex.morgan@example.com",
        SuppressionReason.SPAM_REPORT,
        "sendgrid_event:ev-9",
    )


@pytest.mark.parametrize(
    "event",
    [
        twilio_status("ci-1", "pi-1", "SM1", "undelivered", error_code="30007"),
        twilio_status("ci-1", "pi-1", "SM1", "delivered"),
        sendgrid_event("ci-1", "pi-1", "msg", "bounce", type="blocked"),
        sendgrid_event("ci-1", "pi-1", "msg", "delivered"),
    ],
)
def test_events_about_anything_but_the_address_ask_for_nothing(event):
    assert _signal(event) is None
