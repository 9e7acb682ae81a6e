"""One request id, one queued request (issue 9, defect 4): replays are answered, not queued again.

The reservation of ``company#project#request_id`` lives in the rate-limits table; these tests run
the real router handler against moto.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.channels import ALL_CHANNELS, Channel
from shared.request_errors import parse_initiate_request
from shared.routing.request_ledger import KEEP_SECONDS, TAKEOVER_AFTER_SECONDS, request_fingerprint
from shared.tables import RATE_LIMITS
from tests.fixtures.tenants import record_for_tenant

REQUEST_ID = "3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
RESERVATION_KEY = f"request#ci-demo-001#pi-demo-001#{REQUEST_ID}"


def _queued(router) -> list[dict]:
    """Messages queued since the last call (each is received once and left in flight)."""
    return [message for channel in ALL_CHANNELS for message in router.messages(channel)]


def _counted(router) -> list[int]:
    return sorted(router.counters().values())


def test_an_identical_replay_gets_the_first_answer_and_nothing_is_queued_or_counted_again(
    router, initiate_request_example
):
    first = router.post(initiate_request_example)
    assert first.status == 200, first.body

    again = router.post(initiate_request_example)

    assert again.status == 200, again.body
    assert again.body == first.body  # same conversation_id, same queue_timestamp
    assert len(_queued(router)) == 1
    assert _counted(router) == [1, 1]  # the minute and the day counter moved once
    (reservation,) = router.reservations().values()
    assert reservation["request_state"] == "queued"
    assert int(reservation["expires_at"]) - int(reservation["reserved_at"]) == KEEP_SECONDS


def test_a_replay_with_keys_in_another_order_and_a_legacy_api_key_is_still_identical(router, initiate_request_example):
    first = router.post(initiate_request_example)
    reordered = json.loads(json.dumps(initiate_request_example, sort_keys=True))
    reordered["project_data"] = dict(reversed(list(reordered["project_data"].items())))
    reordered["company_data"]["api_key"] = "an-old-client-sends-its-key-here"

    again = router.post(reordered)

    assert (again.status, again.body) == (200, first.body)
    assert len(_queued(router)) == 1


def test_the_same_id_with_a_different_body_is_409_request_id_reused(router, initiate_request_example):
    assert router.post(initiate_request_example).status == 200
    changed = copy.deepcopy(initiate_request_example)
    changed["project_data"]["jobRole"] = "Night Nurse"

    reply = router.post(changed)

    assert (reply.status, reply.body["error_code"]) == (409, "REQUEST_ID_REUSED"), reply.body
    assert reply.body["request_id"] == REQUEST_ID
    assert len(_queued(router)) == 1
    assert _counted(router) == [1, 1]


def test_the_same_id_in_another_project_is_another_request(router, initiate_request_example, company_record_example):
    other_project = record_for_tenant(company_record_example, company_record_example["company_id"], "pi-demo-002")
    router.put_company({**other_project, "api_key_ids": ["q7zkx0mwv3"]})
    other = copy.deepcopy(initiate_request_example)
    other["company_data"]["project_id"] = "pi-demo-002"

    replies = [router.post(initiate_request_example), router.post(other)]

    assert [reply.status for reply in replies] == [200, 200]
    assert replies[0].body["conversation_id"] != replies[1].body["conversation_id"]
    assert len(_queued(router)) == 2


def test_an_email_address_in_another_case_is_the_same_person_and_the_same_request(router, initiate_request_example):
    # The case: Victim.Person@… and victim.person@… under one request_id gave two records
    # and two emails with one conversation_id.
    initiate_request_example["request_data"]["channel_method"] = "email"
    initiate_request_example["recipient_data"]["recipient_email"] = "Victim.Person@Example.COM"
    first = router.post(initiate_request_example)
    initiate_request_example["recipient_data"]["recipient_email"] = "victim.person@example.com"

    again = router.post(initiate_request_example)

    assert (first.status, again.status) == (200, 200)
    assert again.body == first.body
    (message,) = router.messages(Channel.EMAIL)
    assert json.loads(message["Body"])["recipient_data"]["recipient_email"] == "victim.person@example.com"


def test_a_request_refused_by_a_limit_releases_its_id_for_a_later_retry(
    router, initiate_request_example, company_record_example
):
    limits = {**company_record_example["rate_limits"], "requests_per_minute": 1}
    router.put_company({**company_record_example, "rate_limits": limits, "api_key_ids": ["q7zkx0mwv3"]})
    first = copy.deepcopy(initiate_request_example)
    first["request_data"]["request_id"] = "0b5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    assert router.post(first).status == 200

    refused = router.post(initiate_request_example)

    assert (refused.status, refused.body["error_code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert router.reservations()[RESERVATION_KEY]["request_state"] == "released"
    # A later retry of the refused request (here: with room in the limit again) is queued.
    router.put_company({**company_record_example, "api_key_ids": ["q7zkx0mwv3"]})
    assert router.post(initiate_request_example).status == 200
    assert len(_queued(router)) == 2


def test_a_queue_failure_releases_the_id_and_the_retry_is_queued(router, initiate_request_example):
    sqs = router.aws.client("sqs")
    queue = router.aws.queues[Channel.WHATSAPP]
    attributes = sqs.get_queue_attributes(QueueUrl=queue.queue_url, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=queue.queue_url)

    failed = router.post(initiate_request_example)

    assert (failed.status, failed.body["error_code"]) == (500, "QUEUE_ERROR")
    assert router.reservations()[RESERVATION_KEY]["request_state"] == "released"
    name = queue.queue_url.rsplit("/", 1)[1]
    keep = {k: v for k, v in attributes.items() if k in ("VisibilityTimeout", "RedrivePolicy")}
    assert sqs.create_queue(QueueName=name, Attributes=keep)["QueueUrl"] == queue.queue_url
    retried = router.post(initiate_request_example)
    assert retried.status == 200, retried.body
    assert len(router.messages(Channel.WHATSAPP)) == 1


def _reservation_left_by_a_dead_router(router, body: dict, *, age_seconds: int) -> None:
    """What a router that died between reserving and queueing leaves behind."""
    now = int(time.time())
    request = parse_initiate_request(copy.deepcopy(body))
    router.aws.client("dynamodb").put_item(
        TableName=router.aws.table_name(RATE_LIMITS.logical_name),
        Item={
            "limit_key": {"S": RESERVATION_KEY},
            "request_state": {"S": "reserved"},
            "fingerprint": {"S": request_fingerprint(request)},
            "conversation_id": {"S": "from-the-dead-router"},
            "queue_timestamp": {"S": "2026-11-24T09:30:00.000Z"},
            "owner": {"S": "dead-router"},
            "reserved_at": {"N": str(now - age_seconds)},
            "expires_at": {"N": str(now + KEEP_SECONDS)},
        },
    )


def test_a_fresh_reservation_of_an_identical_request_answers_409_in_progress_with_retry_after(
    router, initiate_request_example
):
    _reservation_left_by_a_dead_router(router, initiate_request_example, age_seconds=2)

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (409, "REQUEST_IN_PROGRESS"), reply.body
    assert reply.headers["Retry-After"] == "1"
    assert _queued(router) == [] and router.counters() == {}


def test_a_reservation_older_than_the_router_timeout_is_taken_over_and_the_request_queued(
    router, initiate_request_example
):
    # The router that reserved it died before queueing: a replay must not answer 200 for a request
    # that was never queued, nor stay refused for ever.
    _reservation_left_by_a_dead_router(router, initiate_request_example, age_seconds=TAKEOVER_AFTER_SECONDS + 1)

    reply = router.post(initiate_request_example)

    assert reply.status == 200, reply.body
    assert reply.body["conversation_id"] == f"ci-demo-001#pi-demo-001#{REQUEST_ID}#447700900001"
    assert len(_queued(router)) == 1
    reservation = router.reservations()[RESERVATION_KEY]
    assert (reservation["request_state"], reservation["conversation_id"]) == ("queued", reply.body["conversation_id"])


def test_a_stale_reservation_of_a_different_request_is_not_taken_over(router, initiate_request_example):
    _reservation_left_by_a_dead_router(router, initiate_request_example, age_seconds=TAKEOVER_AFTER_SECONDS + 1)
    initiate_request_example["project_data"]["jobRole"] = "Night Nurse"

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (409, "REQUEST_ID_REUSED")
    assert _queued(router) == []


@pytest.mark.parametrize("copies", [12])
def test_identical_requests_in_parallel_queue_exactly_one(router, initiate_request_example, copies):
    router.module.router_for(router.module.RouterSettings.from_environment())  # built before the race
    start = threading.Barrier(copies)

    def post(_: int):
        start.wait()
        return router.post(initiate_request_example)

    with ThreadPoolExecutor(max_workers=copies) as pool:
        replies = list(pool.map(post, range(copies)))

    assert len(_queued(router)) == 1
    assert _counted(router) == [1, 1]
    accepted = [reply for reply in replies if reply.status == 200]
    in_progress = [reply for reply in replies if reply.status != 200]
    assert accepted, [reply.body for reply in replies]
    assert {json.dumps(reply.body, sort_keys=True) for reply in accepted} == {
        json.dumps(accepted[0].body, sort_keys=True)
    }
    for reply in in_progress:
        assert (reply.status, reply.body["error_code"], reply.headers["Retry-After"]) == (
            409,
            "REQUEST_IN_PROGRESS",
            "1",
        )
    # Once the first is queued, every replay is answered like it.
    assert router.post(initiate_request_example).body == accepted[0].body
    assert _queued(router) == []  # nothing new (the one queued message was received above)
