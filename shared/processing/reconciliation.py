"""What a redelivery does with a record left in ``sending``: find out from the provider whether the
unanswered send went out, without ever taking another conversation's message for ours.

A message the provider lists is this conversation's only if its content is ours (the sender's
``find_sent`` matches it), no conversation of the recipient recorded it (this one's earlier
messages included: a reply may repeat an earlier text), and no other conversation of the recipient
has a send with no recorded outcome that could have produced it (a first message in ``sending`` /
``send_unconfirmed``, a reply in ``reply_sending`` / ``reply_unconfirmed``).
When it cannot be told, the send is ``send_unconfirmed`` (alarmed): never a guess, never a resend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.models.conversation import ConversationRecord, ConversationStatus
from shared.processing.errors import ProcessingFailure, ProviderRejected, SendOutcomeUnknown, SendUnconfirmed
from shared.processing.senders import SendReceipt


def find_our_send(
    *,
    record: ConversationRecord,
    provider: str,
    can_reconcile: bool,
    now: datetime,
    started: datetime,
    settle_seconds: float,
    list_sent: Callable[[], list[SendReceipt]],
    other_conversations: Callable[[], list[ConversationRecord]],
) -> SendReceipt | None:
    """The provider's message this conversation's unanswered send created; ``None`` when the
    provider certainly has none (so sending again is safe).

    Raises ``SendOutcomeUnknown`` while the send may still be landing (retry later) and
    ``SendUnconfirmed`` when nobody can tell.
    """
    age = (now - started).total_seconds()
    in_flight = age < settle_seconds
    settled_in = settle_seconds - age  # asking again before then can only give the same answer
    if not can_reconcile:
        if in_flight:
            raise SendOutcomeUnknown(
                "Another delivery's send started moments ago and may still succeed", retry_after_seconds=settled_in
            )
        raise SendUnconfirmed(
            f"A send started {age:.0f} s earlier has no recorded outcome and "
            f"{provider} cannot be asked whether it went out (see send_started_at)"
        )
    try:
        candidates = list_sent()
    except ProviderRejected as refused:
        raise SendUnconfirmed(f"The provider could not be asked whether the send went out: {refused.reason}") from None
    found = _attribute(candidates, record, other_conversations) if candidates else None
    if found is None and in_flight:
        raise SendOutcomeUnknown(
            f"{provider} lists no message yet, but the send started {age:.1f} s ago and may still land",
            retry_after_seconds=settled_in,
        )
    return found


def _attribute(
    candidates: list[SendReceipt],
    record: ConversationRecord,
    other_conversations: Callable[[], list[ConversationRecord]],
) -> SendReceipt | None:
    others = other_conversations()
    taken = set().union(*(recorded_sends(conversation) for conversation in [record, *others]))
    ours = [receipt for receipt in candidates if receipt.provider_message_id not in taken]
    if not ours:
        return None
    rivals = [other for other in others if _may_have_sent_unrecorded(other)]
    if any(_could_be(rival, receipt) for rival in rivals for receipt in ours):
        raise SendUnconfirmed(
            "Another conversation to the same person has a send with no recorded outcome, and its "
            "message could be the one the provider lists"
        )
    if len(ours) > 1:
        raise SendUnconfirmed(f"{len(ours)} messages to the recipient since the send started could be this one")
    return ours[0]


def recorded_sends(record: ConversationRecord) -> set[str]:
    """The provider ids of every message the conversation recorded as sent."""
    ids = {entry.message_id for entry in record.messages if entry.role == "assistant"}
    return ids | ({record.provider_message_id} if record.provider_message_id else set())


def _may_have_sent_unrecorded(record: ConversationRecord) -> bool:
    """A send was started and its provider id never recorded (back in ``ai_generated`` /
    ``reply_generated`` means refused)."""
    if record.conversation_status in _REPLY_SEND_OPEN:
        return True
    return (
        record.send_started_at is not None
        and record.provider_message_id is None
        and record.conversation_status is not ConversationStatus.AI_GENERATED
    )


def _could_be(rival: ConversationRecord, receipt: SendReceipt) -> bool:
    """Whether ``rival``'s content could have produced the listed message (unknown counts as yes)."""
    if rival.conversation_status in _REPLY_SEND_OPEN:
        reply = (rival.reply_content or {}).get("reply")
        return receipt.content is None or not isinstance(reply, str) or receipt.content == reply
    if receipt.content is None or not rival.ai_content:
        return True
    return all(value in receipt.content for value in rival.ai_content.values())


# A reply send was started and its outcome never recorded.
_REPLY_SEND_OPEN = frozenset({ConversationStatus.REPLY_SENDING, ConversationStatus.REPLY_UNCONFIRMED})


def unconfirmed_unless_retried(failure: ProcessingFailure, what: str) -> ProcessingFailure:
    """What a failure met while reconciling an unanswered send becomes.

    Transient failures (retried), malformed messages (DLQ) and ``SendUnconfirmed`` stay as they
    are. A permanent one (the provider secret is gone, say) came before the provider said whether
    the earlier send went out: the person may have the message, so it is ``SendUnconfirmed``, never
    a failure status that says nothing reached them (and, for a reply, never one whose messages
    the next turn would answer a second time).
    """
    if failure.disposition.status in (None, ConversationStatus.SEND_UNCONFIRMED):
        return failure
    return SendUnconfirmed(f"{what} has no recorded outcome and the provider could not be asked: {failure.reason}")
