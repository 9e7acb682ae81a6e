"""The AI's output contract per channel: one spec gives the strict schema and the second check."""

from __future__ import annotations

import pytest

from shared.channels import Channel
from shared.models.output_fields import TextField
from shared.processing.errors import AiConfigurationInvalid
from shared.processing.output_contracts import OutputContract, OutputInvalid, contract_for
from tests.unit.processing_messages import context_message


def test_whatsapp_asks_for_exactly_the_templates_variables_in_twilios_order():
    message = context_message(
        Channel.WHATSAPP,
        variables={"10": "sign-off", "2": "job role", "1": "recipient first name"},
    )

    schema = contract_for(message).json_schema()

    assert list(schema["properties"]) == ["1", "2", "10"]
    assert schema["required"] == ["1", "2", "10"] and schema["additionalProperties"] is False
    assert schema["properties"]["2"]["description"].startswith("job role")
    assert "no line breaks" in schema["properties"]["2"]["description"]


def test_a_whatsapp_template_without_variables_is_a_configuration_error():
    with pytest.raises(AiConfigurationInvalid, match=r"content_template\.variables is empty"):
        contract_for(context_message(Channel.WHATSAPP, variables={}))


def test_sms_takes_its_length_limit_from_the_projects_rate_limits():
    contract = contract_for(context_message(Channel.SMS, max_message_length=70))

    assert contract.json_schema()["properties"]["body"]["description"].endswith("At most 70 characters.")
    assert contract.check({"body": "x" * 70}) == {"body": "x" * 70}
    with pytest.raises(OutputInvalid, match="71 characters, at most 70"):
        contract.check({"body": "x" * 71})


def test_email_asks_for_a_one_line_subject_and_a_body():
    contract = contract_for(context_message(Channel.EMAIL))

    assert contract.json_schema()["required"] == ["subject", "body"]
    with pytest.raises(OutputInvalid, match="'subject' must be one line"):
        contract.check({"subject": "Hello\nthere", "body": "text"})


CONTRACT = OutputContract("t", (TextField("a", "first", 10), TextField("b", "second", 10, single_line=True)))


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (["a", "b"], "not a JSON object"),
        ({"a": "x"}, "expected"),
        ({"a": "x", "b": "y", "c": "z"}, "expected"),
        ({"a": "x", "b": 3}, "'b' is not a non-empty string"),
        ({"a": "   ", "b": "y"}, "'a' is not a non-empty string"),
        ({"a": "x", "b": "y\ty"}, "'b' must be one line"),
    ],
)
def test_an_answer_that_breaks_the_contract_is_refused_with_the_reason(answer, problem):
    with pytest.raises(OutputInvalid, match=problem):
        CONTRACT.check(answer)


def test_a_valid_answer_is_returned_trimmed():
    assert CONTRACT.check({"a": " x ", "b": "y"}) == {"a": "x", "b": "y"}
