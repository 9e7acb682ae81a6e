"""One batch of the conversations table's stream: each change's events published, in order.

Records of one item come in order within a shard, and so must their events: at the first record
that fails, the batch stops and reports that record (``batchItemFailures``), so Lambda retries
from it and nothing after it is published first.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.log_masking import describe_error, masked_traceback
from shared.tenant_events.publisher import TenantEventPublisher
from shared.tenant_events.stream_records import change_of


def process_stream_batch(event: dict[str, Any], publisher: TenantEventPublisher, logger: Any) -> dict:
    for stream_record in event.get("Records", []):
        sequence_number = stream_record["dynamodb"]["SequenceNumber"]
        try:
            change = change_of(stream_record)
        except ValidationError as error:
            # Not a conversation record: no retry can change that, and retrying would hold back
            # every later change of the shard. Reported, and passed.
            logger.error("unreadable conversation change; no events", extra={"why": describe_error(error)})
            continue
        record = change.new or change.old
        ids = {"company_id": record.company_id, "project_id": record.project_id} if record else {}
        try:
            published = publisher.publish(change)
        except Exception as error:  # any failure: Lambda retries the batch from this record
            logger.warning(
                "tenant events not published; retrying from this change",
                extra={**ids, "why": describe_error(error), "where": masked_traceback(error)},
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
        if published.webhook_problem:
            logger.error(
                "the project's webhook is invalid; its events go to the DLQ until it is fixed",
                extra={**ids, "why": published.webhook_problem},
            )
        if published.queued:
            logger.info(
                "tenant events queued",
                extra={
                    **ids,
                    "request_id": record.request_id if record else None,
                    "event_types": [event.type.value for event in published.events],
                    "newly_logged": published.newly_logged,
                },
            )
    return {"batchItemFailures": []}
