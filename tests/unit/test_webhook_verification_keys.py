"""Which secrets verify a request, and how often Secrets Manager is asked when signatures fail.

Secrets Manager is played by a small in-memory client (the outermost boundary); the reader, its
cache and the fresh-read budget are the real ones, on a clock the test moves.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from shared.processing.credentials import SecretReader, TwilioCredentials
from shared.webhooks.refusals import DependencyUnavailable
from shared.webhooks.verification_keys import KeyUnusable, VerificationKeys

WHATSAPP = "ai-multi-comms/whatsapp-credentials/ci-1/pi-1/twilio-dev"
SMS = "ai-multi-comms/sms-credentials/ci-1/pi-1/twilio-dev"


class FakeSecretsManager:
    def __init__(self, values: dict[str, str]):
        self.values = values
        self.reads: list[str] = []
        self.failing: set[str] = set()

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.reads.append(SecretId)
        if SecretId in self.failing:
            raise ClientError({"Error": {"Code": "InternalServiceError"}}, "GetSecretValue")
        if SecretId not in self.values:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue")
        return {"SecretString": self.values[SecretId]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token(value: str) -> str:
    return json.dumps({"twilio_account_sid": "ACfake", "twilio_auth_token": value})


@pytest.fixture
def world():
    clock = Clock()
    client = FakeSecretsManager({WHATSAPP: _token("wa-old"), SMS: _token("sms-token")})
    reader = SecretReader(client, allowed_prefixes=("ai-multi-comms/",), clock=clock)
    return client, clock, VerificationKeys(reader, clock=clock)


def _accepts(token: str):
    return lambda credentials: credentials.twilio_auth_token.get_secret_value() == token


def test_the_first_secret_that_verifies_wins_and_the_rest_are_not_read(world):
    client, _, keys = world

    assert keys.verify([WHATSAPP, SMS], TwilioCredentials, _accepts("wa-old")).verified
    assert client.reads == [WHATSAPP]


def test_the_second_channels_secret_is_tried_when_the_first_does_not_verify(world):
    client, _, keys = world

    assert keys.verify([WHATSAPP, SMS], TwilioCredentials, _accepts("sms-token")).verified
    assert client.reads == [WHATSAPP, SMS]


def test_a_rotated_secret_is_read_fresh_once_its_last_read_is_a_minute_old(world):
    client, clock, keys = world
    keys.verify([WHATSAPP], TwilioCredentials, _accepts("wa-old"))
    client.values[WHATSAPP] = _token("wa-new")

    clock.now += 30
    assert not keys.verify([WHATSAPP], TwilioCredentials, _accepts("wa-new")).verified
    clock.now += 30
    assert keys.verify([WHATSAPP], TwilioCredentials, _accepts("wa-new")).verified
    assert client.reads == [WHATSAPP, WHATSAPP]


def test_forged_requests_read_each_secret_at_most_once_a_minute(world):
    client, clock, keys = world
    for _ in range(100):
        assert not keys.verify([WHATSAPP, SMS], TwilioCredentials, _accepts("forged")).verified
        clock.now += 1.0  # 100 requests over 100 seconds

    assert client.reads.count(WHATSAPP) == 2
    assert client.reads.count(SMS) == 2


def test_secrets_manager_failing_is_unavailable_not_forged(world):
    client, _, keys = world
    client.failing.add(SMS)

    with pytest.raises(DependencyUnavailable):
        keys.verify([WHATSAPP, SMS], TwilioCredentials, _accepts("sms-token"))


def test_a_failing_secret_does_not_matter_when_another_verifies(world):
    client, _, keys = world
    client.failing.add(SMS)

    assert keys.verify([WHATSAPP, SMS], TwilioCredentials, _accepts("wa-old")).verified


def test_a_missing_secret_or_unusable_key_is_a_named_problem(world):
    client, _, keys = world
    del client.values[SMS]

    def no_key(credentials):
        raise KeyUnusable("the secret holds no key")

    verdict = keys.verify([WHATSAPP, SMS], TwilioCredentials, no_key)

    assert not verdict.verified
    assert any("ResourceNotFoundException" in problem for problem in verdict.problems)
    assert any(WHATSAPP in problem and "holds no key" in problem for problem in verdict.problems)
    assert not any("wa-old" in problem for problem in verdict.problems)


def test_a_secret_outside_the_credentials_prefixes_is_never_read():
    client = FakeSecretsManager({"ai-multi-comms/openai-api-key/sms-dev": _token("x")})
    reader = SecretReader(client, allowed_prefixes=("ai-multi-comms/sms-credentials/",))

    verdict = VerificationKeys(reader).verify(
        ["ai-multi-comms/openai-api-key/sms-dev"], TwilioCredentials, _accepts("x")
    )

    assert not verdict.verified
    assert client.reads == []
