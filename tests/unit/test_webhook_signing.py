"""Standard Webhooks signatures of tenant events, checked with the reference library's verifier."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.tenant_webhooks.outcome import Verdict, outcome_of_status, parse_retry_after, retry_delay
from shared.tenant_webhooks.signing import signed_headers

SECRET = "whsec_" + base64.b64encode(b"fake-test-signing-secret-32bytes").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-fake-secret-of-32-bytes!").decode()
BODY = '{"id":"evt_0123","type":"conversation.sent","timestamp":"2026-11-26T09:00:00+00:00","data":{}}'


def test_the_signature_verifies_with_the_standard_webhooks_library():
    now = datetime.now(UTC)
    headers = signed_headers(SECRET, "evt_0123", BODY, now)
    assert Webhook(SECRET).verify(BODY, headers)["id"] == "evt_0123"
    assert headers["webhook-id"] == "evt_0123"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["Content-Type"] == "application/json"
    assert "AiMultiComms" in headers["User-Agent"]


def test_an_altered_body_another_id_or_another_secret_does_not_verify():
    headers = signed_headers(SECRET, "evt_0123", BODY, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY.replace("sent", "read"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, {**headers, "webhook-id": "evt_9999"})
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(BODY, headers)


def test_the_timestamp_is_the_attempts_so_a_stale_replay_is_refused():
    headers = signed_headers(SECRET, "evt_0123", BODY, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(BODY, headers)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (301, Verdict.DEAD_LETTER),
        (400, Verdict.DEAD_LETTER),
        (401, Verdict.DEAD_LETTER),
        (404, Verdict.DEAD_LETTER),
        (410, Verdict.DEAD_LETTER),
    ],
)
def test_statuses_are_delivered_retried_or_dead_lettered(status, verdict):
    assert outcome_of_status(status, None, datetime.now(UTC)).verdict is verdict


def test_the_backoff_doubles_from_the_base_and_stops_at_an_hour():
    assert [retry_delay(n, base_seconds=30) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert retry_delay(500, base_seconds=30) == 3600


def test_retry_after_counts_when_longer_than_the_backoff_and_is_capped():
    assert retry_delay(1, base_seconds=30, retry_after_seconds=120) == 120
    assert retry_delay(3, base_seconds=30, retry_after_seconds=10) == 120
    assert retry_delay(1, base_seconds=30, retry_after_seconds=86_400) == 3600


def test_retry_after_is_read_as_seconds_or_an_http_date_on_429_and_503_only():
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert parse_retry_after("90", now) == 90
    assert parse_retry_after("Thu, 26 Nov 2026 09:05:00 GMT", now) == 300
    assert parse_retry_after("soon", now) is None
    assert outcome_of_status(429, "90", now).retry_after_seconds == 90
    assert outcome_of_status(503, "90", now).retry_after_seconds == 90
    assert outcome_of_status(500, "90", now).retry_after_seconds is None
