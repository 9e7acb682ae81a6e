"""Issue 10 on the local stack: delivery status comes back from the sandboxes' signed webhooks
through the real gateway route, the webhook ingress (signature checked with the tenant's secret),
the events queue and the events processor, onto the conversation record; forged, foreign, stale
and unknown requests are refused and change nothing.

HTTP in (the API, the webhook URLs under ``$API_URL``), records, sandbox logs and the functions'
metrics out.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from typing import Any

import pytest
import requests
from boto3.dynamodb.conditions import Attr
from twilio.request_validator import RequestValidator

from shared.processing import metric_names
from shared.webhooks.routes import SENDGRID_EVENTS, TWILIO_STATUS
from tests.e2e.conftest import ROOT, start_local_stack, stop_local_stack
from tests.e2e.test_local_stack import ADDRESS_OF, _aws, conversation, example_request, wait_for
from tests.fixtures.emf import emitted_metrics

pytestmark = pytest.mark.e2e

PROVIDER_OF = {"whatsapp": "twilio", "sms": "twilio", "email": "sendgrid"}
DELIVERY_FIELDS = ("delivery_status", "delivery_rank", "delivery_updated_at", "delivery_error_code",
                   "delivery_error_reason")  # fmt: skip
OTHER_COMPANY, OTHER_PROJECT = "ci-other-002", "pi-other-002"
OTHER_TOKEN = "another-tenants-fake-token"  # a fake, as the sandbox's own
STALE_SECONDS = 6 * 60  # beyond the five minutes a SendGrid signature is good for


# -- helpers ---------------------------------------------------------------------------------------


def _sandbox(stack, provider: str, method: str, path: str, **kwargs) -> Any:
    url = f"{stack.env[f'{provider.upper()}_SANDBOX_URL']}/_sandbox/{path}"
    response = requests.request(method, url, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json()


def script_callbacks(stack, provider: str, **script: Any) -> None:
    """The next send's callbacks: other ``steps``, each posted twice (``duplicate``), reordered."""
    _sandbox(stack, provider, "POST", "callbacks/script", json=script)


def callback_log(stack, provider: str, message_id: str) -> list[dict[str, Any]]:
    """Every callback the sandbox posted for one message, once it has nothing left to post."""
    return _sandbox(stack, provider, "GET", "callbacks", params={"message_id": message_id, "wait": 20})


def start(stack, channel: str) -> str:
    response = stack.post(example_request(channel))
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


def record_when(stack, channel: str, conversation_id: str, **wanted: Any) -> dict[str, Any]:
    """The record once every field in ``wanted`` has that value."""
    return wait_for(
        lambda: (
            (r := conversation(stack, ADDRESS_OF[channel], conversation_id))
            and all(r.get(name) == value for name, value in wanted.items())
            and r
        )
    )


def delivery_of(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record.get(name) for name in DELIVERY_FIELDS}


def provider_messages(stack) -> Any:
    return _aws(stack, "dynamodb", resource=True).Table(f"ai-multi-comms-provider-messages-{stack.env['ENVIRONMENT']}")


def message_id_of(record: dict[str, Any]) -> str:
    """The provider's id of the conversation's message (SendGrid's ``X-Message-Id``, a Twilio sid)."""
    return record["provider_message_id"]


def unmatched(stack, provider: str, message_id: str, company_id: str) -> list[dict[str, Any]]:
    found = provider_messages(stack).scan(
        FilterExpression=Attr("provider_message_key").begins_with(f"unmatched#{provider}#{message_id}#")
        & Attr("company_id").eq(company_id),
        ConsistentRead=True,
    )
    return found["Items"]


def tenant_twilio_token(stack, company_id: str, project_id: str) -> str:
    """The auth token a project's Twilio secret holds (the sandbox's fake), as the ingress reads it."""
    name = f"ai-multi-comms/sms-credentials/{company_id}/{project_id}/twilio-{stack.env['ENVIRONMENT']}"
    secret = _aws(stack, "secretsmanager").get_secret_value(SecretId=name)
    return json.loads(secret["SecretString"])["twilio_auth_token"]


