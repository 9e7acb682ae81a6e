"""``comms secrets put|check`` against the emulator: each kind from a file and from stdin, read back
as the engine reads it; refused values change nothing; no value is ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.channels import Channel
from shared.processing.credentials import OpenAiCredentials, SecretReader, SendGridCredentials, TwilioCredentials
from shared.secret_names import PREFIX, openai_secret_name, webhook_secret_name
from shared.tenant_webhooks.signing_secrets import SigningSecrets, new_signing_secret
from tests.integration.comms_setup import (
    COMPANY_ID,
    INBOUND_TOKEN,
    OPENAI_KEY,
    PROJECT,
    PROJECT_ID,
    TWILIO_TOKEN,
    assert_never_shown,
    credentials_for,
    credentials_name,
    example_record,
    put_record,
    secret_names,
    sendgrid_credentials,
    store_openai_key,
    twilio_credentials,
)

WEBHOOK_SECRET_NAME = webhook_secret_name(COMPANY_ID, PROJECT_ID, "dev")


def _read(aws, name: str, shape):
    return SecretReader(aws.client("secretsmanager"), allowed_prefixes=(PREFIX,)).read(name, shape).value


def _file(tmp_path: Path, text: str, name: str = "value") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- put openai ---------------------------------------------------------------------------------


def test_openai_key_from_stdin_is_stored_as_the_processor_reads_it_and_never_printed(aws, comms):
    result = comms("secrets", "put", "openai", "--channel", "sms", stdin=OPENAI_KEY + "\n")

    assert result.code == 0, result.stderr
    name = openai_secret_name("sms", "dev")
    assert _read(aws, name, OpenAiCredentials).ai_api_key.get_secret_value() == OPENAI_KEY
    assert name in result.stdout and "created" in result.stdout
    assert_never_shown(result)


def test_openai_key_from_a_file_replaces_the_previous_one(aws, comms, tmp_path):
    store_openai_key(aws, Channel.EMAIL, "sk-old-key")

    result = comms("secrets", "put", "openai", "--channel", "email", "--file", _file(tmp_path, OPENAI_KEY), "--json")

    assert result.code == 0, result.stderr
    assert result.json()["action"] == "updated"
    assert _read(aws, openai_secret_name("email", "dev"), OpenAiCredentials).ai_api_key.get_secret_value() == OPENAI_KEY
    assert_never_shown(result)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "stdin holds no value"),
        ("  \n", "stdin holds no value"),
        (json.dumps({"ai_api_key": OPENAI_KEY}), "give the key text only"),
        (f"{OPENAI_KEY}\n{OPENAI_KEY}", "no spaces or line breaks"),
    ],
)
def test_an_unusable_openai_key_is_refused_and_nothing_is_written(aws, comms, stdin, message):
    result = comms("secrets", "put", "openai", "--channel", "whatsapp", stdin=stdin)

    assert result.code == 2
    assert message in result.stderr
    assert secret_names(aws) == []
    assert_never_shown(result)


def test_a_missing_file_is_refused(aws, comms, tmp_path):
    result = comms("secrets", "put", "openai", "--channel", "sms", "--file", str(tmp_path / "nothing.txt"))

    assert result.code == 2
    assert "cannot read" in result.stderr
    assert secret_names(aws) == []


def test_a_value_is_never_taken_from_the_command_line(aws, comms):
    result = comms("secrets", "put", "openai", "--channel", "sms", OPENAI_KEY)

    assert result.code == 2
    assert secret_names(aws) == []


# -- put credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "shape"), [("sms", TwilioCredentials), ("whatsapp", TwilioCredentials)])
def test_twilio_credentials_from_a_file_are_stored_under_the_projects_own_name(aws, comms, tmp_path, channel, shape):
    path = _file(tmp_path, json.dumps(twilio_credentials(), indent=2) + "\n", "twilio.json")

    result = comms("secrets", "put", "credentials", "--channel", channel, *PROJECT, "--file", path)

    assert result.code == 0, result.stderr
    stored = _read(aws, credentials_name(Channel(channel)), shape)
    assert stored.twilio_auth_token.get_secret_value() == TWILIO_TOKEN
    assert secret_names(aws) == [credentials_name(Channel(channel))]
    assert_never_shown(result)


def test_sendgrid_credentials_from_stdin_are_stored_and_read_by_the_engine(aws, comms):
    result = comms(
        "secrets", "put", "credentials", "--channel", "email", *PROJECT, stdin=json.dumps(sendgrid_credentials())
    )

    assert result.code == 0, result.stderr
    stored = _read(aws, credentials_name(Channel.EMAIL), SendGridCredentials)
    assert stored.sendgrid_inbound_token.get_secret_value() == INBOUND_TOKEN
    assert result.stderr == ""  # nothing to note: both webhooks can verify
    assert_never_shown(result)


def test_sendgrid_credentials_without_the_webhook_fields_are_stored_with_a_note_of_what_is_refused(aws, comms):
    credentials = {"sendgrid_api_key": "SG.only-the-key"}

    result = comms("secrets", "put", "credentials", "--channel", "email", *PROJECT, stdin=json.dumps(credentials))

    assert result.code == 0, result.stderr
    assert "no sendgrid_webhook_public_key: SendGrid's delivery events are refused (403)" in result.stderr
    assert "no sendgrid_inbound_token: Inbound Parse replies are refused (403)" in result.stderr
    assert secret_names(aws) == [credentials_name(Channel.EMAIL)]


def _without(data: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in data.items() if key != name}


@pytest.mark.parametrize(
    ("channel", "value", "problem"),
    [
        ("sms", "twilio_account_sid=AC1", "the value is not JSON"),
        ("sms", json.dumps([twilio_credentials()]), "not a JSON object"),
        ("sms", json.dumps(_without(twilio_credentials(), "twilio_auth_token")), "twilio_auth_token: missing"),
        (
            "whatsapp",
            json.dumps(_without(twilio_credentials(), "twilio_auth_token") | {"twilio_auth_tokn": TWILIO_TOKEN}),
            "twilio_auth_tokn: not a field of TwilioCredentials",
        ),
        ("sms", json.dumps(twilio_credentials() | {"twilio_auth_token": " "}), "twilio_auth_token: must be non-empty"),
        (
            "sms",
            json.dumps(twilio_credentials() | {"twilio_template_sid": ""}),
            "twilio_template_sid: must be non-empty",
        ),
        ("email", json.dumps(twilio_credentials()), "sendgrid_api_key: missing"),
        (
            "email",
            json.dumps(sendgrid_credentials() | {"sendgrid_inbound_token": "short-token"}),
            "sendgrid_inbound_token is shorter than 16 characters",
        ),
        (
            "email",
            json.dumps(sendgrid_credentials() | {"sendgrid_webhook_public_key": "bm90IGEga2V5"}),
            "sendgrid_webhook_public_key is not a base64 DER public key",
        ),
    ],
)
def test_credentials_of_the_wrong_shape_are_refused_naming_the_field_and_nothing_is_written(
    aws, comms, channel, value, problem
):
    result = comms("secrets", "put", "credentials", "--channel", channel, *PROJECT, stdin=value)

    assert result.code == 2
    assert problem in result.stderr
    assert "nothing was written" in result.stderr
    assert secret_names(aws) == []
    assert_never_shown(result, "short-token")


def test_credentials_for_an_id_the_engine_cannot_have_are_refused(aws, comms):
    stdin = json.dumps(twilio_credentials())
    result = comms("secrets", "put", "credentials", "--channel", "sms", "--company-id", "ci-demo-001/other",
                   "--project-id", PROJECT_ID, stdin=stdin)  # fmt: skip

    assert result.code == 2
    assert "is not an id" in result.stderr
    assert secret_names(aws) == []


def test_put_from_stdin_works_in_a_fresh_shell_as_the_readme_writes_it(aws, comms):
    result = comms("secrets", "put", "openai", "--channel", "sms", stdin=OPENAI_KEY + "\n", subprocess_run=True)

    assert result.code == 0, result.stderr
    assert _read(aws, openai_secret_name("sms", "dev"), OpenAiCredentials).ai_api_key.get_secret_value() == OPENAI_KEY
    assert_never_shown(result)


# -- put webhook --------------------------------------------------------------------------------


def test_a_generated_webhook_secret_is_printed_once_and_is_what_the_sender_signs_with(aws, comms):
    result = comms("secrets", "put", "webhook", *PROJECT, "--generate", "--json")

    assert result.code == 0, result.stderr
    shown = result.json()["signing_secret"]
    signing = SigningSecrets(aws.client("secretsmanager"), environment="dev")
    assert signing.secret_for(COMPANY_ID, PROJECT_ID, WEBHOOK_SECRET_NAME) == shown
    assert "not shown again" in result.stderr


def test_a_given_webhook_secret_replaces_the_old_one_from_a_file(aws, comms, tmp_path):
    aws.client("secretsmanager").create_secret(Name=WEBHOOK_SECRET_NAME, SecretString=new_signing_secret())
    given = new_signing_secret()

    result = comms("secrets", "put", "webhook", *PROJECT, "--file", _file(tmp_path, given + "\n"))

    assert result.code == 0, result.stderr
    assert aws.client("secretsmanager").get_secret_value(SecretId=WEBHOOK_SECRET_NAME)["SecretString"] == given
    assert "updated" in result.stdout and "up to 5 minutes" in result.stderr
    assert_never_shown(result, given)


@pytest.mark.parametrize("stdin", ["", "not-a-whsec-value", "whsec_c2hvcnQ="])
def test_a_webhook_secret_that_is_not_whsec_base64_is_refused(aws, comms, stdin):
    result = comms("secrets", "put", "webhook", *PROJECT, stdin=stdin)

    assert result.code == 2
    assert secret_names(aws) == []
    assert_never_shown(result, "not-a-whsec-value")


def test_a_webhook_secret_is_either_given_or_generated(aws, comms, tmp_path):
    result = comms("secrets", "put", "webhook", *PROJECT, "--generate", "--file", _file(tmp_path, new_signing_secret()))

    assert result.code == 2
    assert secret_names(aws) == []


# -- check --------------------------------------------------------------------------------------


def _put_every_secret(aws, comms, *, webhook: bool = False) -> None:
    for channel in Channel:
        assert comms("secrets", "put", "openai", "--channel", channel.value, stdin=OPENAI_KEY).code == 0
        stdin = json.dumps(credentials_for(channel))
        assert comms("secrets", "put", "credentials", "--channel", channel.value, *PROJECT, stdin=stdin).code == 0
    if webhook:
        assert comms("secrets", "put", "webhook", *PROJECT, "--generate").code == 0


def test_check_of_a_complete_project_lists_each_secret_it_needs_and_exits_0(aws, comms):
    record = example_record()
    record["webhook"] = {"url": "https://hooks.example.com/events", "secret_reference": WEBHOOK_SECRET_NAME}
    put_record(aws, record)
    _put_every_secret(aws, comms, webhook=True)

    result = comms("secrets", "check", *PROJECT, "--json")

    assert result.code == 0, result.stdout
    rows = {(row["kind"], row["channel"]): row for row in result.json()}
    assert set(rows) == {(kind, c.value) for kind in ("openai", "credentials") for c in Channel} | {("webhook", None)}
    assert all(row["exists"] and row["valid"] and not row["problems"] for row in rows.values())
    assert rows[("credentials", "sms")]["secret"] == credentials_name(Channel.SMS)
    assert rows[("openai", "email")]["last_changed"] is not None
    assert_never_shown(result)


def test_check_of_a_project_missing_a_secret_exits_1_naming_it(aws, comms):
    put_record(aws)
    _put_every_secret(aws, comms)
    aws.client("secretsmanager").delete_secret(SecretId=credentials_name(Channel.SMS), ForceDeleteWithoutRecovery=True)

    result = comms("secrets", "check", *PROJECT)

    assert result.code == 1
    missing = [line for line in result.stdout.splitlines() if "missing" in line]
    assert len(missing) == 1 and credentials_name(Channel.SMS) in missing[0]
    assert_never_shown(result)


def test_check_names_the_field_of_a_stored_secret_of_the_wrong_shape(aws, comms):
    put_record(aws)
    _put_every_secret(aws, comms)
    stale = json.dumps({"sendgrid_key": "SG.old-shape"})
    aws.client("secretsmanager").put_secret_value(SecretId=credentials_name(Channel.EMAIL), SecretString=stale)

    result = comms("secrets", "check", *PROJECT, "--json")

    assert result.code == 1
    row = next(row for row in result.json() if row["secret"] == credentials_name(Channel.EMAIL))
    assert row["exists"] and not row["valid"]
    assert "sendgrid_api_key: missing" in row["problems"]
    assert "SG.old-shape" not in result.stdout


def test_check_reports_a_record_naming_a_secret_that_is_not_its_own(aws, comms):
    record = example_record()
    foreign = "ai-multi-comms/sms-credentials/ci-other/pi-other/twilio-dev"
    record["channel_config"]["sms"]["sms_credentials_id"] = foreign
    put_record(aws, record)
    _put_every_secret(aws, comms)

    result = comms("secrets", "check", *PROJECT, "--json")

    assert result.code == 1
    row = next(row for row in result.json() if row["secret"] == credentials_name(Channel.SMS))
    assert row["problems"] == [f"the record names {foreign!r} instead"]


def test_check_of_a_project_that_does_not_exist_exits_1(aws, comms):
    result = comms("secrets", "check", *PROJECT)

    assert result.code == 1
    assert f"no project {COMPANY_ID}/{PROJECT_ID}" in result.stderr


def test_check_reports_the_empty_openai_key_a_deploy_creates_until_it_is_put(aws, comms):
    put_record(aws)
    _put_every_secret(aws, comms)
    shell = json.dumps({"ai_api_key": ""})  # what ProcessorStack writes
    aws.client("secretsmanager").put_secret_value(SecretId=openai_secret_name("sms", "dev"), SecretString=shell)

    result = comms("secrets", "check", *PROJECT, "--json")

    assert result.code == 1
    row = next(row for row in result.json() if row["secret"] == openai_secret_name("sms", "dev"))
    assert row["problems"] == ["ai_api_key: must be non-empty text"]
    assert comms("secrets", "put", "openai", "--channel", "sms", stdin=OPENAI_KEY).code == 0
    assert comms("secrets", "check", *PROJECT).code == 0
