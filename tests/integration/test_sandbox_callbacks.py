"""The Twilio and SendGrid sandboxes call back as the providers do: signed status callbacks and
signed Event Webhook batches, posted after the send was answered, scriptable for the faults the
engine must survive (failures with their codes, duplicates, reordering, holds and replays).

Each test sends through the real SDK and checks what reached a loopback receiver (the engine's
side) with the providers' own verifiers: ``RequestValidator`` and ``EventWebhook``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from sendgrid.helpers.mail import CustomArg, Mail
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from local.sandboxes import (
    CallbackScript,
    FakeSendGrid,
    FakeTwilio,
    InvalidOutcome,
    Outcome,
    Sandboxes,
    fingerprint,
)
from tests.fixtures.sandboxes import CallbackReceiver, Received
from tests.integration.test_sandboxes import (
    AUTH_TOKEN,
    CANDIDATE,
    SENDGRID_KEY,
    email,
    send_sms,
    sendgrid_client,
    twilio_client,
)

WHATSAPP_FROM = "whatsapp:+447700900001"
CONVERSATION = "cucumber#recruitment#8e0e6f5e-0000-4000-8000-000000000001#talent@cucumber.example"
OTHER_TENANT_KEY = "SG.another-tenant"


@pytest.fixture(autouse=True)
def no_event_webhooks_left(sandboxes: Sandboxes) -> Iterator[None]:
    """An Event Webhook URL is the account's setting, kept by ``reset()``: each test removes its own."""
    yield
    for key in (SENDGRID_KEY, OTHER_TENANT_KEY):
        sandboxes.sendgrid.configure_event_webhook(key, None)


def send_whatsapp(sb: Sandboxes, url: str) -> Any:
    return send_whatsapp_with(twilio_client(sb), url)


def send_whatsapp_with(client: TwilioClient, url: str) -> Any:
    return client.messages.create(to=f"whatsapp:{CANDIDATE}", from_=WHATSAPP_FROM, body="Hi Alex", status_callback=url)


def form(received: Received) -> dict[str, str]:
    """The callback's parameters as the engine must parse them (blanks kept, APIS.md §8)."""
    return dict(parse_qsl(received.body.decode(), keep_blank_values=True))


def twilio_signature_valid(received: Received, url: str, token: str = AUTH_TOKEN) -> bool:
    return RequestValidator(token).validate(url, form(received), received.headers["x-twilio-signature"])


def statuses(received: list[Received]) -> list[str]:
    return [form(r)["MessageStatus"] for r in received]


def sendgrid_signature_valid(received: Received, public_key: str) -> bool:
    webhook = EventWebhook()
    return webhook.verify_signature(
        received.body.decode(),
        received.headers[EventWebhookHeader.SIGNATURE.lower()],
        received.headers[EventWebhookHeader.TIMESTAMP.lower()],
        webhook.convert_public_key_to_ecdsa(public_key),
    )


def events(received: list[Received]) -> list[dict[str, Any]]:
    return [event for r in received for event in json.loads(r.body)]


def tracked_email() -> Mail:
    mail = email()
    mail.custom_arg = [CustomArg("conversation_id", CONVERSATION), CustomArg("channel", "email")]
    return mail


