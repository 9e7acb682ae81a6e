"""A queued message whose project_data the record cannot store is malformed: DLQ at once, no retry.

Such a message can only come from a router older than the check (issue 9, defect 1); before, every
delivery failed to write the record (decimal.Inexact/Overflow) until the DLQ took it and alarmed.
"""

from __future__ import annotations

import pytest

from shared import json_codec
from shared.channels import Channel
from shared.routing.context_builder import queue_body

FORTY_DIGITS = "1234567890123456789012345678901234567890"


@pytest.mark.parametrize("literal", ["1E+200", FORTY_DIGITS, "1E+999999999999999999"])
def test_an_unstorable_number_makes_the_message_malformed_and_dead_lettered_at_once(
    processor_for, context_message, processor_secrets, literal
):
    processor = processor_for(Channel.SMS)
    message = context_message(Channel.SMS)
    body = queue_body(message).replace('"project_data":{', f'"project_data":{{"salary":{literal},', 1)
    assert json_codec.loads(body)["project_data"]["salary"]  # the raw body an older router queued

    result = processor.deliver(body)

    assert result.failed == [] and result.deleted == result.received  # not retried
    assert processor.all_records() == []
    assert processor.provider_outbox == []
    [line] = [line for line in processor.logs() if line["message"] == "malformed message moved to the DLQ"]
    assert "project_data: INVALID_PROJECT_DATA" in line["reason"]
    dlq = processor.sqs.receive_message(QueueUrl=processor.dlq_url)["Messages"]
    assert [kept["Body"] for kept in dlq] == [body]
