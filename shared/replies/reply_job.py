"""The message the events processor puts on a channel queue when the person's reply is recorded:
"answer this conversation's pending messages". The channel processor (``shared.processing.replies``)
runs the turn; the job only names the conversation and carries the project's configuration as it
was when the reply arrived, so a processor never reads the company table.

A job is safe to deliver any number of times: the turn answers the messages pending on the record
(``answered_through`` < ``inbound_count``), and a job whose message is already answered does nothing.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import json_codec
from shared.channels import Channel
from shared.models.company import ReplyPolicy
from shared.models.context import ProjectSlice
from shared.models.request import Identifier

REPLY_JOB_SCHEMA_VERSION = "1"
# The message attribute that tells a channel processor a body is a reply job, not a context message.
KIND_ATTRIBUTE = "kind"
REPLY_KIND: Final = "reply"


class ReplyJobMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: str = REPLY_JOB_SCHEMA_VERSION
    events_processor_version: str
    queued_at: AwareDatetime
    # API Gateway's request id of the inbound webhook, joining the logs of ingress, events and turn.
    correlation_id: str | None = None
    # The environment's public base URL, for the reply's status callback (as ContextMetadata's).
    callback_base_url: str | None = None


class ReplyJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["reply"] = REPLY_KIND
    channel: Channel
    company_id: Identifier
    project_id: Identifier
    # The conversation's key in the conversations table.
    primary_channel: str = Field(min_length=1)
    conversation_id: str = Field(min_length=1)
    # The inbound message that caused the job (provider id) and its place in the thread.
    inbound_message_id: str = Field(min_length=1)
    inbound_seq: int = Field(ge=1)
    # Whether the AI may answer (the project's auto_queue_reply_message for the address the reply
    # reached), and the limits of the thread.
    auto_reply: bool
    policy: ReplyPolicy
    project: ProjectSlice
    metadata: ReplyJobMetadata

    def to_body(self) -> str:
        return json_codec.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_body(cls, body: str) -> ReplyJob:
        """The queue body as a job; ``ValueError`` (pydantic's included) when it is not one."""
        return cls.model_validate(json_codec.loads(body))


def is_reply_job(body: str, attributes: dict | None = None) -> bool:
    """Whether a channel queue body is a reply job (by its attribute, else by its ``kind``)."""
    attribute = ((attributes or {}).get(KIND_ATTRIBUTE) or {}).get("stringValue")
    if attribute is not None:
        return attribute == REPLY_KIND
    try:
        parsed = json_codec.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("kind") == REPLY_KIND
