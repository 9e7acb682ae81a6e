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
