"""``comms dlq list|show|redrive|status|purge`` against the emulator (the ``--env local`` path):
what each shows, what it moves or deletes, and what it leaves alone."""

from __future__ import annotations

import json

import pytest

from shared.channels import Channel

TENANT_EVENTS_DLQ = "ai-multi-comms-tenant-events-dlq-dev"
TEL, EMAIL = "+447700900123", "alex.morgan@example.com"


def _depth(aws, url: str) -> tuple[int, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _drain(aws, url: str, *, fifo: bool = False) -> list[dict]:
    """Every message of a queue, taken."""
    sqs = aws.client("sqs")
    found = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        **({"MessageSystemAttributeNames": ["MessageGroupId", "MessageDeduplicationId"]} if fifo else {}),
    ).get("Messages"):
        found += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _stream_failures_dlq(aws) -> str:
    """AWS's tenant-events stream-failure DLQ (the local stack logs those failures instead), holding
    one record range as Lambda writes it."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=TENANT_EVENTS_DLQ)["QueueUrl"]
    pointer = {"DDBStreamBatchInfo": {"shardId": "shardId-1", "startSequenceNumber": "100", "batchSize": 2}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(pointer))
    return url


# -- list ---------------------------------------------------------------------------------------------


def test_list_shows_every_dlq_with_what_waits_what_is_in_flight_and_where_it_redrives(aws, comms):
    sqs = aws.client("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=aws.queues[Channel.SMS].dlq_url, MessageBody=json.dumps({"n": n}))
    for group in ("conv-a", "conv-b"):
        sqs.send_message(
            QueueUrl=aws.webhooks_queue.dlq_url, MessageBody="{}", MessageGroupId=group, MessageDeduplicationId=group
        )
    sqs.receive_message(QueueUrl=aws.webhooks_queue.dlq_url, MaxNumberOfMessages=1, VisibilityTimeout=300)

    before = comms("dlq", "list", "--json")
    _stream_failures_dlq(aws)
    after = comms("dlq", "list", "--json")
    table = comms("dlq", "list")

    assert before.code == 0, before.stderr
    rows = {row["queue"]: row for row in after.json()}
    assert list(rows) == ["whatsapp", "sms", "email", "events", "webhooks", "tenant-events"]
    assert rows["sms"] == {
        "queue": "sms",
        "name": "ai-multi-comms-sms-dlq-dev",
        "waiting": 3,
        "in_flight": 0,
        "redrives_to": "ai-multi-comms-sms-queue-dev",
    }
    assert (rows["webhooks"]["waiting"], rows["webhooks"]["in_flight"]) == (1, 1)
    assert rows["webhooks"]["redrives_to"] == "ai-multi-comms-webhooks-queue-dev.fifo"
    assert rows["events"]["redrives_to"] == "ai-multi-comms-events-queue-dev"
    assert (rows["whatsapp"]["waiting"], rows["email"]["waiting"], rows["events"]["waiting"]) == (0, 0, 0)
    assert rows["tenant-events"]["waiting"] == 1 and "comms webhooks replay" in rows["tenant-events"]["redrives_to"]
    # Where the queue does not exist (the local stack has no stream-failure DLQ) it says so.
    [absent] = [row for row in before.json() if row["queue"] == "tenant-events"]
    assert absent["waiting"] is None and absent["redrives_to"] == "- (no such queue here)"
    assert table.stdout.splitlines()[0].split() == ["QUEUE", "NAME", "WAITING", "IN_FLIGHT", "REDRIVES_TO"]
    assert "ai-multi-comms-sms-dlq-dev" in table.stdout
    assert _depth(aws, aws.queues[Channel.SMS].dlq_url) == (3, 0)  # listing touches nothing


# -- show ---------------------------------------------------------------------------------------------


def test_show_prints_each_letter_masked_and_leaves_it_in_the_dlq(aws, comms, context_message):
    sqs = aws.client("sqs")
    dlq = aws.queues[Channel.WHATSAPP].dlq_url
    messages = [context_message(Channel.WHATSAPP) for _ in range(3)]
    for message in messages:
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=message.model_dump_json(),
            MessageAttributes={"failure_reason": {"DataType": "String", "StringValue": f"malformed: to {TEL}"}},
        )

    shown = comms("dlq", "show", "whatsapp", "--json")
    table = comms("dlq", "show", "whatsapp")
    two = comms("dlq", "show", "whatsapp", "--max", "2", "--json")

    assert shown.code == 0, shown.stderr
    letters = shown.json()
    assert len(letters) == 3 and len(two.json()) == 2
    by_request = {letter["summary"]["request_id"]: letter for letter in letters}
    assert set(by_request) == {m.request_data.request_id for m in messages}
    for message in messages:
        summary = by_request[message.request_data.request_id]["summary"]
        assert summary["channel"] == "whatsapp"
        assert summary["company_id"] == message.company_data.company_id
        assert summary["project_id"] == message.company_data.project_id
        # The conversation id ends with the company's sender, not the person: shown whole, so the
        # operator can pass it to `comms conversations show`.
        assert summary["conversation_id"] == message.conversation_id
    letter = letters[0]
    assert letter["failure_reason"] == "malformed: to +44********23"
    assert letter["sent_at"].endswith("Z") and letter["receive_count"] >= 1
    for output in (shown.stdout, table.stdout, two.stdout):
        assert TEL not in output and TEL[1:] not in output and EMAIL not in output
        assert messages[0].recipient_data.recipient_first_name not in output
    assert table.stdout.splitlines()[0].split()[:4] == ["MESSAGE_ID", "SENT_AT", "RECEIVE_COUNT", "FAILURE_REASON"]
    # All three still wait in the DLQ, visible at once (released, not hidden for a while).
    assert _depth(aws, dlq) == (3, 0)
    assert len(_drain(aws, dlq)) == 3


def test_show_of_the_webhooks_fifo_dlq_shows_the_conversation_group_and_summarises_tenant_events(aws, comms):
    sqs = aws.client("sqs")
    conversation_id = "ci-demo-001#pi-demo-001#3f8b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f#447700900001"
    event = {"id": "evt_1", "type": "conversation.sent", "data": {"conversation_id": conversation_id}}
    sqs.send_message(
        QueueUrl=aws.webhooks_queue.dlq_url,
        MessageBody=json.dumps(event),
        MessageGroupId=conversation_id,
        MessageDeduplicationId="evt_1",
    )
    sqs.send_message(QueueUrl=aws.events_queue.dlq_url, MessageBody="not json at all")

    [shown] = comms("dlq", "show", "webhooks", "--json").json()
    [unreadable] = comms("dlq", "show", "events", "--json").json()

    assert shown["summary"] == {
        "id": "evt_1",
        "type": "conversation.sent",
        "conversation_id": conversation_id,
    }
    assert shown["group"] == conversation_id
    assert unreadable["summary"] == {"body": "not JSON (15 characters)"}
    assert _depth(aws, aws.webhooks_queue.dlq_url) == (1, 0)


# -- redrive (the emulator's loop) ------------------------------------------------------------------------


def test_dead_letters_go_back_to_their_queue_with_their_routing_attributes(aws, comms):
    sqs = aws.client("sqs")
    urls = aws.queues[Channel.SMS]
    for index in range(12):
        sqs.send_message(
            QueueUrl=urls.dlq_url,
            MessageBody=f'{{"n": {index}}}',
            MessageAttributes={
                "conversation_id": {"DataType": "String", "StringValue": f"c{index}"},
                "failure_reason": {"DataType": "String", "StringValue": "malformed"},
            },
        )

    done = comms("dlq", "redrive", "sms")

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == "moved 12 message(s) from ai-multi-comms-sms-dlq-dev to ai-multi-comms-sms-queue-dev"
    assert _depth(aws, urls.dlq_url) == (0, 0)
    back = _drain(aws, urls.queue_url)
    assert sorted(m["Body"] for m in back) == sorted(f'{{"n": {i}}}' for i in range(12))
    assert all(set(m["MessageAttributes"]) == {"conversation_id"} for m in back)  # failure_reason dropped


def test_max_moves_only_that_many_and_leaves_the_rest(aws, comms):
    sqs = aws.client("sqs")
    urls = aws.queues[Channel.EMAIL]
    for index in range(7):
        sqs.send_message(QueueUrl=urls.dlq_url, MessageBody=f'{{"n": {index}}}')

    done = comms("dlq", "redrive", "email", "--max", "3", "--json")

    assert done.code == 0, done.stderr
    assert done.json() == {"moved": 3, "from": "ai-multi-comms-email-dlq-dev", "to": "ai-multi-comms-email-queue-dev"}
    assert _depth(aws, urls.dlq_url) == (4, 0)
    assert len(_drain(aws, urls.queue_url)) == 3


def test_dead_provider_events_go_back_to_the_events_queue(aws, comms):
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.events_queue.dlq_url, MessageBody='{"kind": "twilio_status"}')

    done = comms("dlq", "redrive", "events")

    assert done.code == 0, done.stderr
    assert "to ai-multi-comms-events-queue-dev" in done.stdout
    [back] = sqs.receive_message(QueueUrl=aws.events_queue.queue_url)["Messages"]
    assert back["Body"] == '{"kind": "twilio_status"}'


def test_dead_tenant_events_go_back_in_their_conversations_order_with_group_and_dedup_id(aws, comms):
    sqs = aws.client("sqs")
    dlq_url, queue_url = aws.webhooks_queue.dlq_url, aws.webhooks_queue.queue_url
    sent = [(f"conv-{c}", f"evt_{c}{n:031d}", f'{{"conversation": "{c}", "n": {n}}}') for n in range(3) for c in "ab"]
    for group, dedup, body in sent:
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup)

    done = comms("dlq", "redrive", "webhooks")

    assert done.code == 0, done.stderr
    assert (
        "moved 6 message(s) from ai-multi-comms-webhooks-dlq-dev.fifo to ai-multi-comms-webhooks-queue-dev.fifo"
        in done.stdout
    )
    assert _depth(aws, dlq_url) == (0, 0)
    back = _drain(aws, queue_url, fifo=True)
    got = [(m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"], m["Body"]) for m in back]
    assert sorted(got) == sorted(sent)
    for group in ("conv-a", "conv-b"):  # a conversation's events keep their order
        assert [g for g in got if g[0] == group] == [s for s in sent if s[0] == group]


def test_the_stream_failure_dlq_is_refused_and_names_the_replay(aws, comms):
    url = _stream_failures_dlq(aws)

    refused = comms("dlq", "redrive", "tenant-events")

    assert refused.code == 2
    assert "comms webhooks replay" in refused.stderr and TENANT_EVENTS_DLQ in refused.stderr
    assert refused.stdout == ""
    assert _depth(aws, url) == (1, 0)


# -- purge --------------------------------------------------------------------------------------------


def test_purge_says_how_many_without_yes_and_deletes_only_the_dlq_with_it(aws, comms):
    sqs = aws.client("sqs")
    urls = aws.queues[Channel.SMS]
    for index in range(3):
        sqs.send_message(QueueUrl=urls.dlq_url, MessageBody=f'{{"n": {index}}}')
    sqs.send_message(QueueUrl=urls.queue_url, MessageBody='{"live": true}')

    dry = comms("dlq", "purge", "sms")
    assert dry.code == 0, dry.stderr
    assert dry.stdout.strip() == (
        "would delete 3 message(s) from ai-multi-comms-sms-dlq-dev (3 waiting, 0 in flight); add --yes to purge"
    )
    assert _depth(aws, urls.dlq_url) == (3, 0)

    purged = comms("dlq", "purge", "sms", "--yes", "--json")

    assert purged.code == 0, purged.stderr
    assert purged.json() == {"queue": "ai-multi-comms-sms-dlq-dev", "waiting": 3, "in_flight": 0, "purged": True}
    assert _depth(aws, urls.dlq_url) == (0, 0)
    assert [m["Body"] for m in _drain(aws, urls.queue_url)] == ['{"live": true}']


# -- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        (("show", "telegram"), "invalid choice: 'telegram'"),
        (("redrive", "sms-dlq"), "invalid choice: 'sms-dlq'"),
        (("purge", "ai-multi-comms-sms-dlq-dev", "--yes"), "invalid choice"),
        (("status", "webhook"), "invalid choice"),
        (("redrive", "sms", "--max", "0"), "'0' is not a whole number of at least 1"),
        (("show", "sms", "--max", "ten"), "'ten' is not a whole number of at least 1"),
    ],
)
def test_bad_queue_names_and_counts_are_refused_and_change_nothing(aws, comms, arguments, why):
    sqs = aws.client("sqs")
    urls = aws.queues[Channel.SMS]
    sqs.send_message(QueueUrl=urls.dlq_url, MessageBody='{"n": 1}')

    refused = comms("dlq", *arguments)

    assert refused.code == 2
    assert why in refused.stderr
    assert _depth(aws, urls.dlq_url) == (1, 0) and _depth(aws, urls.queue_url) == (0, 0)


# -- status on the emulator, and the region from a fresh shell -----------------------------------------------


def test_status_against_the_emulator_shows_the_depth_and_no_move_tasks(aws, comms):
    aws.client("sqs").send_message(QueueUrl=aws.queues[Channel.SMS].dlq_url, MessageBody="{}")

    status = comms("dlq", "status", "sms", "--json")

    assert status.code == 0, status.stderr
    assert status.json() == {"queue": "ai-multi-comms-sms-dlq-dev", "waiting": 1, "in_flight": 0, "tasks": []}


def test_redrive_from_a_fresh_process_reads_everything_from_the_env_file(aws, comms):
    aws.client("sqs").send_message(QueueUrl=aws.queues[Channel.SMS].dlq_url, MessageBody='{"n": 1}')

    done = comms("dlq", "redrive", "sms", subprocess_run=True)

    assert done.code == 0, done.stderr
    assert "moved 1 message(s)" in done.stdout


def test_a_partial_redrive_on_aws_finds_the_queues_in_the_region_of_cdk_json(aws, comms):
    # --max moves one by one (SQS's move task has no count), so the emulator (boto3's
    # AWS_ENDPOINT_URL) can stand in for AWS; cdk.json's region wins over the shell's.
    aws.client("sqs").send_message(QueueUrl=aws.queues[Channel.SMS].dlq_url, MessageBody='{"n": 1}')

    with pytest.MonkeyPatch.context() as shell:
        shell.setenv("AWS_REGION", "us-west-2")
        shell.setenv("AWS_DEFAULT_REGION", "us-west-2")
        done = comms("dlq", "redrive", "sms", "--env", "dev", "--max", "5")
    elsewhere = comms("dlq", "redrive", "sms", "--env", "dev", "--max", "5", "--region", "us-east-1")

    assert done.code == 0, done.stderr
    assert "moved 1 message(s)" in done.stdout
    # No queue of the engine lives in us-east-1: the command must have looked there.
    assert elsewhere.code == 1
    assert "NonExistentQueue" in elsewhere.stderr or "does not exist" in elsewhere.stderr
