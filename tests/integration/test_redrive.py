from shared.channels import Channel
from tools.redrive import main


def test_dead_letters_go_back_to_their_queue_with_their_routing_attributes(aws, capsys):
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

    assert main(["--channel", "sms", "--env", "dev"]) == 0

    assert "moved 12 message(s)" in capsys.readouterr().out
    assert sqs.receive_message(QueueUrl=urls.dlq_url, WaitTimeSeconds=0).get("Messages") is None
    back = []
    while batch := sqs.receive_message(
        QueueUrl=urls.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        back += batch
    assert sorted(m["Body"] for m in back) == sorted(f'{{"n": {i}}}' for i in range(12))
    assert all(set(m["MessageAttributes"]) == {"conversation_id"} for m in back)


def test_dead_provider_events_go_back_to_the_events_queue(aws, capsys):
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.events_queue.dlq_url, MessageBody='{"kind": "twilio_status"}')

    assert main(["--channel", "events", "--env", "dev"]) == 0

    assert "to ai-multi-comms-events-queue-dev" in capsys.readouterr().out
    [back] = sqs.receive_message(QueueUrl=aws.events_queue.queue_url)["Messages"]
    assert back["Body"] == '{"kind": "twilio_status"}'


def test_dead_tenant_events_go_back_in_their_conversations_order_with_group_and_dedup_id(aws, capsys):
    sqs = aws.client("sqs")
    dlq_url, queue_url = aws.webhooks_queue.dlq_url, aws.webhooks_queue.queue_url
    sent = [(f"conv-{c}", f"evt_{c}{n:031d}", f'{{"conversation": {c}, "n": {n}}}') for n in range(3) for c in "ab"]
    for group, dedup, body in sent:
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup)

    assert main(["--channel", "webhooks", "--env", "dev"]) == 0

    printed = capsys.readouterr().out
    assert (
        "moved 6 message(s) from ai-multi-comms-webhooks-dlq-dev.fifo to ai-multi-comms-webhooks-queue-dev.fifo"
        in printed
    )
    assert sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0).get("Messages") is None
    back = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    ).get("Messages"):
        back += batch
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    got = [(m["Attributes"]["MessageGroupId"], m["Attributes"]["MessageDeduplicationId"], m["Body"]) for m in back]
    assert sorted(got) == sorted(sent)
    for group in ("conv-a", "conv-b"):  # a conversation's events keep their order
        assert [g for g in got if g[0] == group] == [s for s in sent if s[0] == group]
