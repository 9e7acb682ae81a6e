"""DataStack: keys, indexes, billing, encryption and the per-environment protections."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from shared import tables
from stacks.data_stack import CONVERSATION_INDEXES_CONTEXT, DataStack
from stacks.settings import SettingsError, load_settings


def _table(synthesised, name: str) -> dict:
    found = synthesised.template("data").find_resources("AWS::DynamoDB::Table", {"Properties": {"TableName": name}})
    assert len(found) == 1, f"expected one table named {name}"
    return next(iter(found.values()))


def test_company_data_table_is_keyed_by_company_and_project(synthesised):
    table = _table(synthesised, f"ai-multi-comms-company-data-{synthesised.settings.name}")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "company_id", "KeyType": "HASH"},
        {"AttributeName": "project_id", "KeyType": "RANGE"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_conversations_table_has_the_seed_keys_and_every_index(synthesised):
    table = _table(synthesised, f"ai-multi-comms-conversations-{synthesised.settings.name}")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "primary_channel", "KeyType": "HASH"},
        {"AttributeName": "conversation_id", "KeyType": "RANGE"},
    ]
    local = {index["IndexName"]: index for index in table["LocalSecondaryIndexes"]}
    assert {name: index["KeySchema"][1]["AttributeName"] for name, index in local.items()} == {
        "created-at-index": "created_at",
        "task-complete-index": "task_complete",
        "conversation-status-index": "conversation_status",
        "channel-method-index": "channel_method",
    }
    assert all(index["KeySchema"][0]["AttributeName"] == "primary_channel" for index in local.values())
    assert all(index["Projection"] == {"ProjectionType": "KEYS_ONLY"} for index in local.values())

    global_ = {
        index["IndexName"]: (
            [key["AttributeName"] for key in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in table["GlobalSecondaryIndexes"]
    }
    assert global_ == {
        "company-id-project-id-index": (["company_id", "project_id"], "INCLUDE"),
        "company-whatsapp-number-recipient-tel-index": (
            ["gsi_company_whatsapp_number", "gsi_recipient_tel"],
            "KEYS_ONLY",
        ),
        "company-sms-number-recipient-tel-index": (["gsi_company_sms_number", "gsi_recipient_tel"], "KEYS_ONLY"),
        "company-email-recipient-email-index": (["gsi_company_email", "gsi_recipient_email"], "KEYS_ONLY"),
        "reply-token-index": (["gsi_reply_token"], "KEYS_ONLY"),
        "conversation-id-index": (["conversation_id"], "KEYS_ONLY"),
        "project-created-at-index": (["gsi_project_key", "created_at"], "INCLUDE"),
    }
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types["task_complete"] == "N"
    assert types["created_at"] == "S"


def test_rate_limit_counters_expire_by_ttl(synthesised):
    table = _table(synthesised, f"ai-multi-comms-rate-limits-{synthesised.settings.name}")["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "limit_key", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_prod_tables_are_protected_and_retained(prod):
    template = prod.template("data")
    for spec in (tables.COMPANY_DATA, tables.CONVERSATIONS):
        template.has_resource(
            "AWS::DynamoDB::Table",
            {
                "Properties": Match.object_like(
                    {
                        "TableName": f"ai-multi-comms-{spec.logical_name}-prod",
                        "DeletionProtectionEnabled": True,
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    }
                ),
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
            },
        )


def test_dev_tables_are_unprotected_and_destroyable(dev):
    for resource in dev.template("data").find_resources("AWS::DynamoDB::Table").values():
        assert resource["DeletionPolicy"] == "Delete"
        assert resource["Properties"].get("DeletionProtectionEnabled", False) is False
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}


def test_provider_messages_are_keyed_by_provider_and_message_id_expire_by_ttl_and_are_protected_like_records(
    synthesised,
):
    env = synthesised.settings.name
    protection = synthesised.settings.protection
    table = _table(synthesised, f"ai-multi-comms-provider-messages-{env}")
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "provider_message_key", "KeyType": "HASH"}]
    assert "GlobalSecondaryIndexes" not in properties and "LocalSecondaryIndexes" not in properties
    # Unmatched events' items (``unmatched#…``) expire after 30 days; message items with their record.
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # The only way from a provider's message id to its conversation: protected as the records are.
    assert properties["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": protection.point_in_time_recovery
    }
    assert properties.get("DeletionProtectionEnabled", False) is protection.deletion_protection
    assert table["DeletionPolicy"] == ("Retain" if protection.removal_policy == "retain" else "Delete")


def test_the_suppression_list_answers_one_key_lookup_and_is_protected_like_the_records(synthesised):
    env = synthesised.settings.name
    protection = synthesised.settings.protection
    table = _table(synthesised, f"ai-multi-comms-suppressions-{env}")
    properties = table["Properties"]
    # "May company C contact A on X?" is one GetItem: company, then <channel>#<address hash>.
    assert properties["KeySchema"] == [
        {"AttributeName": "company_id", "KeyType": "HASH"},
        {"AttributeName": "suppression_key", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]} == {
        "company_id": "S",
        "suppression_key": "S",
    }
    assert "GlobalSecondaryIndexes" not in properties and "LocalSecondaryIndexes" not in properties
    # Entries are consent history: never expire, restorable and kept as the records are.
    assert "TimeToLiveSpecification" not in properties
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": protection.point_in_time_recovery
    }
    assert properties.get("DeletionProtectionEnabled", False) is protection.deletion_protection
    assert table["DeletionPolicy"] == ("Retain" if protection.removal_policy == "retain" else "Delete")


def test_prod_protects_and_retains_the_suppression_list(prod):
    table = _table(prod, "ai-multi-comms-suppressions-prod")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_conversation_records_expire_by_ttl_on_expires_at(synthesised):
    table = _table(synthesised, f"ai-multi-comms-conversations-{synthesised.settings.name}")["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_consent_key_is_generated_at_deploy_retained_in_every_environment_and_never_rotated(synthesised):
    env = synthesised.settings.name
    template = synthesised.template("data")
    secrets = template.find_resources(
        "AWS::SecretsManager::Secret", {"Properties": {"Name": f"ai-multi-comms/consent-key-{env}"}}
    )
    assert len(secrets) == 1
    (secret,) = secrets.values()
    # Generated by Secrets Manager: the key is in no template and no repository.
    assert "SecretString" not in secret["Properties"]
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["SecretStringTemplate"] == "{}"
    assert generated["GenerateStringKey"] == "hmac_key"
    assert generated["PasswordLength"] >= 32
    # A new key orphans every entry and unsubscribe link: kept even when dev's stack is destroyed.
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert not template.find_resources("AWS::SecretsManager::RotationSchedule")


def test_not_rotating_the_consent_key_is_acknowledged_with_its_reason(dev):
    key = dev.engine.data.consent_key
    acknowledged = {
        rule.removeprefix("Annotation::"): reason
        for construct in key.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in entry.data.items()
    }
    assert set(acknowledged) == {"AwsSolutions-SMG4"}
    assert "orphan every suppression entry" in acknowledged["AwsSolutions-SMG4"]


def _conversation_indexes_with(plan: str | None) -> set[str]:
    context = {} if plan is None else {CONVERSATION_INDEXES_CONTEXT: plan}
    stack = DataStack(cdk.App(context=context), "Data", settings=load_settings("dev"))
    [table] = (
        Template.from_stack(stack)
        .find_resources("AWS::DynamoDB::Table", {"Properties": {"TableName": "ai-multi-comms-conversations-dev"}})
        .values()
    )
    return {index["IndexName"] for index in table["Properties"]["GlobalSecondaryIndexes"]}


def test_an_environment_deployed_before_issue_13_adds_its_two_new_indexes_in_two_deploys():
    # CloudFormation creates one global index per table update: the listing index first
    # (-c conversation_indexes=listing-only), then the id index with the next plain deploy.
    every_index = _conversation_indexes_with(None)
    first_deploy = _conversation_indexes_with("listing-only")
    assert every_index - first_deploy == {tables.CONVERSATION_ID_INDEX}
    assert tables.PROJECT_CREATED_AT_INDEX in first_deploy
    assert _conversation_indexes_with("all") == every_index
    assert every_index == {index.name for index in tables.CONVERSATIONS.global_indexes}


def test_an_unknown_index_plan_is_refused_naming_the_known_ones():
    with pytest.raises(SettingsError, match=r"conversation_indexes='both'.*all, listing-only"):
        _conversation_indexes_with("both")
