"""What a turn does with the person's consent keywords (issue 12): the events processor marks a
whole-message STOP / START / HELP on its entry (``MessageEntry.consent_keyword``); the turn reads
the messages it claimed (``answered_through`` < seq <= ``reply_through``).

- HELP among them and the project has ``consent.help_text``: the reply is the help text, with no
  AI call, and it answers every claimed message (the person asked what this is; what else they
  wrote is answered by the AI on their next message). No help text: HELP is an ordinary message.
- An opt-out keyword (after any START among them): never answered; the turn ends ``suppressed``.
"""

from __future__ import annotations

from shared.consent.keywords import ConsentKeyword
from shared.models.context import ProjectSlice
from shared.models.conversation import ConversationRecord, MessageEntry

# ``reply_content["source"]`` of a reply that is the project's help text, not the AI's answer.
HELP_TEXT = "help_text"


def claimed_messages(record: ConversationRecord) -> list[MessageEntry]:
    """The person's messages this turn answers, in order."""
    through = record.reply_through if record.reply_through is not None else record.inbound_count
    return [
        entry
        for entry in record.messages
        if entry.role == "user"
        and entry.inbound_seq is not None
        and record.answered_through < entry.inbound_seq <= through
    ]


def help_text_due(record: ConversationRecord, project: ProjectSlice) -> str | None:
    """The help text when it is the turn's reply, else None."""
    help_text = project.consent.help_text
    if not help_text:
        return None
    asked = any(entry.consent_keyword == ConsentKeyword.HELP for entry in claimed_messages(record))
    return help_text if asked else None


def opt_out_pending(record: ConversationRecord) -> bool:
    """The latest opt-out / opt-in keyword the turn claimed is an opt-out."""
    stances = (ConsentKeyword.OPT_OUT, ConsentKeyword.OPT_IN)
    keywords = [e.consent_keyword for e in claimed_messages(record) if e.consent_keyword in stances]
    return bool(keywords) and keywords[-1] == ConsentKeyword.OPT_OUT
