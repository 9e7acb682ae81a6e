"""``comms dlq redrive|status`` against AWS: SQS's own message move task, DLQ to its queue.

The emulator lacks ``StartMessageMoveTask``, so SQS's answers are stubbed at the outermost
boundary (botocore's ``Stubber`` on the client the command is given); everything between the
command line and the call is the product's."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.comms.cli import build_parser
from tools.comms.errors import CommandError
from tools.comms.target import Target

ACCOUNT, REGION = "123456789012", "eu-north-1"
STARTED_MS = 1_795_683_600_000  # 2026-11-26T09:00:00Z


def _url(name: str) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


def _arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@dataclass(frozen=True)
class StubbedAws(Target):
    """A deployed environment whose SQS answers come from the stubbed client."""

    sqs: Any = None

    def client(self, service: str) -> Any:
        assert service == "sqs"
        return self.sqs


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect_endpoints(stubber: Stubber, dlq: str, queue: str) -> None:
    for name in (dlq, queue):
        stubber.add_response("get_queue_url", {"QueueUrl": _url(name)}, {"QueueName": name})
    for name in (dlq, queue):
        stubber.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": _arn(name)}},
            {"QueueUrl": _url(name), "AttributeNames": ["QueueArn"]},
        )


def _tasks(stubber: Stubber, dlq: str, queue: str, *, status: str, moved: int) -> None:
    stubber.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "TaskHandle": "handle-1",
                    "Status": status,
                    "SourceArn": _arn(dlq),
                    "DestinationArn": _arn(queue),
                    "ApproximateNumberOfMessagesMoved": moved,
                    "ApproximateNumberOfMessagesToMove": 4,
                    "StartedTimestamp": STARTED_MS,
                }
            ]
        },
        {"SourceArn": _arn(dlq), "MaxResults": 10},
    )


def _run(sqs_client: Any, *argv: str) -> int | None:
    args: argparse.Namespace = build_parser().parse_args([*argv, "--env", "prod"])
    return args.run(args, StubbedAws(env="prod", region=REGION, sqs=sqs_client))


@pytest.mark.parametrize(
    ("queue", "dlq", "source"),
    [
        ("sms", "ai-multi-comms-sms-dlq-prod", "ai-multi-comms-sms-queue-prod"),
        ("webhooks", "ai-multi-comms-webhooks-dlq-prod.fifo", "ai-multi-comms-webhooks-queue-prod.fifo"),
    ],
)
def test_redrive_on_aws_starts_a_move_task_from_the_dlq_to_its_queue(sqs, capsys, queue, dlq, source):
    client, stubber = sqs
    _expect_endpoints(stubber, dlq, source)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": _arn(dlq), "DestinationArn": _arn(source)},
    )
    _tasks(stubber, dlq, source, status="RUNNING", moved=0)

    assert not _run(client, "dlq", "redrive", queue)

    printed = capsys.readouterr().out
    assert f"started moving the messages of {dlq} to {source} (task handle handle-1)" in printed
    assert "RUNNING" in printed and "2026-11-26T09:00:00Z" in printed
    assert f"follow it with: comms dlq status {queue} --env prod" in printed


def test_status_on_aws_lists_the_dlqs_move_tasks(sqs, capsys):
    client, stubber = sqs
    dlq, source = "ai-multi-comms-events-dlq-prod", "ai-multi-comms-events-queue-prod"
    stubber.add_response("get_queue_url", {"QueueUrl": _url(dlq)}, {"QueueName": dlq})
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}},
        {
            "QueueUrl": _url(dlq),
            "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        },
    )
    _expect_endpoints(stubber, dlq, source)
    _tasks(stubber, dlq, source, status="COMPLETED", moved=4)

    assert not _run(client, "dlq", "status", "events", "--json")

    answer = json.loads(capsys.readouterr().out)
    assert (answer["waiting"], answer["in_flight"]) == (0, 1)
    [task] = answer["tasks"]
    assert task == {
        "status": "COMPLETED",
        "started_at": "2026-11-26T09:00:00Z",
        "moved": 4,
        "to_move": 4,
        "destination": source,
        "failure_reason": None,
        "task_handle": "handle-1",
    }


def test_the_stream_failure_dlq_is_refused_before_any_call(sqs):
    client, _stubber = sqs  # no response queued: any call to SQS would fail the test

    with pytest.raises(CommandError, match="comms webhooks replay"):
        _run(client, "dlq", "redrive", "tenant-events")
