from shared.channels import Channel


def test_local_resources_hold_every_table_and_a_dlq_redrive_per_channel(aws):
    dynamodb = aws.client("dynamodb")
    assert sorted(dynamodb.list_tables()["TableNames"]) == [
        "ai-multi-comms-company-data-dev",
        "ai-multi-comms-conversations-dev",
        "ai-multi-comms-provider-messages-dev",
        "ai-multi-comms-rate-limits-dev",
    ]
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws.queues[Channel.SMS].queue_url, AttributeNames=["All"])
    assert '"maxReceiveCount": 3' in attributes["Attributes"]["RedrivePolicy"]
