"""What the AI is told, and which configurations cannot be used any more."""

from __future__ import annotations

import json

import pytest

from shared.channels import Channel
from shared.models.company import OpenAiChannelConfig
from shared.processing.ai_writer import ai_input, responses_config
from shared.processing.errors import AiConfigurationInvalid
from tests.unit.processing_messages import context_message


@pytest.mark.parametrize("channel", list(Channel))
def test_the_ai_input_has_names_company_contacts_and_project_data_but_no_contact_details(channel):
    message = context_message(channel)

    text = ai_input(message)
    data = json.loads(text)

    assert data["recipient"] == {"recipient_first_name": "Alex", "recipient_last_name": "Morgan"}
    assert data["company"]["company_name"] == "Cucumber Recruitment"
    assert data["company"]["company_representatives"] == ["Carol"]
    assert data["company_contact_channels"]["sms"] == "+447700900002"
    assert data["project_data"]["jobRole"] == "Healthcare Assistant"
    for private in ("+447700900123", "alex.morgan@example.com", "consent"):
        assert private not in text


def test_a_config_with_only_an_assistant_id_fails_with_a_migration_message():
    config = OpenAiChannelConfig.model_validate(
        {"api_key_reference": "ai-multi-comms/openai-api-key/sms-dev", "assistant_id_template_sender": "asst_1"}
    )

    with pytest.raises(AiConfigurationInvalid) as failure:
        responses_config(config, "sms")

    reason = failure.value.reason
    assert "assistant_id_template_sender" in reason and "shut down on 26 August 2026" in reason
    assert "ai_config.openai_config.sms" in reason and "'template_sender'" in reason


def test_a_config_with_model_and_instructions_is_used_even_if_old_assistant_ids_remain():
    config = OpenAiChannelConfig.model_validate(
        {
            "api_key_reference": "ai-multi-comms/openai-api-key/sms-dev",
            "assistant_id_template_sender": "asst_1",
            "model": "gpt-5-mini",
            "template_sender": {"prompt_version": "1", "instructions": "Be brief."},
        }
    )

    assert responses_config(config, "sms").model == "gpt-5-mini"
