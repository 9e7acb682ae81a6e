"""The text fields a channel's message is made of, as its channel configuration declares them; the
processor turns them into the AI's output contract (``shared.processing.output_contracts``)."""

from __future__ import annotations

from dataclasses import dataclass

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
