"""QueueStack: one main queue and one DLQ per channel."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from shared.channels import ALL_CHANNELS, Channel
from stacks.constructs.channel_queue import ChannelQueue
from stacks.settings import EnvironmentSettings


class QueueStack(Stack):
    channel_queues: dict[Channel, ChannelQueue]

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        self.channel_queues = {
            channel: ChannelQueue(self, f"{channel.value.capitalize()}", channel=channel.value, settings=settings)
            for channel in ALL_CHANNELS
        }
