"""What the sandboxes' person reads from the emulator: the conversation's record (addresses, the
engine's latest message) and the tenant's provider secret (Twilio's auth token to sign with, the
Inbound Parse token of the project's URL), as the engine itself stores them."""

from __future__ import annotations

import json
from typing import Any

from local.emulator import LocalResources
from local.show import find_conversation
from shared import json_codec, tables
from shared.channels import Channel
from shared.models.company import CompanyRecord


class EmulatorDirectory:
    def __init__(self, resources: LocalResources) -> None:
        self._resources = resources

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        item = find_conversation(self._resources.table(tables.CONVERSATIONS.logical_name), conversation_id)
        # Plain JSON values (DynamoDB's Decimals as numbers): the person only reads text fields.
        return None if item is None else json.loads(json_codec.dumps(item))

    def provider_credentials(self, record: dict[str, Any]) -> dict[str, Any]:
        key = {"company_id": record["company_id"], "project_id": record["project_id"]}
        item = self._resources.table(tables.COMPANY_DATA.logical_name).get_item(Key=key).get("Item")
        if item is None:
            raise LookupError(f"no project {key['company_id']}/{key['project_id']}")
        config = CompanyRecord.model_validate(item).channel_config.for_channel(Channel(record["channel_method"]))
        if config is None:
            raise LookupError(f"project {key['company_id']}/{key['project_id']} has no {record['channel_method']}")
        secret = self._resources.client("secretsmanager").get_secret_value(SecretId=config.credentials_secret_id)
        return json.loads(secret["SecretString"])
