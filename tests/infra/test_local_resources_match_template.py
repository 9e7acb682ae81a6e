"""The local stack's emulator resources agree with what the CDK app synthesises for dev."""

from __future__ import annotations

import json

import pytest

from shared.channels import ALL_CHANNELS


def _key_schema(keys: list[dict]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in keys]


def _indexes(indexes: list[dict] | None) -> dict[str, tuple]:
    return {
        index["IndexName"]: (
            _key_schema(index["KeySchema"]),
            index["Projection"]["ProjectionType"],
            sorted(index["Projection"].get("NonKeyAttributes", [])),
        )
        for index in indexes or []
    }


def _synthesised_tables(dev) -> dict[str, dict]:
    resources = dev.template("data").find_resources("AWS::DynamoDB::Table")
    return {r["Properties"]["TableName"]: r["Properties"] for r in resources.values()}


def test_every_local_table_has_the_synthesised_keys_indexes_and_ttl(aws, dev):
    dynamodb = aws.client("dynamodb")
    synthesised = _synthesised_tables(dev)
    assert sorted(synthesised) == sorted(aws.tables.values())
    for name, expected in synthesised.items():
        actual = dynamodb.describe_table(TableName=name)["Table"]
        assert _key_schema(actual["KeySchema"]) == _key_schema(expected["KeySchema"]), name
        assert sorted(map(json.dumps, actual["AttributeDefinitions"])) == sorted(
            map(json.dumps, expected["AttributeDefinitions"])
        ), name
        assert _indexes(actual.get("GlobalSecondaryIndexes")) == _indexes(expected.get("GlobalSecondaryIndexes"))
        assert _indexes(actual.get("LocalSecondaryIndexes")) == _indexes(expected.get("LocalSecondaryIndexes"))
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        expected_ttl = expected.get("TimeToLiveSpecification", {}).get("AttributeName")
        assert ttl.get("AttributeName") == expected_ttl, name


def _synthesised_queues(dev) -> dict[str, tuple[str, dict]]:
    """Queue name -> (logical id, properties)."""
    return {
        r["Properties"]["QueueName"]: (logical_id, r["Properties"])
        for logical_id, r in dev.template("queues").find_resources("AWS::SQS::Queue").items()
    }


def test_the_local_stack_has_exactly_the_synthesised_queues(aws, dev):
    local = {url.rsplit("/", 1)[1] for urls in aws.work_queues().values() for url in (urls.queue_url, urls.dlq_url)}
    assert local == set(_synthesised_queues(dev))


@pytest.mark.parametrize("queue", [*(c.value for c in ALL_CHANNELS), "events", "webhooks"])
def test_every_local_queue_has_the_synthesised_timings_and_redrive(aws, dev, queue):
    queues = _synthesised_queues(dev)
    by_logical_id = {logical_id: name for name, (logical_id, _) in queues.items()}
    sqs = aws.client("sqs")
    urls = aws.work_queues()[queue]
    for url in (urls.queue_url, urls.dlq_url):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        name = attributes["QueueArn"].rsplit(":", 1)[1]
        _, expected = queues[name]
        assert int(attributes["MessageRetentionPeriod"]) == expected["MessageRetentionPeriod"], name
        assert attributes.get("FifoQueue", "false") == str(expected.get("FifoQueue", False)).lower(), name
        if "VisibilityTimeout" in expected:
            assert int(attributes["VisibilityTimeout"]) == expected["VisibilityTimeout"], name
        if "RedrivePolicy" in expected:
            redrive = json.loads(attributes["RedrivePolicy"])
            target_logical_id = expected["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert redrive["maxReceiveCount"] == expected["RedrivePolicy"]["maxReceiveCount"]
            assert redrive["deadLetterTargetArn"].rsplit(":", 1)[1] == by_logical_id[target_logical_id]
        else:
            assert "RedrivePolicy" not in attributes, name
