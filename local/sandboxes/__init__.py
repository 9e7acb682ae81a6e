"""Provider sandboxes: local HTTP servers that speak the parts of the OpenAI Responses, Twilio
Messages and SendGrid Mail Send APIs the engine uses, so the real SDKs can be pointed at them.

Each records requests (credentials only as fingerprints), keeps an outbox of what would have
reached a person, and takes scripted outcomes and latency from Python or over HTTP
(``/_sandbox/*``) for tests in another process. Twilio and SendGrid also call back: signed
status callbacks and Event Webhook batches, scriptable the same two ways
(``local.sandboxes.callback_sandbox``), and play the person who answers: a signed inbound webhook
or an Inbound Parse form to the engine's inbound routes (``local.sandboxes.person``).
"""

from __future__ import annotations

from dataclasses import dataclass

from local.sandboxes.base import RecordedRequest, Sandbox, fingerprint
from local.sandboxes.callbacks import DEFAULT_DELAY, CallbackScript, PostedCallback
from local.sandboxes.openai_responses import FakeOpenAI
from local.sandboxes.outcomes import InvalidOutcome, Outcome
from local.sandboxes.sendgrid_mail import FakeSendGrid
from local.sandboxes.twilio_messages import FakeTwilio

__all__ = [
    "CallbackScript",
    "FakeOpenAI",
    "FakeSendGrid",
    "FakeTwilio",
    "InvalidOutcome",
    "Outcome",
    "PostedCallback",
    "RecordedRequest",
    "Sandbox",
    "Sandboxes",
    "fingerprint",
    "start_all",
]


@dataclass(frozen=True)
class Sandboxes:
    openai: FakeOpenAI
    twilio: FakeTwilio
    sendgrid: FakeSendGrid

    def __iter__(self):
        return iter((self.openai, self.twilio, self.sendgrid))

    def reset(self) -> None:
        for sandbox in self:
            sandbox.reset()

    def stop(self) -> None:
        for sandbox in self:
            sandbox.stop()


def start_all(
    *,
    latency: float = 0.0,
    ports: dict[str, int] | None = None,
    callback_delay: float = DEFAULT_DELAY,
    whatsapp_window: bool = False,
) -> Sandboxes:
    """Start the three sandboxes; ``ports`` maps "openai"/"twilio"/"sendgrid" to a port (0 = any free);
    ``callback_delay`` is Twilio's and SendGrid's time before and between callbacks (what reset keeps);
    ``whatsapp_window`` makes Twilio refuse free-form WhatsApp outside the 24-hour window (63016)."""
    ports = ports or {}
    started: list[Sandbox] = []
    try:
        started.append(FakeOpenAI(port=ports.get("openai", 0), latency=latency).start())
        twilio = FakeTwilio(
            port=ports.get("twilio", 0), latency=latency, callback_delay=callback_delay, whatsapp_window=whatsapp_window
        )
        started.append(twilio.start())
        started.append(
            FakeSendGrid(port=ports.get("sendgrid", 0), latency=latency, callback_delay=callback_delay).start()
        )
    except OSError:
        for sandbox in started:
            sandbox.stop()
        raise
    openai, twilio, sendgrid = started
    return Sandboxes(openai=openai, twilio=twilio, sendgrid=sendgrid)
