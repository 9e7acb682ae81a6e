"""``comms prompt test`` against the emulator and the OpenAI sandbox: the processor's own prompt for
a sample request, the draft the sandbox writes with the channel's key, and nothing sent or kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.sandboxes import Outcome, fingerprint
from shared.channels import Channel
from shared.processing.ai_writer import ENGINE_RULES
from shared.secret_names import openai_secret_name
from tests.conftest import EXAMPLES, REGION
from tests.fixtures.comms import Comms, local_env_file
from tests.integration.comms_setup import (
    OPENAI_KEY,
    PROJECT,
    assert_never_shown,
    example_record,
    put_record,
    secret_names,
    store_openai_key,
)

DRAFT = "Hi Alex, Carol from Cucumber Recruitment here: may we clarify three points of your CV?"


@pytest.fixture
def comms_with_sandbox(aws, moto_endpoint: str, tmp_path: Path, sandbox) -> Comms:
    """``comms --env local`` against moto and the OpenAI sandbox, as ``make local`` writes .local/env."""
    env = local_env_file(
        tmp_path / "env-with-sandbox", endpoint_url=moto_endpoint, region=REGION, OPENAI_SANDBOX_URL=sandbox.openai.url
    )
    return Comms(env)


def emulator_state(aws) -> dict[str, Any]:
    """Every item of every table, every queue's message counts and every secret's name."""
    tables = {
        name: sorted(json.dumps(item, sort_keys=True, default=str) for item in aws.table(name).scan()["Items"])
        for name in aws.tables
    }
    sqs = aws.client("sqs")
    counts = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    queues = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
        for urls in aws.work_queues().values()
        for url in (urls.queue_url, urls.dlq_url)
    }
    return {"tables": tables, "queues": queues, "secrets": secret_names(aws)}


def assert_nothing_sent(sandbox) -> None:
    assert sandbox.twilio.requests == [] and sandbox.twilio.outbox == []
    assert sandbox.sendgrid.requests == [] and sandbox.sendgrid.outbox == []


def test_render_only_prints_the_processors_prompt_and_makes_no_ai_call(aws, comms_with_sandbox, sandbox):
    record = put_record(aws)
    before = emulator_state(aws)

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--render-only", "--json")

    assert result.code == 0, result.stderr
    shown = result.json()
    instructions = record["ai_config"]["openai_config"]["sms"]["template_sender"]["instructions"]
    assert shown["instructions"] == f"{instructions}\n\n{ENGINE_RULES}"
    assert shown["model"] == "gpt-5-mini" and shown["output_contract"] == "sms_message"
    assert '"jobRole":"Healthcare Assistant"' in shown["input"] and '"recipient_first_name":"Alex"' in shown["input"]
    assert "+447700900123" not in result.stdout  # the recipient's number never reaches the prompt
    assert "draft" not in shown
    assert sandbox.openai.requests == []
    assert_nothing_sent(sandbox)
    assert emulator_state(aws) == before


def test_render_only_needs_no_sandbox_and_prints_sections_for_people(aws, comms):
    put_record(aws)

    result = comms("prompt", "test", *PROJECT, "--channel", "email", "--render-only")

    assert result.code == 0, result.stderr
    assert "--- instructions ---" in result.stdout and "--- input ---" in result.stdout
    assert "subject" in result.stdout and "(--render-only: no AI call)" in result.stdout


def test_prompt_test_returns_the_sandbox_draft_written_with_the_channels_key_and_keeps_nothing(
    aws, comms_with_sandbox, sandbox
):
    put_record(aws)
    store_openai_key(aws, Channel.SMS)
    sandbox.openai.api_keys = {OPENAI_KEY}  # any other key is refused: the stored one must be used
    sandbox.openai.script(Outcome.output({"body": DRAFT}))
    before = emulator_state(aws)

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--json")

    assert result.code == 0, result.stderr
    shown = result.json()
    assert shown["draft"] == {"body": DRAFT}
    assert shown["content_check"] == "passed"
    assert shown["usage"]["total_tokens"] == shown["usage"]["prompt_tokens"] + shown["usage"]["completion_tokens"] > 0
    [request] = sandbox.openai.requests
    assert request.headers["authorization"] == fingerprint(f"Bearer {OPENAI_KEY}")
    assert request.body["instructions"] == shown["instructions"] and request.body["input"] == shown["input"]
    assert request.body["text"]["format"]["name"] == "sms_message" and request.body["store"] is False
    assert_nothing_sent(sandbox)
    assert emulator_state(aws) == before
    assert_never_shown(result)


@pytest.mark.parametrize(("channel", "fields"), [("email", {"subject", "body"}), ("whatsapp", {"1", "2", "3", "4"})])
def test_the_draft_has_the_fields_of_the_channels_output_contract(aws, comms_with_sandbox, sandbox, channel, fields):
    put_record(aws)
    store_openai_key(aws, Channel(channel))

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", channel)

    assert result.code == 0, result.stderr
    draft = result.stdout.split("--- draft ---\n", 1)[1]
    assert {line.split()[0] for line in draft.splitlines()[: len(fields)]} == fields
    assert re.search(r"^content_check +passed$", result.stdout, re.MULTILINE)
    assert_nothing_sent(sandbox)


def test_a_draft_the_processor_would_refuse_exits_1_saying_why(aws, comms_with_sandbox, sandbox):
    put_record(aws)
    store_openai_key(aws, Channel.SMS)
    sandbox.openai.script(Outcome.output({"body": "Book here: https://evil.example/cv"}))

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--json")

    assert result.code == 1
    assert result.json()["content_check"].startswith("refused: The AI's message contains a link to evil.example")


def test_without_the_channels_openai_key_it_exits_1_naming_the_secret(aws, comms_with_sandbox, sandbox):
    put_record(aws)

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms")

    assert result.code == 1
    assert openai_secret_name("sms", "dev") in result.stderr
    assert sandbox.openai.requests == []


def test_a_key_openai_refuses_exits_1(aws, comms_with_sandbox, sandbox):
    put_record(aws)
    store_openai_key(aws, Channel.SMS)
    sandbox.openai.api_keys = {"sk-another-key"}

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms")

    assert result.code == 1
    assert "OpenAI refused the API key" in result.stderr
    assert_never_shown(result)


def test_a_channel_the_project_has_not_configured_is_refused(aws, comms_with_sandbox, sandbox):
    record = example_record()
    del record["channel_config"]["email"]
    put_record(aws, record)

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "email")

    assert result.code == 2
    assert "no email channel configuration" in result.stderr
    assert sandbox.openai.requests == []


def test_a_sample_request_the_router_would_refuse_is_refused(aws, comms_with_sandbox, sandbox, tmp_path):
    put_record(aws)
    request = json.loads((EXAMPLES / "initiate_request.example.json").read_text())
    del request["recipient_data"]["recipient_tel"]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--request", str(path))

    assert result.code == 2
    assert "MISSING_RECIPIENT_TEL" in result.stderr
    assert sandbox.openai.requests == []


def test_a_sample_request_that_is_not_json_is_refused(aws, comms_with_sandbox, tmp_path):
    put_record(aws)
    path = tmp_path / "request.json"
    path.write_text("{not json")

    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--request", str(path))

    assert result.code == 2
    assert "is not JSON" in result.stderr


def test_a_project_that_does_not_exist_exits_1(aws, comms_with_sandbox):
    result = comms_with_sandbox("prompt", "test", *PROJECT, "--channel", "sms", "--render-only")

    assert result.code == 1
    assert "no project ci-demo-001/pi-demo-001" in result.stderr


def test_the_ai_call_needs_the_local_stacks_openai_sandbox(aws, comms):
    put_record(aws)
    store_openai_key(aws, Channel.SMS)

    result = comms("prompt", "test", *PROJECT, "--channel", "sms")

    assert result.code == 2
    assert "OPENAI_SANDBOX_URL" in result.stderr