def post_twilio_status(stack, url: str, params: dict[str, str], token: str) -> requests.Response:
    """A status callback to ``url`` signed as Twilio signs it, with ``token``."""
    signature = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def events_queue_drained(stack) -> bool:
    """Nothing waiting on the events queue and nothing in flight: every queued event was applied."""
    sqs = _aws(stack, "sqs")
    url = sqs.get_queue_url(QueueName=f"ai-multi-comms-events-queue-{stack.env['ENVIRONMENT']}")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attributes[name] == "0" for name in names)


def ingress_metrics(stack) -> list[str]:
    return emitted_metrics((stack.state_dir / "logs" / "webhook-ingress.log").read_text())


def seed_other_tenant(stack) -> None:
    """What an operator does for a second tenant: its project record and its own provider secrets."""
    env = stack.env["ENVIRONMENT"]
    dynamodb = _aws(stack, "dynamodb", resource=True)
    table = dynamodb.Table(f"ai-multi-comms-company-data-{env}")
    record = copy.deepcopy(
        table.get_item(Key={"company_id": stack.env["COMPANY_ID"], "project_id": stack.env["PROJECT_ID"]})["Item"]
    )
    record |= {"company_id": OTHER_COMPANY, "project_id": OTHER_PROJECT, "api_key_ids": []}
    manager = _aws(stack, "secretsmanager")
    values = {
        "twilio": {"twilio_account_sid": "ACothertenant", "twilio_auth_token": OTHER_TOKEN},
        "sendgrid": {"sendgrid_api_key": "SG.other-tenant-fake"},
    }
    for channel, config in record["channel_config"].items():
        provider = PROVIDER_OF[channel]
        name = f"ai-multi-comms/{channel}-credentials/{OTHER_COMPANY}/{OTHER_PROJECT}/{provider}-{env}"
        config[f"{channel}_credentials_id"] = name
        manager.create_secret(Name=name, SecretString=json.dumps(values[provider]))
    table.put_item(Item=record)


# -- delivered, read, undelivered ------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "final"), [("whatsapp", "read"), ("sms", "delivered"), ("email", "delivered")])
def test_each_channel_ends_with_the_providers_last_status_through_the_signed_webhooks(local_stack, channel, final):
    conversation_id = start(local_stack, channel)

    record = record_when(local_stack, channel, conversation_id, delivery_status=final)

    assert record["conversation_status"] == "initial_message_sent"  # the processing status, apart
    provider = PROVIDER_OF[channel]
    message_id = message_id_of(record)
    posted = callback_log(local_stack, provider, message_id)
    # Every callback went to the tenant's URL under $API_URL and was accepted.
    assert posted and {entry["http_status"] for entry in posted} == {200}
    base = (SENDGRID_EVENTS if provider == "sendgrid" else TWILIO_STATUS).url(
        local_stack.api_url, local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"]
    )
    assert {entry["url"] for entry in posted} == {base}
    item = provider_messages(local_stack).get_item(Key={"provider_message_key": f"{provider}#{message_id}"})["Item"]
    assert (item["delivery_status"], item["conversation_id"]) == (final, conversation_id)


def test_a_scripted_undelivered_with_error_30003_shows_its_code_and_reason(local_stack):
    script_callbacks(local_stack, "twilio", steps=[{"status": "sent"}, {"status": "undelivered", "error_code": 30003}])
    conversation_id = start(local_stack, "sms")

    record = record_when(local_stack, "sms", conversation_id, delivery_status="undelivered")

    # Twilio's callback carries only the code; the reason is Twilio's own words for it.
    assert str(record["delivery_error_code"]) == "30003"
    assert "unreachable" in record["delivery_error_reason"].lower()
    assert record["conversation_status"] == "initial_message_sent"


