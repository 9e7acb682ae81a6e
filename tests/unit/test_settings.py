"""Environment settings: one typed object per environment, clear failures otherwise."""

from __future__ import annotations

import json

import pytest

from stacks.settings import CDK_JSON, SettingsError, load_settings


def _cdk_json_with(tmp_path, mutate) -> object:
    document = json.loads(CDK_JSON.read_text())
    mutate(document["context"]["environments"])
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps(document))
    return path


def test_dev_is_the_default_environment():
    assert load_settings(None).name == "dev"


def test_prod_turns_on_every_protection_and_dev_none():
    prod, dev = load_settings("prod"), load_settings("dev")
    assert (prod.protection.point_in_time_recovery, prod.protection.deletion_protection) == (True, True)
    assert prod.protection.removal_policy == "retain"
    assert (dev.protection.point_in_time_recovery, dev.protection.deletion_protection) == (False, False)
    assert dev.protection.removal_policy == "destroy"


def test_both_environments_throttle_at_ten_rps_with_burst_twenty():
    for env in ("dev", "prod"):
        api = load_settings(env).api
        assert (api.throttle_rate_limit, api.throttle_burst_limit) == (10, 20)


def test_unknown_environment_names_the_known_ones():
    with pytest.raises(SettingsError, match=r"Unknown environment 'staging'.*dev, prod"):
        load_settings("staging")


def test_missing_setting_is_named_with_its_path(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["processor"].pop("batch_size"))
    with pytest.raises(SettingsError, match=r"processor\.batch_size: missing"):
        load_settings("dev", cdk_json=path)


def test_unknown_setting_is_rejected_rather_than_ignored(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["prod"]["queues"].update(max_recieve_count=5))
    with pytest.raises(SettingsError, match="max_recieve_count"):
        load_settings("prod", cdk_json=path)


def test_visibility_timeout_shorter_than_six_processor_timeouts_is_rejected(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["queues"].update(visibility_timeout_seconds=300))
    with pytest.raises(SettingsError, match=r"6 x processor\.timeout_seconds"):
        load_settings("dev", cdk_json=path)


def test_dlq_must_keep_messages_longer_than_the_main_queue(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["queues"].update(dlq_retention_days=4))
    with pytest.raises(SettingsError, match="dlq_retention_days"):
        load_settings("dev", cdk_json=path)


def test_no_environment_can_turn_on_api_data_tracing(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["api"].update(data_trace_enabled=True))
    with pytest.raises(SettingsError, match="data_trace_enabled"):
        load_settings("dev", cdk_json=path)


def test_the_events_queue_must_outlive_six_events_processor_timeouts(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["prod"]["events"].update(visibility_timeout_seconds=179))
    with pytest.raises(
        SettingsError, match=r"events\.visibility_timeout_seconds must be >= 6 x events\.timeout_seconds"
    ):
        load_settings("prod", cdk_json=path)


def test_the_events_block_is_required_and_its_fields_named(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["events"].pop("max_concurrency"))
    with pytest.raises(SettingsError, match=r"events\.max_concurrency: missing"):
        load_settings("dev", cdk_json=path)


def test_the_events_processor_needs_a_concurrency_sqs_accepts(tmp_path):
    # An SQS event source's maximum concurrency is at least 2.
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["events"].update(max_concurrency=1))
    with pytest.raises(SettingsError, match=r"events\.max_concurrency"):
        load_settings("dev", cdk_json=path)


def test_the_webhook_ingress_answers_within_api_gateways_limit(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["webhooks"].update(timeout_seconds=30))
    with pytest.raises(SettingsError, match=r"webhooks\.timeout_seconds"):
        load_settings("dev", cdk_json=path)


def test_webhook_reserved_concurrency_may_be_left_out_but_never_zero(tmp_path):
    unreserved = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["webhooks"].update(reserved_concurrency=None))
    assert load_settings("dev", cdk_json=unreserved).webhooks.reserved_concurrency is None
    # Zero would stop the function altogether: every webhook throttled.
    zero = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["webhooks"].update(reserved_concurrency=0))
    with pytest.raises(SettingsError, match=r"webhooks\.reserved_concurrency"):
        load_settings("dev", cdk_json=zero)


def test_both_environments_cap_the_webhook_routes_and_reserve_the_ingress_a_share():
    for env in ("dev", "prod"):
        webhooks = load_settings(env).webhooks
        assert webhooks.reserved_concurrency is not None
        assert webhooks.throttle_burst_limit >= webhooks.throttle_rate_limit


def test_a_public_base_url_must_be_https_without_query(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["api"].update(public_base_url="http://comms.example.com"))
    with pytest.raises(SettingsError, match=r"api\.public_base_url"):
        load_settings("dev", cdk_json=path)


def test_conversations_are_kept_thirty_days_in_dev_and_four_hundred_in_prod():
    assert load_settings("dev").data.conversation_retention_days == 30
    assert load_settings("prod").data.conversation_retention_days == 400


@pytest.mark.parametrize("days", [0, 3651, None])
def test_a_retention_outside_one_day_to_ten_years_is_refused(tmp_path, days):
    path = _cdk_json_with(tmp_path, lambda envs: envs["prod"]["data"].update(conversation_retention_days=days))
    with pytest.raises(SettingsError, match=r"data\.conversation_retention_days"):
        load_settings("prod", cdk_json=path)


def test_the_retention_cannot_be_left_out(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"].pop("data"))
    with pytest.raises(SettingsError, match=r"data: missing"):
        load_settings("dev", cdk_json=path)


def test_the_webhooks_queue_must_outlive_six_sender_timeouts(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["webhook_sender"].update(visibility_timeout_seconds=359))
    with pytest.raises(
        SettingsError,
        match=r"webhook_sender\.visibility_timeout_seconds must be >= 6 x webhook_sender\.timeout_seconds",
    ):
        load_settings("dev", cdk_json=path)


def test_the_reader_answers_within_api_gateways_limit(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["prod"]["reader"].update(timeout_seconds=30))
    with pytest.raises(SettingsError, match=r"reader\.timeout_seconds"):
        load_settings("prod", cdk_json=path)


def test_the_tenant_events_block_is_required_and_its_fields_named(tmp_path):
    path = _cdk_json_with(tmp_path, lambda envs: envs["dev"]["tenant_events"].pop("retry_attempts"))
    with pytest.raises(SettingsError, match=r"tenant_events\.retry_attempts: missing"):
        load_settings("dev", cdk_json=path)
