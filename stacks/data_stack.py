"""DataStack: the company-data, conversations, rate-limit and provider-messages tables."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared import tables
from stacks.constructs.table import SpecTable
from stacks.settings import EnvironmentSettings


class DataStack(Stack):
    company_data: dynamodb.Table
    conversations: dynamodb.Table
    rate_limits: dynamodb.Table
    provider_messages: dynamodb.Table

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        self.company_data = SpecTable(self, "CompanyData", spec=tables.COMPANY_DATA, settings=settings).table
        self.conversations = SpecTable(self, "Conversations", spec=tables.CONVERSATIONS, settings=settings).table
        self.rate_limits = SpecTable(self, "RateLimits", spec=tables.RATE_LIMITS, settings=settings).table
        self.provider_messages = SpecTable(
            self, "ProviderMessages", spec=tables.PROVIDER_MESSAGES, settings=settings
        ).table