# -- duplicates, reordering, replays ---------------------------------------------------------------


@pytest.mark.parametrize(("channel", "final"), [("whatsapp", "read"), ("email", "delivered")])
def test_duplicated_reordered_and_replayed_callbacks_leave_the_final_status(local_stack, channel, final):
    provider = PROVIDER_OF[channel]
    # The last status is posted first, then every earlier one, each twice.
    script_callbacks(local_stack, provider, duplicate=True, order="reverse")
    conversation_id = start(local_stack, channel)
    record = record_when(local_stack, channel, conversation_id, delivery_status=final)
    message_id = message_id_of(record)
    posted = callback_log(local_stack, provider, message_id)
    assert len(posted) >= 4 and {entry["http_status"] for entry in posted} == {200}
    wait_for(lambda: events_queue_drained(local_stack))
    settled = delivery_of(conversation(local_stack, ADDRESS_OF[channel], conversation_id))
    assert settled["delivery_status"] == final

    replayed = _sandbox(local_stack, provider, "POST", "callbacks/replay", json={"message_id": message_id})["replayed"]
    replays = [entry for entry in callback_log(local_stack, provider, message_id) if entry["replay"]]

    assert replayed == len(posted) and len(replays) == replayed
    assert {entry["http_status"] for entry in replays} == {200}  # accepted: valid, just old news
    wait_for(lambda: events_queue_drained(local_stack))
    record = conversation(local_stack, ADDRESS_OF[channel], conversation_id)
    assert delivery_of(record) == settled and record["delivery_status"] == final


