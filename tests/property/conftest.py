"""The AWS side of the fault schedules: moto in-process, once per test module (each schedule uses a
recipient of its own, so schedules never see each other's records)."""

from __future__ import annotations

import json
import secrets as random_secrets
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.emulator import create_table
from shared import json_codec
from shared.consent.address_hash import CONSENT_KEY_FIELD, forget_cached_keys
from shared.models.company import CompanyRecord
from shared.tables import COMPANY_DATA, CONVERSATIONS, PROVIDER_MESSAGES, SUPPRESSIONS
from tests.property.fault_harness import CONSENT_KEY_SECRET, EXAMPLES, REGION, SUPPRESSIONS_TABLE, InProcessAws


@pytest.fixture(scope="module")
def aws_in_process() -> Any:
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        table = create_table(dynamodb, CONVERSATIONS, "prop")
        messages_table = create_table(dynamodb, PROVIDER_MESSAGES, "prop")
        company_table = create_table(dynamodb, COMPANY_DATA, "prop")
        assert create_table(dynamodb, SUPPRESSIONS, "prop") == SUPPRESSIONS_TABLE
        secrets.create_secret(
            Name=CONSENT_KEY_SECRET, SecretString=json.dumps({CONSENT_KEY_FIELD: random_secrets.token_hex(32)})
        )
        forget_cached_keys()  # this module's moto holds a new key
        item = json.loads((EXAMPLES / "company_record.example.json").read_text())
        company = CompanyRecord.model_validate(item)
        boto3.resource("dynamodb", region_name=REGION).Table(company_table).put_item(
            Item=json_codec.loads(json.dumps(item))
        )
        request = json.loads((EXAMPLES / "initiate_request.example.json").read_text())
        aws = InProcessAws(dynamodb, secrets, table, messages_table, company, request)
        aws["company_table"] = company_table
        yield aws
