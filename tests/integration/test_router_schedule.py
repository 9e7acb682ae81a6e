"""The router decides when the first message goes (issue 12): the request's send_at, then the
project's send windows in the recipient's zone. It answers ``scheduled_for`` only when the message
waits, puts the schedule on the queued message, and a replay answers the same ``scheduled_for``.

The real router handler against moto, with its clock set by the test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.channels import Channel
from shared.routing.settings import RouterSettings

NINE_TO_EIGHT = {
    "default_time_zone": "Europe/Paris",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "09:00", "until": "20:00"}],
}


class SetClock:
    def __init__(self, router):
        self.now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
        router.module.router_for(RouterSettings.from_environment()).clock = lambda: self.now


@pytest.fixture
def clock(router) -> SetClock:
    return SetClock(router)


@pytest.fixture
def windowed(router, company_record_example) -> None:
    company_record_example["consent"] = {"send_windows": NINE_TO_EIGHT}
    router.put_company(company_record_example)


def _queued_message(router, channel: Channel = Channel.WHATSAPP) -> dict:
    (message,) = router.messages(channel)
    return json.loads(message["Body"])


def test_a_request_at_23_00_recipient_time_waits_for_09_00_and_says_when(
    router, windowed, clock, initiate_request_example
):
    clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 23:00 in London (+44 number)

    reply = router.post(initiate_request_example)

    assert reply.status == 200, reply.body
    assert reply.body["scheduled_for"] == "2026-11-25T09:00:00.000Z"
    assert reply.body["queue_timestamp"] == "2026-11-24T23:00:00.000Z"
    assert _queued_message(router)["schedule"] == {
        "scheduled_for": "2026-11-25T09:00:00+00:00",
        "reason": "quiet_hours",
        "recipient_timezone": "Europe/London",
    }


def test_the_requests_zone_decides_the_local_clock(router, windowed, clock, initiate_request_example):
    clock.now = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 23:00 in New York, 04:00 in London
    initiate_request_example["recipient_data"]["recipient_timezone"] = "America/New_York"

    reply = router.post(initiate_request_example)

    assert reply.body["scheduled_for"] == "2026-11-25T14:00:00.000Z"  # 09:00 EST
    assert _queued_message(router)["schedule"]["recipient_timezone"] == "America/New_York"


def test_an_email_recipient_is_read_in_the_projects_default_zone(router, windowed, clock, initiate_request_example):
    clock.now = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)  # 19:30 in London, 20:30 in Paris
    initiate_request_example["request_data"]["channel_method"] = "email"

    reply = router.post(initiate_request_example)

    assert reply.body["scheduled_for"] == "2026-11-25T08:00:00.000Z"  # 09:00 in Paris
    assert _queued_message(router, Channel.EMAIL)["schedule"]["recipient_timezone"] == "Europe/Paris"


def test_send_at_two_minutes_ahead_is_scheduled_then(router, clock, initiate_request_example):
    initiate_request_example["request_data"]["send_at"] = "2026-11-24T10:32:00+01:00"

    reply = router.post(initiate_request_example)

    assert reply.body["scheduled_for"] == "2026-11-24T09:32:00.000Z"
    assert _queued_message(router)["schedule"] == {
        "scheduled_for": "2026-11-24T09:32:00+00:00",
        "reason": "send_at",
        "recipient_timezone": "Europe/London",
    }


def test_send_at_outside_the_window_waits_for_both(router, windowed, clock, initiate_request_example):
    initiate_request_example["request_data"]["send_at"] = "2026-11-24T21:00:00Z"

    reply = router.post(initiate_request_example)

    assert reply.body["scheduled_for"] == "2026-11-25T09:00:00.000Z"
    assert _queued_message(router)["schedule"]["reason"] == "send_at+quiet_hours"


def test_inside_the_window_nothing_waits(router, windowed, clock, initiate_request_example):
    initiate_request_example["request_data"]["send_at"] = "2026-11-24T09:00:00Z"  # already past: now

    reply = router.post(initiate_request_example)

    assert reply.status == 200, reply.body
    assert "scheduled_for" not in reply.body
    assert _queued_message(router)["schedule"] is None


def test_a_replay_answers_the_first_scheduled_for_even_once_the_window_is_open(
    router, windowed, clock, initiate_request_example
):
    clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    first = router.post(initiate_request_example)
    clock.now += timedelta(hours=10, minutes=30)  # 09:30: inside the window now

    again = router.post(initiate_request_example)

    assert again.status == 200, again.body
    assert again.body == first.body
    assert again.body["scheduled_for"] == "2026-11-25T09:00:00.000Z"
    assert len(router.messages(Channel.WHATSAPP)) == 1
    (reservation,) = router.reservations().values()
    assert reservation["scheduled_for"] == "2026-11-25T09:00:00.000Z"


def test_send_at_is_judged_against_the_routers_clock(router, clock, initiate_request_example):
    initiate_request_example["request_data"]["send_at"] = "2026-12-24T09:30:01Z"  # 30 days and 1 s ahead

    reply = router.post(initiate_request_example)

    assert reply.status == 400
    assert reply.body["error_code"] == "INVALID_SEND_AT"
    assert router.messages(Channel.WHATSAPP) == []
    assert router.reservations() == {}


def test_a_bad_recipient_timezone_is_refused(router, clock, initiate_request_example):
    initiate_request_example["recipient_data"]["recipient_timezone"] = "Europe/Atlantis"

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (400, "INVALID_RECIPIENT_TIMEZONE_FORMAT")
    assert router.messages(Channel.WHATSAPP) == []
