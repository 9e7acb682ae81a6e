"""Puts a reply job on the conversation's channel queue, with the attributes that tell a channel
processor it is a reply job (``kind=reply``) and for which channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.channels import Channel
from shared.processing.errors import ProcessingFailure
from shared.replies.reply_job import KIND_ATTRIBUTE, REPLY_KIND, ReplyJob


class QueueUnavailable(ProcessingFailure):
    """SQS refused or could not be reached: the event comes back and queues the job then."""


class ReplyJobQueues:
    def __init__(self, sqs: Any, queue_urls: Mapping[Channel, str]):
        self._sqs = sqs
        self._queue_urls = dict(queue_urls)

    def send(self, job: ReplyJob) -> str:
        """Queue ``job``; returns the SQS message id."""
        try:
            response = self._sqs.send_message(
                QueueUrl=self._queue_urls[job.channel],
                MessageBody=job.to_body(),
                MessageAttributes={
                    KIND_ATTRIBUTE: {"DataType": "String", "StringValue": REPLY_KIND},
                    "channel": {"DataType": "String", "StringValue": job.channel.value},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"The reply job could not be queued: {type(error).__name__}") from None
        return response["MessageId"]
