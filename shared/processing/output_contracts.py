"""What the AI must return for each channel (DESIGN §6), as one spec that yields both the strict JSON
schema sent to the Responses API and the check the answer must pass before it is used.

Every output is a flat object of text fields. Length limits are not put in the schema (strict
structured output does not enforce them); the schema's descriptions tell the model, and
``OutputContract.check`` enforces them on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.models.context import ContextMessage
from shared.models.output_fields import TextField
from shared.processing.errors import AiConfigurationInvalid


class OutputInvalid(ValueError):
    """The answer does not satisfy the contract; the message says how, never what was written."""


@dataclass(frozen=True)
class OutputContract:
    name: str  # the schema name the Responses API is given
    fields: tuple[TextField, ...]

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f.name: {"type": "string", "description": _describe(f)} for f in self.fields},
            "required": [f.name for f in self.fields],
            "additionalProperties": False,
        }

    def check(self, answer: Any) -> dict[str, str]:
        """The answer as ``{field: text}`` when it satisfies every rule; else ``OutputInvalid``."""
        if not isinstance(answer, dict):
            raise OutputInvalid("the output is not a JSON object")
        expected = {f.name for f in self.fields}
        if set(answer) != expected:
            raise OutputInvalid(f"the output has fields {sorted(answer)}, expected {sorted(expected)}")
        checked: dict[str, str] = {}
        for field in self.fields:
            value = answer[field.name]
            if not isinstance(value, str) or not value.strip():
                raise OutputInvalid(f"{field.name!r} is not a non-empty string")
            if len(value) > field.max_length:
                raise OutputInvalid(f"{field.name!r} has {len(value)} characters, at most {field.max_length} allowed")
            if field.single_line and any(c in value for c in "\n\r\t"):
                raise OutputInvalid(f"{field.name!r} must be one line without tabs")
            checked[field.name] = value.strip()
        return checked


def _describe(field: TextField) -> str:
    rules = f"At most {field.max_length} characters."
    if field.single_line:
        rules += " One line: no line breaks or tabs."
    return f"{field.description} {rules}"


def contract_for(message: ContextMessage) -> OutputContract:
    """The contract of the fields the message's channel configuration declares."""
    config = message.project.channel_config
    if config.channel is not message.channel:
        raise AiConfigurationInvalid(
            f"The message's channel configuration does not match the {message.channel} channel"
        )
    try:
        fields = config.output_fields(message.project.rate_limits)
    except ValueError as error:
        raise AiConfigurationInvalid(str(error)) from None
    return OutputContract(name=config.output_name, fields=fields)
