"""What a Twilio error code means, for the codes a message's delivery commonly ends with.

A status callback carries ``ErrorCode`` but no text (Twilio's error dictionary holds the text), so
the reason an operator or tenant reads is looked up here. Descriptions follow Twilio's error
dictionary (https://www.twilio.com/docs/api/errors).
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "21211": "Invalid 'To' phone number",
    "21408": "Permission to send to this region is not enabled",
    "21610": "The recipient has replied STOP (unsubscribed)",
    "21614": "'To' number is not a valid mobile number",
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",
    "30008": "Unknown error",
    "30009": "Missing segment",
    "30010": "Message price exceeds max price",
    "63003": "WhatsApp could not find the 'To' address",
    "63014": "The recipient blocked the sender on WhatsApp",
    "63016": "Outside WhatsApp's 24-hour window: only an approved template may be sent",
    "63018": "WhatsApp rate limit exceeded",
    "63021": "WhatsApp refused the message content",
    "63024": "Invalid WhatsApp recipient",
    "63049": "Meta chose not to deliver this WhatsApp marketing message",
}


def describe(code: str | None, message: str | None = None) -> str | None:
    """The reason to record: Twilio's own text when it sent one, else the dictionary's, else the code."""
    if message:
        return message
    if not code:
        return None
    return DESCRIPTIONS.get(code, f"Twilio error {code}")
