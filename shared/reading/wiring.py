"""Builds a ``ConversationReader`` with its AWS clients from the reader's settings."""

from __future__ import annotations

import boto3

from shared.reading.conversation_store import ConversationStore
from shared.reading.reader import ConversationReader
from shared.reading.settings import ReaderSettings
from shared.routing.company_directory import CompanyDirectory
from shared.routing.wiring import AWS_CLIENT_CONFIG


def build_reader(settings: ReaderSettings, region: str | None = None) -> ConversationReader:
    session = boto3.session.Session(region_name=region)
    dynamodb = session.client("dynamodb", config=AWS_CLIENT_CONFIG)
    return ConversationReader(
        directory=CompanyDirectory(dynamodb, settings.company_table_name),
        store=ConversationStore(dynamodb, settings.conversations_table_name),
        secrets=session.client("secretsmanager", config=AWS_CLIENT_CONFIG),
        consent_key_secret_id=settings.consent_key_secret_id,
    )
