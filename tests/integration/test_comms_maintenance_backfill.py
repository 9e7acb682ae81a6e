"""``comms maintenance backfill-project-key`` against the emulator: old records get their listing key, once."""

from __future__ import annotations

import uuid

from shared.channels import Channel
from shared.processing.dynamodb_items import from_item
from shared.tables import CONVERSATIONS, PROJECT_CREATED_AT_INDEX
from tests.fixtures.reader import conversation, put_conversations
from tools.comms.project_key_backfill import Backfill


def _backfill(comms, *args: str):
    return comms("maintenance", "backfill-project-key", *args)


def _old(company: str, project: str, n: int, **fields):
    """A record as written before issue 13: no gsi_project_key."""
    record = conversation(company, project, str(uuid.UUID(int=n, version=4)), channel=Channel.SMS, **fields)
    return record.model_copy(update={"gsi_project_key": None})


def _items(aws) -> dict[str, dict]:
    client = aws.client("dynamodb")
    items = client.scan(TableName=aws.table_name(CONVERSATIONS.logical_name), ConsistentRead=True)["Items"]
    return {item["conversation_id"]["S"]: from_item(item) for item in items}


def _listed(aws, key: str) -> list[str]:
    answer = aws.client("dynamodb").query(
        TableName=aws.table_name(CONVERSATIONS.logical_name),
        IndexName=PROJECT_CREATED_AT_INDEX,
        KeyConditionExpression="gsi_project_key = :k",
        ExpressionAttributeValues={":k": {"S": key}},
    )
    return sorted(item["conversation_id"]["S"] for item in answer["Items"])


def test_a_dry_run_counts_per_project_and_writes_nothing_then_yes_sets_each_key_once(aws, comms):
    old = [_old("c1", "p1", 1, version=3), _old("c1", "p1", 2), _old("c2", "p9", 3)]
    new = conversation("c1", "p1", str(uuid.UUID(int=4, version=4)))
    broken = _old("bad#company", "p1", 5)
    put_conversations(aws, *old, new, broken)
    before = _items(aws)

    dry = _backfill(comms, "--json")
    assert dry.code == 0, dry.stderr
    assert dry.json() == {
        "applied": False,
        "scanned": 5,
        "missing": {"c1#p1": 2, "c2#p9": 1},
        "written": 0,
        "already_set": 0,
        "unusable": 1,
    }
    assert _items(aws) == before

    done = _backfill(comms, "--yes", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["written"] == 3
    after = _items(aws)
    for record in old:
        expected = {**before[record.conversation_id], "gsi_project_key": f"{record.company_id}#{record.project_id}"}
        assert after[record.conversation_id] == expected  # version and updated_at untouched
    assert after[new.conversation_id] == before[new.conversation_id]
    assert "gsi_project_key" not in after[broken.conversation_id]
    assert _listed(aws, "c1#p1") == sorted([old[0].conversation_id, old[1].conversation_id, new.conversation_id])

    again = _backfill(comms, "--yes")
    assert again.code == 0, again.stderr
    assert "records lacking gsi_project_key: 0" in again.stdout
    assert _items(aws) == after


def test_the_key_is_never_overwritten_and_a_gone_record_is_never_recreated(aws):
    record = conversation("c1", "p1", str(uuid.UUID(int=1, version=4)))
    put_conversations(aws, record)
    backfill = Backfill(aws.client("dynamodb"), aws.table_name(CONVERSATIONS.logical_name))

    assert backfill.set_key(record.primary_channel, record.conversation_id, "c9#p9") is False
    assert backfill.set_key("+447700900999", "c1#p1#gone#1", "c1#p1") is False
    items = _items(aws)
    assert list(items) == [record.conversation_id]
    assert items[record.conversation_id]["gsi_project_key"] == "c1#p1"


def test_an_unknown_environment_is_refused_and_nothing_is_written(aws, comms):
    put_conversations(aws, _old("c1", "p1", 1))
    before = _items(aws)

    refused = _backfill(comms, "--env", "staging", "--yes")

    assert refused.code == 2 and "invalid choice" in refused.stderr
    assert _items(aws) == before
