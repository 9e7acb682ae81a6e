"""``/unsubscribe/{token}`` through the real webhook ingress handler against moto: GET shows a page
and changes nothing; POST suppresses the token's recipient for the token's company (email only),
once; a forged, altered or other key's token is 404 and writes nothing; no key, 503."""

from __future__ import annotations

import base64
import json

import pytest

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher
from shared.consent.suppressions import SuppressionReason
from shared.consent.unsubscribe_token import make_token
from shared.processing import metric_names
from shared.tables import SUPPRESSIONS
from tests.fixtures import webhook_ingress
from tests.fixtures.emf import emitted_metrics
from tests.fixtures.inbound_parse import CONTENT_TYPE as MULTIPART
from tests.fixtures.inbound_parse import multipart_body
from tests.fixtures.webhook_ingress import RECIPIENT_EMAIL

start_ingress = webhook_ingress.start_ingress
ingress = webhook_ingress.ingress


def _token(ingress, tenant, address: str = RECIPIENT_EMAIL) -> str:
    return make_token(ingress.hasher(), tenant.company_id, tenant.project_id, address)


def _scan(ingress) -> list[dict]:
    dynamodb = ingress.aws.client("dynamodb")
    return dynamodb.scan(TableName=ingress.aws.table_name(SUPPRESSIONS.logical_name))["Items"]


def _assert_nothing_reveals_the_address(text: str) -> None:
    for spelling in (RECIPIENT_EMAIL, RECIPIENT_EMAIL.split("@")[0], RECIPIENT_EMAIL.upper()):
        assert spelling.lower() not in text.lower()


def test_get_shows_a_page_with_the_company_and_a_post_button_and_unsubscribes_no_one(ingress, capsys):
    reply = ingress.unsubscribe(_token(ingress, ingress.a), "GET")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert "form-action 'self'" in reply.headers["Content-Security-Policy"]
    assert ingress.a.record["company_name"] in reply.body
    assert '<form method="post">' in reply.body and ">Unsubscribe</button>" in reply.body
    _assert_nothing_reveals_the_address(reply.body)
    assert _scan(ingress) == []
    assert ingress.queued() == []
    assert metric_names.UNSUBSCRIBE_REQUESTS not in emitted_metrics(capsys.readouterr().out)


def test_post_suppresses_the_recipient_for_the_company_on_email_only(ingress, capsys):
    reply = ingress.unsubscribe(_token(ingress, ingress.a))

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "You are unsubscribed" in reply.body and ingress.a.record["company_name"] in reply.body
    _assert_nothing_reveals_the_address(reply.body)
    suppressions = ingress.suppressions()
    entry = suppressions.entry(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL.upper())
    assert entry is not None and entry.is_active
    assert entry.reason is SuppressionReason.UNSUBSCRIBE_LINK
    assert (entry.source, entry.project_id) == ("unsubscribe_link", ingress.a.project_id)
    # The company's other channels and other people are untouched.
    assert not suppressions.is_suppressed(ingress.a.company_id, Channel.SMS, RECIPIENT_EMAIL)
    assert not suppressions.is_suppressed(ingress.a.company_id, Channel.EMAIL, "sam@example.com")
    assert len(_scan(ingress)) == 1
    _assert_nothing_reveals_the_address(json.dumps(_scan(ingress)))
    assert ingress.queued() == []
    captured = capsys.readouterr().out
    assert emitted_metrics(captured) == [metric_names.UNSUBSCRIBE_REQUESTS]
    _assert_nothing_reveals_the_address(captured + ingress.logs())
    assert "Unsubscribed by the email's link" in ingress.logs()


def test_the_pages_button_posts_the_same_and_a_multipart_post_too(ingress):
    token = _token(ingress, ingress.a)

    first = ingress.unsubscribe(token, body="List-Unsubscribe=One-Click")
    second = ingress.unsubscribe(
        token,
        body=multipart_body({"List-Unsubscribe": "One-Click"}),
        content_type=MULTIPART,
        base64_body=True,  # a binary media type, as API Gateway hands it over
    )
    empty = ingress.unsubscribe(token, body=None, content_type="text/plain")

    assert first.status == second.status == empty.status == 200
    assert ingress.suppressions().is_suppressed(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL)


def test_a_replayed_post_answers_the_same_and_changes_nothing(ingress, capsys):
    token = _token(ingress, ingress.a)
    first = ingress.unsubscribe(token)
    entry = ingress.suppressions().entry(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL)

    again = ingress.unsubscribe(token)

    assert (again.status, again.body) == (first.status, first.body)
    assert ingress.suppressions().entry(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL) == entry
    assert emitted_metrics(capsys.readouterr().out).count(metric_names.UNSUBSCRIBE_REQUESTS) == 2
    assert '"already_suppressed":true' in ingress.logs().replace(" ", "")