def test_a_late_sent_signed_by_hand_from_the_env_file_does_not_move_the_status_back(local_stack):
    conversation_id = start(local_stack, "sms")
    record = record_when(local_stack, "sms", conversation_id, delivery_status="delivered")
    # What .local/env gives a person to sign a status callback by hand: the tenant's URL and token.
    url, token = local_stack.env["TWILIO_STATUS_URL"], local_stack.env["TWILIO_SANDBOX_AUTH_TOKEN"]
    assert url == TWILIO_STATUS.url(local_stack.api_url, local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"])
    assert token == tenant_twilio_token(local_stack, local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"])
    late = {"MessageSid": message_id_of(record), "MessageStatus": "sent", "ErrorCode": "",
            "AccountSid": "AClocalsandbox"}  # fmt: skip

    answers = [post_twilio_status(local_stack, url, late, token) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["Content-Type"].startswith("text/xml")
    wait_for(lambda: events_queue_drained(local_stack))
    after = conversation(local_stack, ADDRESS_OF["sms"], conversation_id)
    assert delivery_of(after) == delivery_of(record)


# -- refusals --------------------------------------------------------------------------------------


def test_forged_foreign_stale_and_unknown_webhooks_are_refused_and_change_nothing(local_stack):
    company, project = local_stack.env["COMPANY_ID"], local_stack.env["PROJECT_ID"]
    seed_other_tenant(local_stack)
    sms_id, email_id = start(local_stack, "sms"), start(local_stack, "email")
    sms = record_when(local_stack, "sms", sms_id, delivery_status="delivered")
    email = record_when(local_stack, "email", email_id, delivery_status="delivered")
    sid = message_id_of(sms)
    token = tenant_twilio_token(local_stack, company, project)
    assert token != OTHER_TOKEN
    status_url = TWILIO_STATUS.url(local_stack.api_url, company, project)
    # "read" would move the delivered SMS forward, were any of these applied.
    forged = {"MessageSid": sid, "MessageStatus": "read", "ErrorCode": "", "AccountSid": "AClocalsandbox"}
    rejected_before = ingress_metrics(local_stack)

    answers = {
        "forged signature": post_twilio_status(local_stack, status_url, forged, "not-the-tenants-token"),
        "another tenant's token": post_twilio_status(local_stack, status_url, forged, OTHER_TOKEN),
        "unknown project": post_twilio_status(
            local_stack, TWILIO_STATUS.url(local_stack.api_url, company, "pi-nobody-999"), forged, token
        ),
        "no signature": requests.post(status_url, data=forged, timeout=30),
    }
    stale_batch = [{
        "email": ADDRESS_OF["email"], "event": "open", "timestamp": int(time.time()) - STALE_SECONDS,
        "sg_event_id": "c3RhbGUtYmF0Y2gtb2YtaXNzdWUtMTA", "sg_message_id": f"{message_id_of(email)}.filter0001",
    }]  # fmt: skip
    stale = _sandbox(
        local_stack, "sendgrid", "POST", "event_webhook/post",
        json={"url": SENDGRID_EVENTS.url(local_stack.api_url, company, project), "events": stale_batch,
              "timestamp": int(time.time()) - STALE_SECONDS},
    )  # fmt: skip

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 403)
    assert [a.content for a in answers.values()] == [b""] * len(answers)  # no detail
    assert stale["http_status"] == 403
    # Counted: five refusals, four of them signatures (the unknown project is not a signature).
    counts = _delta(rejected_before, ingress_metrics(local_stack))
    assert counts[metric_names.WEBHOOK_REJECTED] == 5
    assert counts[metric_names.WEBHOOK_SIGNATURE_REJECTED] == 4

    # The other tenant's own, valid callback naming this tenant's message is accepted, and is
    # its own unmatched event: it never reaches this tenant's record. Once it is recorded the
    # events processor has run past anything the refused requests could have queued.
    other_url = TWILIO_STATUS.url(local_stack.api_url, OTHER_COMPANY, OTHER_PROJECT)
    assert post_twilio_status(local_stack, other_url, forged, OTHER_TOKEN).status_code == 200
    wait_for(lambda: unmatched(local_stack, "twilio", sid, OTHER_COMPANY))

    assert delivery_of(conversation(local_stack, ADDRESS_OF["sms"], sms_id)) == delivery_of(sms)
    email_now = conversation(local_stack, ADDRESS_OF["email"], email_id)
    assert delivery_of(email_now) == delivery_of(email) and not email_now.get("first_opened_at")
    assert unmatched(local_stack, "twilio", sid, company) == []


def _delta(before: list[str], after: list[str]) -> dict[str, int]:
    names = set(after)
    return {name: after.count(name) - before.count(name) for name in names}


# -- what an operator sees -------------------------------------------------------------------------


def test_make_show_names_the_delivery_status_beside_the_processing_status(local_stack):
    conversation_id = start(local_stack, "sms")
    record_when(local_stack, "sms", conversation_id, delivery_status="delivered")

    shown = subprocess.run(
        [sys.executable, "-m", "local.show", "conversations", "--env-file", str(local_stack.state_dir / "env")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip

    [line] = [line for line in shown.stdout.splitlines() if conversation_id in line]
    assert "initial_message_sent" in line and " delivered " in line
    assert "processing status" in shown.stdout and "Unmatched provider events:" in shown.stdout


def test_after_a_restart_the_webhooks_verify_and_reach_the_new_api_url(tmp_path):
    stack = start_local_stack(tmp_path)
    try:
        record_when(stack, "email", start(stack, "email"), delivery_status="delivered")
    finally:
        assert stop_local_stack(stack) == 0

    stack = start_local_stack(tmp_path)  # restored, on new ports
    try:
        for channel in ("email", "sms"):
            record = record_when(stack, channel, start(stack, channel), delivery_status="delivered")
            posted = callback_log(stack, PROVIDER_OF[channel], message_id_of(record))
            assert {entry["http_status"] for entry in posted} == {200}
            assert all(entry["url"].startswith(f"{stack.api_url}/webhooks/") for entry in posted)
    finally:
        stop_local_stack(stack)
