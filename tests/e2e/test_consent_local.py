"""Issue 12 on the local stack: opt-outs are honoured everywhere, quiet hours and ``send_at`` hold a
first message until its time.

HTTP in (the API, the sandboxes playing the person, the email's one-click unsubscribe URL); records,
the suppression list and the sandbox outbox out. Every test has people of its own (random numbers,
fresh addresses), so a suppression never reaches another test of the session, and the project
whose send windows it changes is its own.

The two waits (a window opening, a ``send_at``) are started first by the module's ``waiting``
fixture and checked by the last tests of the file, so the minutes they take overlap the others.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from local.consent import write_consent
from shared.channels import Channel
from shared.consent.address_hash import forget_cached_keys, load_hasher
from shared.consent.suppressions import SuppressionEntry, SuppressionList
from shared.secret_names import consent_key_secret_name
from tests.e2e.conftest import ROOT
from tests.e2e.test_delivery_status_local import provider_messages
from tests.e2e.test_local_stack import PROVIDER_OF, _aws, conversation, example_request, sandbox_outbox, wait_for
from tests.e2e.test_replies_local import CHANNELS, put_second_project
from tests.fixtures.comms import run_comms

pytestmark = pytest.mark.e2e

OPTED_OUT = "RECIPIENT_OPTED_OUT"
# Generous: two cores run the whole engine (and, on a busy machine, more besides).
WAIT = 60
# Generous: a wake-up is due within about three minutes of the fixture; the local scheduler fires it.
SCHEDULED_WAIT = 300
HOURS_PROJECT = "pi-hours-001"  # the project whose send windows the quiet-hours test sets
OTHER_PROJECT = "pi-consent-002"  # another project of the same company: a suppression covers it too
# One zone per whole-hour offset from UTC-12 to UTC+11, none with daylight saving: whatever the
# time, it is 23:xx in exactly one of them.
ZONES = (
    "Etc/GMT+12", "Pacific/Pago_Pago", "Pacific/Honolulu", "Pacific/Gambier", "Pacific/Pitcairn", "America/Phoenix",
    "America/Regina", "America/Panama", "America/Puerto_Rico", "America/Montevideo", "Atlantic/South_Georgia",
    "Atlantic/Cape_Verde", "Africa/Abidjan", "Africa/Lagos", "Africa/Johannesburg", "Europe/Istanbul", "Asia/Dubai",
    "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane",
    "Pacific/Noumea",
)  # fmt: skip


# -- people, requests, the outbox, the list --------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    tel: str
    email: str

    @classmethod
    def new(cls) -> Person:
        return cls(f"+4477009{random.randint(10000, 99999)}", f"consent-{uuid.uuid4().hex[:10]}@example.com")

    def address(self, channel: str) -> str:
        return self.email if channel == "email" else self.tel


def request_to(person: Person, channel: str, *, project_id: str | None = None, **request_data: Any) -> dict:
    body = example_request(channel, **request_data)
    body["recipient_data"].update(recipient_tel=person.tel, recipient_email=person.email)
    if project_id is not None:
        body["company_data"]["project_id"] = project_id
    return body


def accepted(stack, body: dict) -> dict[str, Any]:
    answer = stack.post(body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused_as_opted_out(stack, body: dict) -> dict[str, Any]:
    answer = stack.post(body)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error_code"] == OPTED_OUT
    return answer.json()


def record_of(stack, person: Person, channel: str, conversation_id: str) -> dict[str, Any] | None:
    return conversation(stack, person.address(channel), conversation_id)


def record_when(stack, person: Person, channel: str, conversation_id: str, *statuses: str, timeout: float = WAIT):
    return wait_for(
        lambda: (
            (r := record_of(stack, person, channel, conversation_id)) and r["conversation_status"] in statuses and r
        ),
        timeout=timeout,
    )


def received(stack, person: Person, channel: str) -> list[dict[str, Any]]:
    """Everything the engine sent this person on ``channel``, oldest first."""
    address = person.address(channel)
    if channel == "email":
        return [m for m in sandbox_outbox(stack, "sendgrid") if address in m["to"]]
    to = f"whatsapp:{address}" if channel == "whatsapp" else address
    return [m for m in sandbox_outbox(stack, "twilio") if m["to"] == to]


def suppression_list(stack) -> SuppressionList:
    env = stack.env["ENVIRONMENT"]
    # This stack's own key, read afresh: the test process keeps load_hasher's per-process cache, which
    # may hold the key of another emulator it ran tests against before (pytest-xdist runs many files
    # in one worker), and a hash under the wrong key finds no entry.
    forget_cached_keys()
    hasher = load_hasher(_aws(stack, "secretsmanager"), consent_key_secret_name(env))
    return SuppressionList(_aws(stack, "dynamodb"), f"ai-multi-comms-suppressions-{env}", hasher)


def entry(stack, person: Person, channel: str) -> SuppressionEntry | None:
    return suppression_list(stack).entry(stack.env["COMPANY_ID"], Channel(channel), person.address(channel))


def suppressed(stack, person: Person, channel: str) -> SuppressionEntry:
    return wait_for(lambda: (found := entry(stack, person, channel)) and found.is_active and found, timeout=WAIT)


def person_writes(stack, channel: str, conversation_id: str, text: str) -> dict[str, Any]:
    """The person answers the conversation through their provider's sandbox (a signed webhook)."""
    url = f"{stack.env[f'{PROVIDER_OF[channel].upper()}_SANDBOX_URL']}/_sandbox/person/reply"
    answer = requests.post(url, json={"conversation_id": conversation_id, "text": text}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert [post["http_status"] for post in answer.json()["posts"]] == [200], answer.json()
    return answer.json()


def sent_first_message(stack, person: Person, channel: str, **options: Any) -> str:
    conversation_id = accepted(stack, request_to(person, channel, **options))["conversation_id"]
    record_when(stack, person, channel, conversation_id, "initial_message_sent")
    return conversation_id


def idle(stack) -> bool:
    """Nothing waiting or in flight on the events queue and the channel queues. Unlike the replies
    tests' ``settled``, delayed messages do not count: this file's scheduled sends wait there."""
    sqs = _aws(stack, "sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    for queue in ("events", *CHANNELS):
        url = sqs.get_queue_url(QueueName=f"ai-multi-comms-{queue}-queue-{stack.env['ENVIRONMENT']}")["QueueUrl"]
        if any(
            value != "0"
            for value in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()
        ):
            return False
    return True


def wait_settled(stack) -> None:
    # Twice in a row: a job queued by the events processor between two looks is not missed.
    wait_for(lambda: idle(stack) and (time.sleep(0.5) or idle(stack)), timeout=WAIT)


def _sandbox(stack, provider: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(
        method, f"{stack.env[f'{provider.upper()}_SANDBOX_URL']}/_sandbox/{path}", timeout=30, **kwargs
    )
    answer.raise_for_status()
    return answer.json()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- the two waits, started first ----------------------------------------------------------------------


def zone_at_eleven_pm(now: datetime) -> str:
    """A real time zone in which it is now 23:00-23:59."""
    return next(zone for zone in ZONES if now.astimezone(ZoneInfo(zone)).hour == 23)


@dataclass(frozen=True)
class Waiting:
    person: Person
    zone: str
    window_opens: datetime  # UTC
    quiet: dict[str, Any]  # the API's answer
    send_at: datetime
    later: dict[str, Any]


@pytest.fixture(scope="module")
def waiting(local_stack) -> Waiting:
    """A request at 23:xx in the recipient's zone to a project whose one window opens a minute or two
    from now there (set with the README's command), and a request whose ``send_at`` is two minutes
    ahead (the seeded project: any hour)."""
    person = Person.new()
    now = datetime.now(UTC)
    zone = zone_at_eleven_pm(now)
    put_second_project(local_stack, HOURS_PROJECT)
    changed = subprocess.run(
        [sys.executable, "-m", "local.consent", "--project", HOURS_PROJECT, "--window-in", "1", "--time-zone", zone,
         "--env-file", str(local_stack.state_dir / "env")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    table = _aws(local_stack, "dynamodb", resource=True).Table(
        f"ai-multi-comms-company-data-{local_stack.env['ENVIRONMENT']}"
    )
    record = table.get_item(Key={"company_id": local_stack.env["COMPANY_ID"], "project_id": HOURS_PROJECT})["Item"]
    [window] = record["consent"]["send_windows"]["windows"]
    opens_local = datetime.combine(
        now.astimezone(ZoneInfo(zone)).date(), datetime.strptime(window["from"], "%H:%M").time(), ZoneInfo(zone)
    )
    if opens_local < now:  # it opens after midnight there
        opens_local += timedelta(days=1)
    at_night = request_to(person, "sms", project_id=HOURS_PROJECT)
    at_night["recipient_data"]["recipient_timezone"] = zone  # not the number's (+44: Europe/London)
    quiet = accepted(local_stack, at_night)
    send_at = (now + timedelta(minutes=2)).replace(microsecond=0)
    later = accepted(local_stack, request_to(person, "email", send_at=send_at.isoformat().replace("+00:00", "Z")))
    return Waiting(person, zone, opens_local.astimezone(UTC), quiet, send_at, later)


def test_a_request_at_eleven_pm_there_and_one_for_later_are_accepted_and_wait_scheduled(local_stack, waiting):
    quiet, later = waiting.quiet, waiting.later

    assert _utc(quiet["scheduled_for"]) == waiting.window_opens
    assert _utc(later["scheduled_for"]) == waiting.send_at
    held = record_when(local_stack, waiting.person, "sms", quiet["conversation_id"], "scheduled")
    assert (held["schedule_reason"], held["recipient_timezone"]) == ("quiet_hours", waiting.zone)
    assert _utc(held["scheduled_for"]) == waiting.window_opens
    assert held.get("messages", []) == []
    held_later = record_when(local_stack, waiting.person, "email", later["conversation_id"], "scheduled")
    assert held_later["schedule_reason"] == "send_at"
    assert received(local_stack, waiting.person, "sms") == received(local_stack, waiting.person, "email") == []


# -- STOP and START -------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_stop_stops_every_project_of_the_company_on_that_channel_and_start_restores_it(local_stack, channel):
    person = Person.new()
    put_second_project(local_stack, OTHER_PROJECT)
    conversation_id = sent_first_message(local_stack, person, channel)

    posted = person_writes(local_stack, channel, conversation_id, "Stop")

    stopped = suppressed(local_stack, person, channel)
    assert (stopped.reason, stopped.source) == ("stop_keyword", f"twilio_inbound:{posted['message_id']}")
    wait_settled(local_stack)
    closed = record_of(local_stack, person, channel, conversation_id)
    assert [m["role"] for m in closed["messages"]] == ["assistant", "user"]  # never answered by the AI
    assert closed["messages"][1]["consent_keyword"] == "opt_out"
    before = received(local_stack, person, channel)
    assert len(before) == 1
    refused_as_opted_out(local_stack, request_to(person, channel))
    refused_as_opted_out(local_stack, request_to(person, channel, project_id=OTHER_PROJECT))
    wait_settled(local_stack)
    assert received(local_stack, person, channel) == before
    # Another channel of the same number is another consent.
    other = "whatsapp" if channel == "sms" else "sms"
    sent_first_message(local_stack, person, other)

    person_writes(local_stack, channel, conversation_id, "START")

    wait_for(lambda: (found := entry(local_stack, person, channel)) and not found.is_active, timeout=WAIT)
    again = sent_first_message(local_stack, person, channel)
    assert len(received(local_stack, person, channel)) == 2
    assert (
        record_of(local_stack, person, channel, again)["provider_message_id"]
        == received(local_stack, person, channel)[-1]["sid"]
    )


def test_help_is_answered_with_the_projects_help_text_not_by_the_ai(local_stack):
    person = Person.new()
    put_second_project(local_stack, OTHER_PROJECT)
    help_text = f"Cucumber Recruitment: jobs by text. Reply STOP to opt out. ({uuid.uuid4().hex[:6]})"
    write_consent(local_stack.env, OTHER_PROJECT, help_text=help_text)
    conversation_id = sent_first_message(local_stack, person, "sms", project_id=OTHER_PROJECT)

    person_writes(local_stack, "sms", conversation_id, "help")

    record = record_when(local_stack, person, "sms", conversation_id, "reply_sent")
    assert record["messages"][1]["consent_keyword"] == "help"
    assert record.get("ai_turns", 0) == 0
    _first, answer = received(local_stack, person, "sms")
    assert answer["body"] == help_text and answer["sid"] == record["provider_message_id"]
    assert entry(local_stack, person, "sms") is None  # HELP changes no consent


# -- erasure keeps the opt-out --------------------------------------------------------------------------


def tables_mentioning(stack, *needles: str) -> dict[str, int]:
    """How many items of each table hold any of ``needles`` anywhere in them (a full scan)."""
    dynamodb = _aws(stack, "dynamodb")
    found: dict[str, int] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            hits = sum(1 for item in page["Items"] if any(needle in json.dumps(item) for needle in needles))
            if hits:
                found[name] = found.get(name, 0) + hits
    return found


def test_erasing_a_person_who_opted_out_leaves_nothing_readable_and_the_opt_out_holds(local_stack):
    person = Person.new()
    texted = sent_first_message(local_stack, person, "sms")
    sent_first_message(local_stack, person, "email")
    person_writes(local_stack, "sms", texted, "STOP")
    suppressed(local_stack, person, "sms")
    wait_settled(local_stack)
    national = person.tel.removeprefix("+44")  # the number written any other way
    assert tables_mentioning(local_stack, person.tel, national, person.email)  # there is something to erase

    for address in (person.tel, person.email):
        erased = run_comms(
            local_stack.state_dir / "env", "people", "erase", "--address", address, "--yes", subprocess_run=True
        )
        assert erased.code == 0, erased.stderr
        assert address not in erased.stdout  # masked

    assert tables_mentioning(local_stack, person.tel, national, person.email) == {}
    assert entry(local_stack, person, "sms").is_active  # a keyed hash: still the proof, still honoured
    refused_as_opted_out(local_stack, request_to(person, "sms"))


# -- email: the one-click unsubscribe, a bounce -----------------------------------------------------------


def unsubscribe_urls(mail: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The List-Unsubscribe HTTP(S) URL of a sent mail, and its headers by lower-case name."""
    headers = {name.lower(): value for name, value in mail["headers"].items()}
    targets = [part.strip().strip("<>") for part in headers["list-unsubscribe"].split(",")]
    [url] = [target for target in targets if target.startswith(("https://", "http://"))]
    return url, headers


def test_the_one_click_unsubscribe_of_an_email_suppresses_the_address(local_stack):
    person = Person.new()
    sent_first_message(local_stack, person, "email")
    [mail] = received(local_stack, person, "email")
    url, headers = unsubscribe_urls(mail)
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert url.startswith(local_stack.api_url)
    assert person.email not in url  # an opaque token, not the address

    shown = requests.get(url, timeout=30)  # a mail scanner following the link changes nothing
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    assert entry(local_stack, person, "email") is None
    clicked = requests.post(url, data="List-Unsubscribe=One-Click", timeout=30,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip

    assert clicked.status_code == 200, clicked.text
    unsubscribed = suppressed(local_stack, person, "email")
    assert (unsubscribed.reason, unsubscribed.source) == ("unsubscribe_link", "unsubscribe_link")
    refused_as_opted_out(local_stack, request_to(person, "email"))
    assert requests.post(url, data="List-Unsubscribe=One-Click", timeout=30).status_code == 200  # again: no change
    assert entry(local_stack, person, "email").suppressed_at == unsubscribed.suppressed_at
    assert len(received(local_stack, person, "email")) == 1


def test_a_sendgrid_hard_bounce_suppresses_the_address(local_stack):
    person = Person.new()
    _sandbox(local_stack, "sendgrid", "POST", "bounces", json={"email": person.email})

    conversation_id = sent_first_message(local_stack, person, "email")

    bounced = suppressed(local_stack, person, "email")
    assert bounced.reason == "hard_bounce" and bounced.source.startswith("sendgrid_event:")
    record = record_when(local_stack, person, "email", conversation_id, "initial_message_sent")
    refused_as_opted_out(local_stack, request_to(person, "email"))
    assert len(received(local_stack, person, "email")) == 1
    # The bounced message's own delivery status says so too.
    key = {"provider_message_key": f"sendgrid#{record['provider_message_id']}"}
    wait_for(
        lambda: provider_messages(local_stack).get_item(Key=key)["Item"].get("delivery_status") == "bounce",
        timeout=WAIT,
    )


# -- an opt-out between queueing and sending ----------------------------------------------------------


@contextmanager
def held(stack, provider: str) -> Iterator[None]:
    """Every call to the provider waits at its sandbox until the block ends."""
    _sandbox(stack, provider, "POST", "hold")
    try:
        yield
    finally:
        _sandbox(stack, provider, "POST", "release")


def test_an_opt_out_arriving_while_the_message_is_written_ends_it_suppressed_with_nothing_sent(local_stack):
    person = Person.new()
    earlier = sent_first_message(local_stack, person, "sms")
    marker = f"Night Porter {uuid.uuid4().hex[:8]}"  # the AI sandbox sees it in the request
    body = request_to(person, "sms")
    body["project_data"]["jobRole"] = marker

    with held(local_stack, "openai"):
        queued = accepted(local_stack, body)["conversation_id"]
        # Past the router's check and the processor's first one: the AI is writing the message.
        wait_for(
            lambda: any(marker in str(r["body"]) for r in _sandbox(local_stack, "openai", "GET", "requests")),
            timeout=WAIT,
        )
        assert record_of(local_stack, person, "sms", queued)["conversation_status"] == "processing"
        person_writes(local_stack, "sms", earlier, "STOP")
        suppressed(local_stack, person, "sms")

    ended = record_when(local_stack, person, "sms", queued, "suppressed")
    assert ended["suppression_reason"] == "stop_keyword"
    assert not ended.get("provider_message_id")
    wait_settled(local_stack)
    [only] = received(local_stack, person, "sms")
    assert marker not in only["body"]


# -- the waits end ----------------------------------------------------------------------------------------


def test_the_request_at_eleven_pm_is_sent_when_the_window_opens_not_before(local_stack, waiting):
    conversation_id = waiting.quiet["conversation_id"]

    record = record_when(local_stack, waiting.person, "sms", conversation_id, "initial_message_sent",
                         timeout=SCHEDULED_WAIT)  # fmt: skip

    [sent] = received(local_stack, waiting.person, "sms")
    assert sent["sid"] == record["provider_message_id"]
    assert _utc(sent["created_at"]) >= waiting.window_opens


def test_a_send_at_two_minutes_ahead_is_sent_then_not_before(local_stack, waiting):
    conversation_id = waiting.later["conversation_id"]

    record = record_when(local_stack, waiting.person, "email", conversation_id, "initial_message_sent",
                         timeout=SCHEDULED_WAIT)  # fmt: skip

    [sent] = received(local_stack, waiting.person, "email")
    assert sent["message_id"] == record["provider_message_id"]
    assert _utc(sent["created_at"]) >= waiting.send_at
