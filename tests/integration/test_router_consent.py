"""The router and the suppression list (issue 12): a recipient who opted out of a channel gets
409 RECIPIENT_OPTED_OUT before anything is reserved, counted or queued; a list the router cannot
read is a 503 and nothing is queued either."""

from __future__ import annotations

import json

import pytest

from shared.channels import ALL_CHANNELS, Channel
from shared.consent.suppressions import KEYWORD_REASONS, SuppressionReason
from shared.tables import SUPPRESSIONS
from tests.integration.suppression_setup import suppression_list

COMPANY = "ci-demo-001"
TEL = "+447700900123"
EMAIL = "alex.morgan@example.com"
ADDRESS = {Channel.WHATSAPP: TEL, Channel.SMS: TEL, Channel.EMAIL: EMAIL}


def _on(request: dict, channel: Channel) -> dict:
    request["request_data"]["channel_method"] = channel.value
    return request


def _assert_nothing_reserved_counted_or_queued(router) -> None:
    assert router.all_messages() == {channel: [] for channel in ALL_CHANNELS}
    assert router.counters() == {}
    assert router.reservations() == {}


@pytest.mark.parametrize("channel", ALL_CHANNELS)
def test_an_opted_out_recipient_gets_409_and_nothing_is_reserved_counted_or_queued(
    router, aws, initiate_request_example, channel
):
    suppression_list(aws).suppress(
        COMPANY, channel, ADDRESS[channel], reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1"
    )

    reply = router.post(_on(initiate_request_example, channel))

    assert (reply.status, reply.body["status"], reply.body["error_code"]) == (409, "error", "RECIPIENT_OPTED_OUT")
    assert reply.body["message"] == f"The recipient has opted out of {channel.value} messages from this company"
    assert reply.body["request_id"] == initiate_request_example["request_data"]["request_id"]
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert "alex" not in reply.raw["body"].lower() and "7700900123" not in reply.raw["body"]
    _assert_nothing_reserved_counted_or_queued(router)


def test_the_check_uses_the_normalised_address_an_email_in_another_case_is_the_same_person(
    router, aws, initiate_request_example
):
    suppression_list(aws).suppress(
        COMPANY,
        Channel.EMAIL,
        "Alex.Morgan@EXAMPLE.com",
        reason=SuppressionReason.HARD_BOUNCE,
        source="sendgrid_event:e",
    )
    reply = router.post(_on(initiate_request_example, Channel.EMAIL))
    assert (reply.status, reply.body["error_code"]) == (409, "RECIPIENT_OPTED_OUT")


def test_an_opt_out_of_one_channel_leaves_the_others_open(router, aws, initiate_request_example):
    suppression_list(aws).suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s")

    reply = router.post(_on(initiate_request_example, Channel.WHATSAPP))

    assert reply.status == 200, reply.body
    assert len(router.messages(Channel.WHATSAPP)) == 1


def test_a_lifted_entry_lets_the_request_through(router, aws, initiate_request_example):
    suppressions = suppression_list(aws)
    suppressions.suppress(COMPANY, Channel.SMS, TEL, reason=SuppressionReason.STOP_KEYWORD, source="twilio_inbound:SM1")
    assert router.post(_on(initiate_request_example, Channel.SMS)).status == 409
    suppressions.lift(
        COMPANY,
        Channel.SMS,
        TEL,
        reasons=KEYWORD_REASONS,
        lifted_reason="start_keyword",
        lifted_by="twilio_inbound:SM2",
    )

    reply = router.post(initiate_request_example)  # the same request_id: the 409 reserved nothing

    assert reply.status == 200, reply.body
    (queued,) = router.messages(Channel.SMS)
    assert json.loads(queued["Body"])["recipient_data"]["recipient_tel"] == TEL


def test_another_companys_entry_does_not_affect_this_company(router, aws, initiate_request_example):
    suppression_list(aws).suppress("ci-other-002", Channel.WHATSAPP, TEL, reason=SuppressionReason.OPERATOR, source="o")

    reply = router.post(initiate_request_example)

    assert reply.status == 200, reply.body
    assert len(router.messages(Channel.WHATSAPP)) == 1


def test_the_refusal_is_logged_with_its_code_and_the_address_masked(router, router_logs, aws, initiate_request_example):
    suppression_list(aws).suppress(COMPANY, Channel.WHATSAPP, TEL, reason=SuppressionReason.STOP_KEYWORD, source="s")

    router.post(initiate_request_example)

    refusals = [json.loads(line) for line in router_logs if "Request refused" in line]
    assert [(line["error_code"], line["status_code"], line["recipient"]) for line in refusals] == [
        ("RECIPIENT_OPTED_OUT", 409, "+44********23")
    ]
    everything = "\n".join(router_logs)
    assert TEL not in everything and "7700900123" not in everything


def test_an_unreadable_consent_key_is_a_503_and_nothing_is_queued(router, router_logs, aws, initiate_request_example):
    aws.client("secretsmanager").delete_secret(SecretId=aws.consent_key_secret_id, ForceDeleteWithoutRecovery=True)

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (503, "CONSENT_CHECK_UNAVAILABLE")
    assert "consent-key" not in reply.raw["body"]
    _assert_nothing_reserved_counted_or_queued(router)
    (failure,) = [json.loads(line) for line in router_logs if "Request failed" in line]
    assert failure["error_code"] == "CONSENT_CHECK_UNAVAILABLE"
    assert "ResourceNotFoundException" in failure["cause"]  # the operator sees which part failed


def test_an_unreadable_suppression_table_is_a_503_and_nothing_is_queued(router, aws, initiate_request_example):
    aws.client("dynamodb").delete_table(TableName=aws.table_name(SUPPRESSIONS.logical_name))

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (503, "CONSENT_CHECK_UNAVAILABLE")
    _assert_nothing_reserved_counted_or_queued(router)


def test_an_unknown_project_is_still_404_before_the_list_is_read(router, aws, initiate_request_example):
    aws.client("dynamodb").delete_table(TableName=aws.table_name(SUPPRESSIONS.logical_name))
    initiate_request_example["company_data"]["project_id"] = "pi-unknown"

    reply = router.post(initiate_request_example)

    assert (reply.status, reply.body["error_code"]) == (404, "COMPANY_NOT_FOUND")
