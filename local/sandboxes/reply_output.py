"""The fake Responses API's answer to a *reply* prompt (issue 11): a strict schema named
``<channel>_reply`` (``whatsapp_reply``, ``sms_reply``, ``email_reply``) with ``reply``,
``task_complete`` and ``needs_human``.

The answer is deterministic and shows it read the person's last message (the last ``user`` input
item that is not the engine's context block): it quotes the start of it. Two flags follow from
what the person wrote, so a test or a person at ``make reply`` can steer the thread:

- ``needs_human: true`` when the last message asks for a person: the words "human", "person",
  "agent" or "call me";
- ``task_complete: true`` when it says the person is done: "that's all", "that is all", "done",
  "bye" (as in "thanks, bye").

Asking for a person wins when both appear.
"""

from __future__ import annotations

import re
from typing import Any

from local.sandboxes.structured_output import Facts, content_for, fit

REPLY_SCHEMA_SUFFIX = "_reply"
# The engine's context block (shared.processing.ai_writer): data about the thread, not the person's words.
_CONTEXT_MARK = "<context_data>"
_ASKS_FOR_HUMAN = re.compile(r"\b(human|person|agent)s?\b|\bcall me\b", re.IGNORECASE)
_SAYS_DONE = re.compile(r"\bthat(?:'|\u2019|\s+i)?s\s+all\b|\bdone\b|\bbye\b", re.IGNORECASE)
_QUOTE_LENGTH = 60


def is_reply_schema(name: Any) -> bool:
    return isinstance(name, str) and name.endswith(REPLY_SCHEMA_SUFFIX)


def last_person_message(items: Any) -> str:
    """The text of the last ``user`` input item that is not the context block ("" when none)."""
    for item in reversed(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        text = _text_of(item.get("content"))
        if text and _CONTEXT_MARK not in text:
            return text
    return ""


def reply_content(schema: dict[str, Any], facts: Facts, person_said: str) -> dict[str, Any]:
    """A value valid against the reply schema: every property filled, then the three the engine reads."""
    content = content_for(schema, facts)
    properties = schema.get("properties", {})
    needs_human = bool(_ASKS_FOR_HUMAN.search(person_said))
    task_complete = not needs_human and bool(_SAYS_DONE.search(person_said))
    if "reply" in properties:
        content["reply"] = fit(_reply_text(facts, person_said, needs_human, task_complete), properties["reply"])
    if "needs_human" in properties:
        content["needs_human"] = needs_human
    if "task_complete" in properties:
        content["task_complete"] = task_complete
    return content


def _reply_text(facts: Facts, person_said: str, needs_human: bool, task_complete: bool) -> str:
    if needs_human:
        return f"Thanks {facts.first_name}. {facts.rep} from {facts.company} will get in touch with you personally."
    if task_complete:
        return f"Thanks {facts.first_name}, that is everything we needed. {facts.rep} from {facts.company}."
    quote = " ".join(person_said.split())
    if len(quote) > _QUOTE_LENGTH:
        quote = quote[: _QUOTE_LENGTH - 1].rstrip() + "…"
    return (
        f'Thanks {facts.first_name}, you wrote: "{quote}". {facts.rep} from {facts.company} has noted it. '
        f"Is there anything else about {facts.role} you would like to add?"
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
