import json

from shared.channels import Channel


def test_local_resources_hold_every_table_and_a_dlq_redrive_per_channel(aws):
    dynamodb = aws.client("dynamodb")
    assert sorted(dynamodb.list_tables()["TableNames"]) == [
        "ai-multi-comms-company-data-dev",
        "ai-multi-comms-conversations-dev",
        "ai-multi-comms-provider-messages-dev",
        "ai-multi-comms-rate-limits-dev",
        "ai-multi-comms-suppressions-dev",
        "ai-multi-comms-webhook-events-dev",
    ]
    # The consent key exists (random, as Secrets Manager generates it at deploy) and is usable.
    secret = aws.client("secretsmanager").get_secret_value(SecretId=aws.consent_key_secret_id)
    assert len(json.loads(secret["SecretString"])["hmac_key"]) >= 32
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws.queues[Channel.SMS].queue_url, AttributeNames=["All"])
    assert '"maxReceiveCount": 3' in attributes["Attributes"]["RedrivePolicy"]