# -- Twilio status callbacks ----------------------------------------------------------------------
def test_twilio_whatsapp_callbacks_are_sent_delivered_read_signed_with_the_senders_token(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    url = receiver.url("/webhooks/twilio/cucumber/recruitment/status")
    message = send_whatsapp(sandbox, url)

    received = receiver.wait_for(3)
    sandbox.twilio.wait_for_callbacks()

    assert statuses(received) == ["sent", "delivered", "read"]
    assert all(twilio_signature_valid(r, url) for r in received)
    assert not any(twilio_signature_valid(r, url, token="another-accounts-token") for r in received)
    first = form(received[0])
    assert first | {"ChannelInstallSid": None} == {
        "SmsSid": message.sid,
        "SmsStatus": "sent",
        "MessageStatus": "sent",
        "To": f"whatsapp:{CANDIDATE}",
        "MessageSid": message.sid,
        "AccountSid": message.account_sid,
        "From": WHATSAPP_FROM,
        "ApiVersion": "2010-04-01",
        "ErrorCode": "",  # blank, yet part of the signed parameters
        "ChannelPrefix": "whatsapp",
        "ChannelInstallSid": None,
        "ChannelToAddress": CANDIDATE,
    }
    assert received[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert received[0].path == "/webhooks/twilio/cucumber/recruitment/status"
    assert twilio_client(sandbox).messages(message.sid).fetch().status == "read"
    log = sandbox.twilio.callback_log(message.sid)
    assert [(e.label, e.http_status, e.attempts, e.error) for e in log] == [
        ("sent", 200, 1, None),
        ("delivered", 200, 1, None),
        ("read", 200, 1, None),
    ]
    assert all("Signature" not in json.dumps(e.to_json()) for e in log)


def test_twilio_sms_callbacks_stop_at_delivered_and_carry_no_channel_prefix(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    message = twilio_client(sandbox).messages.create(
        to=CANDIDATE, from_="+447700900002", body="Hi", status_callback=receiver.url()
    )

    sandbox.twilio.wait_for_callbacks()

    assert statuses(receiver.received) == ["sent", "delivered"]
    assert "ChannelPrefix" not in form(receiver.received[0])
    assert twilio_client(sandbox).messages(message.sid).fetch().status == "delivered"


def test_twilio_send_without_status_callback_posts_nothing_and_stays_queued(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.twilio.script_callbacks(CallbackScript())  # kept for the next send that has a callback
    message = send_sms(twilio_client(sandbox))

    assert sandbox.twilio.wait_for_callbacks() == []
    assert twilio_client(sandbox).messages(message.sid).fetch().status == "queued"
    assert len(sandbox.twilio.pending_callback_scripts) == 1


def test_twilio_callbacks_never_hold_up_the_send_answer(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    receiver.block()  # the engine's endpoint hangs
    sandbox.twilio.set_callback_delay(0)

    message = send_whatsapp(sandbox, receiver.url())
    second = send_sms(twilio_client(sandbox))

    assert message.status == second.status == "queued"
    assert receiver.received == []
    receiver.unblock()
    assert statuses(receiver.wait_for(3)) == ["sent", "delivered", "read"]


def test_twilio_callbacks_start_only_once_the_create_was_answered(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.twilio.set_callback_delay(0)
    sandbox.twilio.script(Outcome.accept_then_timeout(2))  # accepted at once, answered 2 s later
    client = twilio_client(sandbox, timeout=0.2)

    with pytest.raises(requests.exceptions.Timeout):
        send_whatsapp_with(client, receiver.url())
    nothing_yet = receiver.received
    logged = sandbox.twilio.wait_for_callbacks()

    assert nothing_yet == []
    assert [e.label for e in logged] == ["sent", "delivered", "read"]


def test_twilio_scripted_undelivered_carries_30003_and_the_message_shows_it(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.twilio.script_callbacks(
        CallbackScript(steps=({"status": "sent"}, {"status": "undelivered", "error_code": 30003}))
    )
    message = send_whatsapp(sandbox, receiver.url())

    sandbox.twilio.wait_for_callbacks()

    sent, undelivered = receiver.received
    assert (form(sent)["ErrorCode"], form(undelivered)["ErrorCode"]) == ("", "30003")
    assert form(undelivered)["MessageStatus"] == "undelivered"
    assert twilio_signature_valid(undelivered, receiver.url())
    fetched = twilio_client(sandbox).messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code, fetched.error_message) == (
        "undelivered",
        30003,
        "Unreachable destination handset",
    )


def test_twilio_failed_30007_scripted_over_http(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    script = {"steps": [{"status": "failed", "error_code": 30007}]}
    answer = requests.post(f"{sandbox.twilio.control_url}/callbacks/script", json=script, timeout=5)
    assert answer.json()["scripted"][0]["steps"] == script["steps"]

    message = send_whatsapp(sandbox, receiver.url())
    logged = requests.get(f"{sandbox.twilio.control_url}/callbacks", params={"wait": 5}, timeout=10).json()

    assert [(e["label"], e["content"]["ErrorCode"], e["http_status"]) for e in logged] == [("failed", "30007", 200)]
    assert logged[0]["message_id"] == message.sid
    assert twilio_client(sandbox).messages(message.sid).fetch().status == "failed"


def test_twilio_duplicate_posts_each_callback_twice_verbatim(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    sandbox.twilio.script_callbacks(CallbackScript(duplicate=True))
    send_whatsapp(sandbox, receiver.url())

    sandbox.twilio.wait_for_callbacks()

    received = receiver.received
    assert statuses(received) == ["sent", "sent", "delivered", "delivered", "read", "read"]
    for first, again in zip(received[::2], received[1::2], strict=True):
        assert (first.body, first.headers["x-twilio-signature"]) == (again.body, again.headers["x-twilio-signature"])


def test_twilio_reversed_callbacks_arrive_last_first_while_the_message_ends_read(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.twilio.script_callbacks(CallbackScript(order="reverse"))
    message = send_whatsapp(sandbox, receiver.url())

    sandbox.twilio.wait_for_callbacks()

    assert statuses(receiver.received) == ["read", "delivered", "sent"]
    assert all(twilio_signature_valid(r, receiver.url()) for r in receiver.received)
    assert twilio_client(sandbox).messages(message.sid).fetch().status == "read"


def test_twilio_shuffle_with_a_seed_is_a_repeatable_permutation(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    steps = tuple({"status": s} for s in ("accepted", "sending", "sent", "delivered", "read"))
    sandbox.twilio.script_callbacks(*[CallbackScript(steps=steps, order="shuffle", seed=7)] * 2)
    first, second = (send_whatsapp(sandbox, receiver.url(f"/{n}")) for n in ("a", "b"))

    sandbox.twilio.wait_for_callbacks()

    orders = [[e.label for e in sandbox.twilio.callback_log(m.sid)] for m in (first, second)]
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(s["status"] for s in steps)
    assert orders[0] != [s["status"] for s in steps]


def test_twilio_held_callbacks_wait_for_release(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    sandbox.twilio.script_callbacks(CallbackScript(hold=True))
    held = send_whatsapp(sandbox, receiver.url())
    free = send_whatsapp(sandbox, receiver.url())

    sandbox.twilio.wait_for_callbacks()

    assert {form(r)["MessageSid"] for r in receiver.received} == {free.sid}
    assert sandbox.twilio.held_callbacks == [held.sid]
    assert twilio_client(sandbox).messages(held.sid).fetch().status == "queued"
    released = requests.post(
        f"{sandbox.twilio.control_url}/callbacks/release", json={"message_id": held.sid}, timeout=5
    ).json()
    sandbox.twilio.wait_for_callbacks()

    assert released == {"released": 1}
    assert statuses([r for r in receiver.received if form(r)["MessageSid"] == held.sid]) == [
        "sent",
        "delivered",
        "read",
    ]
    assert sandbox.twilio.held_callbacks == []


def test_twilio_replay_posts_a_messages_callbacks_again_verbatim(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    message = send_whatsapp(sandbox, receiver.url())
    other = send_whatsapp(sandbox, receiver.url())
    sandbox.twilio.wait_for_callbacks()
    first = [r for r in receiver.received if form(r)["MessageSid"] == message.sid]

    answer = requests.post(
        f"{sandbox.twilio.control_url}/callbacks/replay", json={"message_id": message.sid}, timeout=5
    )
    sandbox.twilio.wait_for_callbacks()

    assert answer.json() == {"replayed": 3}
    replayed = receiver.received[6:]
    assert [(r.body, r.headers["x-twilio-signature"]) for r in replayed] == [
        (r.body, r.headers["x-twilio-signature"]) for r in first
    ]
    assert [e.replay for e in sandbox.twilio.callback_log(message.sid)] == [False] * 3 + [True] * 3
    assert not any(e.replay for e in sandbox.twilio.callback_log(other.sid))


def test_twilio_retries_a_refused_connection_but_not_an_error_answer(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    closed = CallbackReceiver()
    refused_url = closed.url()
    closed.stop()  # nothing listens there any more
    sandbox.twilio.script_callbacks(CallbackScript(steps=({"status": "sent"},)))
    refused = send_whatsapp(sandbox, refused_url)
    receiver.answer(500)
    sandbox.twilio.script_callbacks(CallbackScript(steps=({"status": "sent"},)))
    erred = send_whatsapp(sandbox, receiver.url())
    sandbox.twilio.script_callbacks(CallbackScript(steps=({"status": "sent"},)))
    nowhere = send_whatsapp(sandbox, "not-a-url")

    sandbox.twilio.wait_for_callbacks()

    (gave_up,) = sandbox.twilio.callback_log(refused.sid)
    assert (gave_up.http_status, gave_up.attempts) == (None, 3)
    assert gave_up.error.startswith("connection failed")
    (answered,) = sandbox.twilio.callback_log(erred.sid)
    assert (answered.http_status, answered.attempts, answered.error) == (500, 1, None)
    (unpostable,) = sandbox.twilio.callback_log(nowhere.sid)
    assert unpostable.error.startswith("invalid url")
    assert len(receiver.received) == 1
    assert send_whatsapp(sandbox, receiver.url()).status == "queued"  # the sandbox carries on


def test_twilio_callback_scripts_refuse_unknown_statuses(sandbox: Sandboxes) -> None:
    with pytest.raises(InvalidOutcome):
        sandbox.twilio.script_callbacks(CallbackScript(steps=({"status": "exploded"},)))
    with pytest.raises(InvalidOutcome):
        sandbox.twilio.script_callbacks(CallbackScript(steps=({"status": "failed", "error_code": "30007"},)))
    control = sandbox.twilio.control_url
    for bad in ({"order": "sideways"}, {"steps": "sent"}, {"steps": [{"event": "delivered"}]}, {"retry": 1}):
        assert requests.post(f"{control}/callbacks/script", json=bad, timeout=5).status_code == 400, bad
    assert requests.post(f"{control}/callbacks/replay", json={}, timeout=5).status_code == 400
    bad_batch = {"url": "http://127.0.0.1:9/", "events": ["delivered"]}
    post_batch = f"{sandbox.sendgrid.control_url}/event_webhook/post"
    assert requests.post(post_batch, json=bad_batch, timeout=5).status_code == 400
    assert requests.post(f"{control}/callbacks/delay", json={"seconds": -1}, timeout=5).status_code == 400
    assert sandbox.twilio.pending_callback_scripts == []


def test_reset_drops_scripts_held_callbacks_and_the_log(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    send_whatsapp(sandbox, receiver.url())
    sandbox.twilio.wait_for_callbacks()
    sandbox.twilio.script_callbacks(CallbackScript(hold=True))
    send_whatsapp(sandbox, receiver.url())
    sandbox.twilio.script_callbacks(CallbackScript(duplicate=True))

    assert requests.post(f"{sandbox.twilio.control_url}/reset", timeout=5).ok

    assert sandbox.twilio.callback_log() == []
    assert sandbox.twilio.held_callbacks == []
    assert sandbox.twilio.pending_callback_scripts == []
    assert sandbox.twilio.release_callbacks() == 0


# -- SendGrid Event Webhook -----------------------------------------------------------------------
def test_sendgrid_public_key_is_what_the_sdk_reads(sandbox: Sandboxes) -> None:
    shown = requests.get(f"{sandbox.sendgrid.control_url}/event_webhook", timeout=5).json()

    assert shown["public_key"] == sandbox.sendgrid.public_key
    assert EventWebhook().convert_public_key_to_ecdsa(shown["public_key"]).curve.name == "secp256r1"


def test_sendgrid_posts_processed_then_delivered_signed_with_custom_args(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    url = receiver.url("/webhooks/sendgrid/cucumber/recruitment/events")
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, url)

    response = sendgrid_client(sandbox).send(tracked_email())
    sandbox.sendgrid.wait_for_callbacks()

    message_id = response.headers["X-Message-Id"]
    received = receiver.received
    assert [e["event"] for e in events(received)] == ["processed", "delivered"]
    assert all(sendgrid_signature_valid(r, sandbox.sendgrid.public_key) for r in received)
    assert not any(sendgrid_signature_valid(r, FakeSendGrid().public_key) for r in received)
    assert all(r.headers["content-type"] == "application/json" for r in received)
    for event in events(received):
        assert event["sg_message_id"].split(".")[0] == message_id
        assert event["sg_message_id"].startswith(f"{message_id}.filter")
        assert (event["conversation_id"], event["channel"]) == (CONVERSATION, "email")
        assert event["email"] == "alex.morgan@example.com"
        assert event["smtp-id"] == f"<{message_id}@ismtpd-sandbox>"
        assert isinstance(event["timestamp"], int)
    assert len({e["sg_event_id"] for e in events(received)}) == 2
    assert [(e.message_id, e.label, e.http_status) for e in sandbox.sendgrid.callback_log()] == [
        (message_id, "processed", 200),
        (message_id, "delivered", 200),
    ]


def test_sendgrid_posts_only_for_a_key_with_a_webhook(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    sandbox.sendgrid.configure_event_webhook(OTHER_TENANT_KEY, receiver.url())

    sendgrid_client(sandbox).send(tracked_email())

    assert sandbox.sendgrid.wait_for_callbacks() == []
    assert receiver.received == []


def test_sendgrid_scripted_failures_and_engagement_carry_their_fields(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    steps = (
        {"event": "deferred"},
        {"event": "bounce", "reason": "550 mailbox unavailable", "status": "5.1.1", "type": "blocked"},
        {"event": "dropped", "reason": "Spam Reporting Address"},
        {"event": "open"},
        {"event": "click", "url": "https://cucumber.example/jobs/1"},
    )
    requests.post(f"{sandbox.sendgrid.control_url}/callbacks/script", json={"steps": list(steps)}, timeout=5)

    sendgrid_client(sandbox).send(tracked_email())
    sandbox.sendgrid.wait_for_callbacks()

    deferred, bounce, dropped, opened, clicked = events(receiver.received)
    assert deferred["event"] == "deferred" and deferred["attempt"] == "1"
    assert (bounce["reason"], bounce["status"], bounce["type"]) == ("550 mailbox unavailable", "5.1.1", "blocked")
    assert dropped["reason"] == "Spam Reporting Address"
    assert opened["event"] == "open" and "smtp-id" not in opened
    assert clicked["url"] == "https://cucumber.example/jobs/1"
    assert all(e["conversation_id"] == CONVERSATION for e in (deferred, bounce, dropped, opened, clicked))


def test_sendgrid_duplicates_repeat_the_same_events_and_reverse_reorders(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    sandbox.sendgrid.script_callbacks(CallbackScript(duplicate=True, order="reverse"))

    sendgrid_client(sandbox).send(tracked_email())
    sandbox.sendgrid.wait_for_callbacks()

    posted = events(receiver.received)
    assert [e["event"] for e in posted] == ["delivered", "delivered", "processed", "processed"]
    assert posted[0]["sg_event_id"] == posted[1]["sg_event_id"] != posted[2]["sg_event_id"]
    assert all(sendgrid_signature_valid(r, sandbox.sendgrid.public_key) for r in receiver.received)


def test_sendgrid_replay_reposts_batches_with_their_signature_and_timestamp(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    message_id = sendgrid_client(sandbox).send(tracked_email()).headers["X-Message-Id"]
    sandbox.sendgrid.wait_for_callbacks()

    assert sandbox.sendgrid.replay_callbacks(message_id) == 2
    sandbox.sendgrid.wait_for_callbacks()

    original, replayed = receiver.received[:2], receiver.received[2:]
    signed = [EventWebhookHeader.SIGNATURE.lower(), EventWebhookHeader.TIMESTAMP.lower()]
    assert [(r.body, [r.headers[h] for h in signed]) for r in replayed] == [
        (r.body, [r.headers[h] for h in signed]) for r in original
    ]


def test_sendgrid_hold_and_release_over_http(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    control = sandbox.sendgrid.control_url
    requests.post(f"{control}/event_webhook", json={"api_key": SENDGRID_KEY, "url": receiver.url()}, timeout=5)
    assert requests.get(f"{control}/event_webhook", timeout=5).json()["webhooks"] == [
        {"api_key": fingerprint(f"Bearer {SENDGRID_KEY}"), "url": receiver.url()}
    ]
    requests.post(f"{control}/callbacks/script", json=[{"hold": True}], timeout=5)
    message_id = sendgrid_client(sandbox).send(tracked_email()).headers["X-Message-Id"]

    assert requests.get(f"{control}/callbacks/held", timeout=5).json() == {"held": [message_id]}
    assert requests.post(f"{control}/callbacks/release", json={}, timeout=5).json() == {"released": 1}
    logged = requests.get(f"{control}/callbacks", params={"wait": 5, "message_id": message_id}, timeout=10).json()

    assert [e["label"] for e in logged] == ["processed", "delivered"]
    assert all(sendgrid_signature_valid(r, sandbox.sendgrid.public_key) for r in receiver.received)


def test_sendgrid_signs_any_batch_with_a_chosen_timestamp(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    six_minutes_ago = int(time.time()) - 360
    batch = [{"email": "alex.morgan@example.com", "event": "delivered", "sg_event_id": "e1", "sg_message_id": "m1.f"}]

    posted = requests.post(
        f"{sandbox.sendgrid.control_url}/event_webhook/post",
        json={"url": receiver.url(), "events": batch, "timestamp": six_minutes_ago},
        timeout=10,
    ).json()

    (received,) = receiver.received
    assert (posted["http_status"], posted["message_id"]) == (200, "m1")
    assert received.headers[EventWebhookHeader.TIMESTAMP.lower()] == str(six_minutes_ago)
    assert json.loads(received.body) == batch
    assert sendgrid_signature_valid(received, sandbox.sendgrid.public_key)


def test_sendgrid_retries_a_batch_answered_with_an_error(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    sandbox.sendgrid.script_callbacks(CallbackScript(steps=({"event": "delivered"},)))
    receiver.answer(503)

    sendgrid_client(sandbox).send(tracked_email())
    (logged,) = sandbox.sendgrid.wait_for_callbacks()

    assert (logged.http_status, logged.attempts) == (200, 2)
    first, retry = receiver.received
    assert first.body == retry.body


def test_sendgrid_restart_keeps_its_key_and_webhooks(sandbox: Sandboxes, receiver: CallbackReceiver) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    saved = json.loads(json.dumps(sandbox.sendgrid.saved_state()))  # as local.state writes it

    with FakeSendGrid(callback_delay=0) as restarted:
        restarted.restore_state(saved)
        SendGridAPIClient(api_key=SENDGRID_KEY, host=restarted.url).send(tracked_email())
        restarted.wait_for_callbacks()

    assert restarted.public_key == sandbox.sendgrid.public_key
    assert SENDGRID_KEY not in json.dumps(saved)
    assert [e["event"] for e in events(receiver.received)] == ["processed", "delivered"]
    assert all(sendgrid_signature_valid(r, sandbox.sendgrid.public_key) for r in receiver.received)


def test_twilio_saved_state_keeps_the_status_callbacks_moved_the_message_to(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    message = send_whatsapp(sandbox, receiver.url())
    sandbox.twilio.wait_for_callbacks()

    with FakeTwilio() as restarted:
        restarted.restore_state(json.loads(json.dumps(sandbox.twilio.saved_state())))
        client = twilio_client(sandbox)
        client.api.base_url = restarted.url
        assert client.messages(message.sid).fetch().status == "read"


def test_sendgrid_a_bouncing_address_gets_processed_then_a_hard_bounce_whatever_the_script(
    sandbox: Sandboxes, receiver: CallbackReceiver
) -> None:
    sandbox.sendgrid.configure_event_webhook(SENDGRID_KEY, receiver.url())
    answer = requests.post(
        f"{sandbox.sendgrid.control_url}/bounces", json={"email": "Nobody.Here@Example.com"}, timeout=5
    )
    assert answer.json() == {"bouncing": "nobody.here@example.com"}
    sandbox.sendgrid.script_callbacks(CallbackScript(steps=({"event": "delivered"},)))

    bounced = sendgrid_client(sandbox).send(email("nobody.here@example.com"))
    delivered = sendgrid_client(sandbox).send(tracked_email())
    sandbox.sendgrid.wait_for_callbacks()

    by_message: dict[str, list[dict[str, Any]]] = {}
    for event in events(receiver.received):
        by_message.setdefault(event["sg_message_id"].split(".")[0], []).append(event)
    processed, bounce = by_message[bounced.headers["X-Message-Id"]]
    assert (processed["event"], bounce["event"]) == ("processed", "bounce")
    assert (bounce["type"], bounce["status"], bounce["email"]) == ("bounce", "5.1.1", "nobody.here@example.com")
    assert [e["event"] for e in by_message[delivered.headers["X-Message-Id"]]] == ["processed", "delivered"]
    assert all(sendgrid_signature_valid(r, sandbox.sendgrid.public_key) for r in receiver.received)
    assert [m["to"] for m in sandbox.sendgrid.outbox] == [["nobody.here@example.com"], ["alex.morgan@example.com"]]


def test_sendgrid_bounce_fields_are_given_checked_and_forgotten_on_reset(sandbox: Sandboxes) -> None:
    control = sandbox.sendgrid.control_url
    sandbox.sendgrid.bounce("gone@example.com", type="blocked", reason="550 5.7.1 blocked")

    assert requests.get(f"{control}/bounces", timeout=5).json() == {
        "gone@example.com": {"type": "blocked", "reason": "550 5.7.1 blocked"}
    }
    for bad in ({"email": "not-an-address"}, {"email": "a@example.com", "colour": "red"}, {}):
        assert requests.post(f"{control}/bounces", json=bad, timeout=5).status_code == 400, bad
    sandbox.sendgrid.reset()
    assert sandbox.sendgrid.bouncing == {}