def test_an_earlier_reason_stays_and_a_lifted_entry_is_suppressed_again(ingress):
    suppressions = ingress.suppressions()
    company = ingress.a.company_id
    suppressions.suppress(company, Channel.EMAIL, RECIPIENT_EMAIL, reason=SuppressionReason.HARD_BOUNCE, source="x")

    assert ingress.unsubscribe(_token(ingress, ingress.a)).status == 200
    assert suppressions.entry(company, Channel.EMAIL, RECIPIENT_EMAIL).reason is SuppressionReason.HARD_BOUNCE

    suppressions.lift(company, Channel.EMAIL, RECIPIENT_EMAIL, reasons=None, lifted_reason="asked", lifted_by="ops")
    assert ingress.unsubscribe(_token(ingress, ingress.a)).status == 200
    entry = suppressions.entry(company, Channel.EMAIL, RECIPIENT_EMAIL)
    assert entry.is_active and entry.reason is SuppressionReason.UNSUBSCRIBE_LINK
    assert entry.lifted_at is None
    assert entry.address_hint  # the earlier entry's masked hint stays; the token has none to give


def _forgeries(ingress) -> dict[str, str]:
    token = _token(ingress, ingress.a)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1

    def encode(value: bytes) -> str:
        return base64.urlsafe_b64encode(bytes(value)).rstrip(b"=").decode()

    swapped = bytes(raw).replace(
        ingress.a.company_id.encode(), ingress.b.company_id[: len(ingress.a.company_id)].encode()
    )
    return {
        "altered signature": encode(raw),
        "another company in the same token": encode(swapped),
        "another key": make_token(
            AddressHasher(b"x" * 32), ingress.a.company_id, ingress.a.project_id, RECIPIENT_EMAIL
        ),
        "not a token": "not-a-token",
        "truncated": token[:40],
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_forged_token_is_404_with_the_same_page_and_writes_nothing(ingress, method, capsys):
    pages = set()
    for name, token in _forgeries(ingress).items():
        reply = ingress.unsubscribe(token, method)
        assert reply.status == 404, name
        pages.add(reply.body)

    assert len(pages) == 1 and "not valid" in pages.pop()
    assert _scan(ingress) == []
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.count(metric_names.UNSUBSCRIBE_REJECTED) == len(_forgeries(ingress))
    assert metric_names.UNSUBSCRIBE_REQUESTS not in metrics
    # Not a provider's refused signature: the webhook alarm does not see link probing.
    assert metric_names.WEBHOOK_SIGNATURE_REJECTED not in metrics


def test_another_tenants_token_reaches_only_that_tenants_list(ingress):
    ingress.unsubscribe(_token(ingress, ingress.b))

    suppressions = ingress.suppressions()
    assert suppressions.is_suppressed(ingress.b.company_id, Channel.EMAIL, RECIPIENT_EMAIL)
    assert not suppressions.is_suppressed(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL)
    assert [item["company_id"]["S"] for item in _scan(ingress)] == [ingress.b.company_id]


def test_a_token_of_a_project_no_longer_registered_still_unsubscribes(ingress):
    token = make_token(ingress.hasher(), ingress.a.company_id, "pi-gone-404", RECIPIENT_EMAIL)

    page = ingress.unsubscribe(token, "GET")
    done = ingress.unsubscribe(token)

    assert page.status == done.status == 200 and "this sender" in done.body
    assert ingress.suppressions().is_suppressed(ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL)


def test_without_the_consent_key_the_answer_is_503_and_nothing_is_written(ingress):
    token = _token(ingress, ingress.a)
    ingress.aws.client("secretsmanager").delete_secret(
        SecretId=ingress.aws.consent_key_secret_id, ForceDeleteWithoutRecovery=True
    )

    for method in ("GET", "POST"):
        reply = ingress.unsubscribe(token, method)
        assert reply.status == 503
        assert reply.headers["Retry-After"] == "60"
        assert "Nothing was changed" in reply.body
    assert _scan(ingress) == []
    assert "Unsubscribe not possible now" in ingress.logs()


def test_the_webhook_routes_are_unchanged_by_the_unsubscribe_route(ingress):
    reply = ingress.twilio(ingress.a, webhook_ingress.twilio_params())

    assert reply.status == 200
    assert len(ingress.queued()) == 1


def test_suppress_hashed_writes_the_entry_suppress_would_and_takes_only_a_digest(ingress):
    suppressions = ingress.suppressions()
    digest = ingress.hasher().digest(RECIPIENT_EMAIL)

    made = suppressions.suppress_hashed(
        ingress.a.company_id,
        Channel.EMAIL,
        digest,
        reason=SuppressionReason.UNSUBSCRIBE_LINK,
        source="unsubscribe_link",
    )
    again = suppressions.suppress(
        ingress.a.company_id, Channel.EMAIL, RECIPIENT_EMAIL, reason=SuppressionReason.SPAM_REPORT, source="s"
    )

    assert (made, again) == (True, False)  # one entry, the first reason stays
    [item] = _scan(ingress)
    assert item["suppression_key"]["S"] == f"email#{digest}" and "address_hint" not in item
    for not_a_digest in (RECIPIENT_EMAIL, digest.upper(), digest[:-1], ""):
        with pytest.raises(ValueError):
            suppressions.suppress_hashed(
                ingress.a.company_id, Channel.EMAIL, not_a_digest, reason=SuppressionReason.OPERATOR, source="x"
            )
    assert len(_scan(ingress)) == 1
