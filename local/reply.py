"""``python -m local.reply`` (``make reply CONVERSATION=<id> TEXT='…' [TIMES=3]``): the person answers.

Asks the sandbox of the conversation's provider (Twilio for WhatsApp and SMS, SendGrid for email)
to play the person: it posts a signed Twilio inbound webhook, or an Inbound Parse form with the
project's token, to the local API, as the provider would deliver the person's message
(``local.sandboxes.person``). ``--times 3`` delivers the same message three times (a provider's
retries); ``--message-id`` repeats an earlier delivery. Prints what was posted and the API's answers.

Reads ``.local/env`` (written by ``make local``); the values may also come from the environment
(``CONVERSATION``, ``TEXT``, ``TIMES``, ``MEDIA``: what ``make reply`` passes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.show import ENV_FILE, conversation, read_env

SANDBOX_OF = {"whatsapp": "TWILIO_SANDBOX_URL", "sms": "TWILIO_SANDBOX_URL", "email": "SENDGRID_SANDBOX_URL"}


def ask_person(env: dict[str, str], conversation_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, answer) of the person endpoint of the conversation's provider sandbox."""
    record = conversation(env, conversation_id)
    if record is None:
        return 404, {"error": f"no conversation {conversation_id}"}
    variable = SANDBOX_OF.get(str(record.get("channel_method")))
    if variable is None or variable not in env:
        return 409, {"error": f"no sandbox plays the person of a {record.get('channel_method')} conversation here"}
    request = urllib.request.Request(
        f"{env[variable]}/_sandbox/person/reply",
        data=json.dumps({"conversation_id": conversation_id, **body}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.reply", description=__doc__)
    parser.add_argument("--conversation", default=os.environ.get("CONVERSATION") or None)
    parser.add_argument("--text", default=os.environ.get("TEXT", ""))
    parser.add_argument("--times", type=int, default=int(os.environ.get("TIMES") or 1))
    parser.add_argument("--message-id", default=None, help="repeat this earlier delivery (its MessageSid/Message-ID)")
    media = os.environ.get("MEDIA", "")
    parser.add_argument(
        "--media", nargs="*", default=media.split(",") if media else [], help="attachments' content types"
    )
    parser.add_argument("--env-file", type=Path, default=ENV_FILE)
    args = parser.parse_args(argv)
    if not args.conversation or not (args.text or args.media):
        parser.error("give a conversation and a text: make reply CONVERSATION=<id> TEXT='…'")
    body: dict[str, Any] = {"text": args.text, "times": args.times, "media": args.media}
    if args.message_id:
        body["message_id"] = args.message_id
    status, answer = ask_person(read_env(args.env_file), args.conversation, body)
    if status != 200:
        print(f"error: {answer.get('error', answer)}", file=sys.stderr)
        return 1
    print(f"{answer['channel']}: {answer['message_id']} from {answer['from']} to {answer['to']}")
    for number, post in enumerate(answer["posts"], start=1):
        print(f"  delivery {number}: HTTP {post['http_status'] or '-'}{' ' + post['error'] if post['error'] else ''}")
    print(f"See the thread: make show WHAT=conversation CONVERSATION={args.conversation}")
    return 0 if all(post["http_status"] and 200 <= post["http_status"] < 300 for post in answer["posts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
