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
