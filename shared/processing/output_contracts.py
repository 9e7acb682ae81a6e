"""What the AI must return for each channel (DESIGN §6), as one spec that yields both the strict JSON
schema sent to the Responses API and the check the answer must pass before it is used.

Every output is a flat object of text fields. Length limits are not put in the schema (strict
structured output does not enforce them); the schema's descriptions tell the model, and
``OutputContract.check`` enforces them on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.channels import Channel
from shared.models.company import EmailConfig, SmsConfig, WhatsAppConfig
from shared.models.context import ContextMessage
from shared.processing.errors import AiConfigurationInvalid

# Meta rejects template variables with line breaks or tabs, and longer than 1024 characters.
WHATSAPP_VARIABLE_MAX = 1024
EMAIL_SUBJECT_MAX = 150
EMAIL_BODY_MAX = 20_000


@dataclass(frozen=True)
class TextField:
    name: str
    description: str
    max_length: int
    single_line: bool = False


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
    config = message.project.channel_config
    if message.channel is Channel.WHATSAPP and isinstance(config, WhatsAppConfig):
        variables = config.content_template.variables
        if not variables:
            raise AiConfigurationInvalid(
                "channel_config.whatsapp.content_template.variables is empty: name each variable of the "
                "approved template (e.g. {'1': 'recipient first name'}) so the AI knows what to write"
            )
        return OutputContract(
            name="whatsapp_template_variables",
            fields=tuple(
                TextField(name, description, WHATSAPP_VARIABLE_MAX, single_line=True)
                for name, description in sorted(variables.items(), key=lambda item: _variable_order(item[0]))
            ),
        )
    if message.channel is Channel.SMS and isinstance(config, SmsConfig):
        limit = message.project.rate_limits.max_message_length
        return OutputContract(name="sms_message", fields=(TextField("body", "The text of the SMS.", limit),))
    if message.channel is Channel.EMAIL and isinstance(config, EmailConfig):
        return OutputContract(
            name="email_message",
            fields=(
                TextField("subject", "The email's subject line.", EMAIL_SUBJECT_MAX, single_line=True),
                TextField("body", "The email's plain-text body.", EMAIL_BODY_MAX),
            ),
        )
    raise AiConfigurationInvalid(f"The message's channel configuration does not match the {message.channel} channel")


def _variable_order(name: str) -> tuple[int, str]:
    # Twilio numbers template variables "1", "2", ...; "10" comes after "9".
    return (int(name), "") if name.isdigit() else (1_000_000, name)
