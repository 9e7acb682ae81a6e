"""The world a fault schedule runs in, shared by the property tests of this package.

What runs for real: the code under test on boto3 against moto in-process (``conftest.py``), the
real channel adapters and the real Twilio/SendGrid senders. Faked at the outermost boundary: the
providers' SDK clients, the AI and SQS (a queue model with visibility expiry, ``maxReceiveCount`` 3
and a DLQ). Every call to DynamoDB, Secrets Manager, SQS, the AI and the providers passes a
turnstile: each delivery runs in its own thread, but only the one the drawn schedule names may pass
its next call, and the schedule also draws what happens there (nothing, a transient error, a
permanent one, a crash before or after the call, an answer lost after the call took effect, or the
heartbeat failing so SQS hands the message to a second consumer). Concurrent duplicate deliveries
are thus interleaved deterministically, and a failure shrinks to a short, readable schedule.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import urllib.error
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError
from hypothesis import strategies as st
from python_http_client import exceptions as http_errors
from twilio.base.exceptions import TwilioRestException

from shared.channels import Channel
from shared.consent.address_hash import AddressHasher
from shared.events.applier import EventApplier
from shared.events.envelope import EventKind, ProviderEvent
from shared.events.envelope import Provider as ProviderName
from shared.events.provider_messages import ProviderMessages
from shared.events.settings import EventsSettings
from shared.events.suppression_writes import EventSuppressions
from shared.models.company import CompanyRecord
from shared.models.conversation import ConversationStatus, TokenUsage
from shared.models.request import InitiateRequest
from shared.processing.adapters.email import EmailChannel
from shared.processing.adapters.twilio_channels import SmsChannel, WhatsAppChannel
from shared.processing.ai_writer import AiDraft
from shared.processing.conversation_repository import ConversationRepository
from shared.processing.credentials import SecretReader
from shared.processing.errors import AiRejected, AiUnavailable
from shared.processing.pipeline import Pipeline
from shared.processing.recipient_consent import RecipientConsent
from shared.processing.senders.twilio_messages import TwilioMessages
from shared.processing.settings import ProcessorSettings
from shared.processing.wakeups import Wakeups
from shared.routing.context_builder import build_context, queue_body
from shared.secret_names import credentials_secret_prefix, openai_secret_prefix

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGION = "eu-west-2"
MAX_RECEIVES = 3  # the queues' redrive policy
VISIBILITY_SECONDS = 720
ENVIRONMENT = "dev"  # the secret names of the example record are dev's
# Consent (issue 12): the pipeline's suppression list lives in these (created by the harness).
SUPPRESSIONS_TABLE = "ai-multi-comms-suppressions-prop"
CONSENT_KEY_SECRET = "ai-multi-comms/consent-key-prop"
RETENTION_DAYS = 30
HARNESS_CONSENT_KEY = AddressHasher(b"fault-harness-consent-key-fake-0000")
SCHEDULER_GROUP = "ai-multi-comms-schedules-prop"
SCHEDULER_ROLE_ARN = "arn:aws:iam::000000000000:role/ai-multi-comms-wakeup-scheduler-prop"
_S = ConversationStatus

OK, TRANSIENT, PERMANENT, CRASH, CRASH_AFTER, LOST, HEARTBEAT, INJECTED = (
    "ok",
    "transient",
    "permanent",
    "crash",
    "crash after",
    "answer lost",
    "heartbeat lost",
    "obeyed an injection",  # the AI wrote a link the project never supplied: refused before the send
)
PERMANENT_FAULTS = {PERMANENT, INJECTED}
# What may happen at each boundary; "ok" first so schedules shrink towards no fault, and repeated
# so most calls succeed and schedules reach the later steps.
_CALM = (OK,) * 20
FAULTS: dict[str, tuple[str, ...]] = {
    "record create": (*_CALM, TRANSIENT, CRASH, LOST, CRASH_AFTER, HEARTBEAT),
    "record update": (*_CALM, TRANSIENT, CRASH, LOST, CRASH_AFTER, HEARTBEAT),
    "record read": (*_CALM, TRANSIENT, HEARTBEAT),
    "credentials": (*_CALM, TRANSIENT, PERMANENT, CRASH, HEARTBEAT),
    "ai": (*_CALM, TRANSIENT, PERMANENT, INJECTED, CRASH, HEARTBEAT),
    "send": (*_CALM, TRANSIENT, PERMANENT, LOST, CRASH, CRASH_AFTER, HEARTBEAT),
    "lookup": (*_CALM, TRANSIENT, CRASH, HEARTBEAT),
    "message put": (*_CALM, TRANSIENT, CRASH, LOST, CRASH_AFTER, HEARTBEAT),
    "message read": (*_CALM, TRANSIENT, CRASH),
    # Every write of the events processor (the message's item, the record, an unmatched event).
    "event write": (*_CALM, TRANSIENT, CRASH, LOST, CRASH_AFTER, HEARTBEAT),
}
# What a provider may report about a message it accepted (a failure may be followed by a delivery).
REPORTS: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: ("sent", "delivered", "undelivered"),
    Channel.WHATSAPP: ("sent", "delivered", "read", "failed"),
    Channel.EMAIL: ("processed", "deferred", "delivered", "bounce", "open"),
}
_recipients = itertools.count(1)


class Crash(BaseException):
    """The delivery dies here (a Lambda timeout or kill): nothing settles it, SQS brings it back."""


# -- the world one schedule runs in ----------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class QueueMessage:
    conversation: int
    body: str
    receives: int = 0
    event: bool = False  # a provider event on the events queue (else a context message or a reply job)
    attributes: dict[str, Any] = field(default_factory=dict)  # as a Lambda's SQS record carries them
    deleted: bool = False
    dead: bool = False  # moved to the DLQ


@dataclass
class Delivery:
    number: int
    message: QueueMessage
    faults: list[tuple[str, str]] = field(default_factory=list)
    outcome: Any = None
    crashed: bool = False
    error: BaseException | None = None


@dataclass
class Accepted:
    conversation: int
    provider_message_id: str
    body: str
    to: str
    sender: str
    created: datetime


class Turnstile:
    """Lets exactly one delivery thread pass its next boundary call: the one the schedule draws.

    Each delivery thread parks at every boundary and waits for its own semaphore; the controller
    (the test's thread, the only one that draws) waits until every running thread has parked or
    ended, then releases one. So exactly one thread runs at a time, in the drawn order.
    """

    def __init__(self, draw: Any, clock: Clock, spawn: Any, faults: dict[str, tuple[str, ...]]):
        self._draw = draw
        self._faults = faults
        self._clock = clock
        self._spawn = spawn
        self._reported: queue.SimpleQueue[int] = queue.SimpleQueue()  # a thread parked or ended
        self._running = 0  # threads released and not yet reported (touched by the controller only)
        self._parked: dict[int, str] = {}
        self._go: dict[int, threading.Lock] = {}  # held until the controller lets the thread go
        self._fault: dict[int, str] = {}
        self._local = threading.local()
        self.deliveries: dict[int, Delivery] = {}  # this round's
        self.deliveries_seen: dict[int, Delivery] = {}  # earlier rounds'
        self.calm = False  # grant every call without a fault (a redrive)
        self.arrivals: list[Any] = []  # events the provider reported, delivered as soon as they are queued

    @property
    def delivery(self) -> Delivery:
        return self._local.delivery

    def gate(self, point: str) -> str:
        delivery = self._local.delivery
        self._parked[delivery.number] = point
        self._reported.put(delivery.number)
        if not self._go[delivery.number].acquire(timeout=30):
            raise Crash  # the controller gave up on this schedule
        fault = self._fault.pop(delivery.number)
        delivery.faults.append((point, fault))
        return fault

    def start(self, delivery: Delivery, work: Any) -> None:
        def run() -> None:
            self._local.delivery = delivery
            try:
                work(delivery)
            except Crash:
                delivery.crashed = True
            except BaseException as error:  # a bug: reported by the test
                delivery.error = error
            finally:
                self._reported.put(delivery.number)

        self.deliveries[delivery.number] = delivery
        self._go[delivery.number] = go = threading.Lock()
        go.acquire()
        self._running += 1
        threading.Thread(target=run, daemon=True).start()

    def run(self) -> None:
        while True:
            while self._running:
                self._reported.get(timeout=30)  # queue.Empty: a delivery neither reached a boundary nor ended
                self._running -= 1
            if self.arrivals:
                for message in self.arrivals:
                    self._spawn(message)
                self.arrivals.clear()
                continue
            if not self._parked:
                return
            parked = sorted(self._parked)
            if self.calm:
                number, fault = parked[0], OK
            else:
                if len(parked) > 1:
                    number = parked[self._draw(st.integers(0, len(parked) - 1), label=f"next of deliveries {parked}")]
                else:
                    number = parked[0]
                point = self._parked[number]
                fault = self._draw(st.sampled_from(self._faults[point]), label=f"delivery {number} at {point}")
            del self._parked[number]
            if fault == HEARTBEAT:
                self._spawn(self.deliveries[number].message)
                fault = OK
            self._clock.advance(0.01)
            self._fault[number] = fault
            self._running += 1
            self._go[number].release()


class Watched:
    """The DynamoDB client with every write that may move a delivery status watched: ``history[(table,
    key)]`` lists the (rank, status) the item or record showed after each such write (the write's
    own answer, asked for ``ALL_NEW``, so watching costs no call)."""

    def __init__(self, client: Any, history: dict[tuple[str, str], list[tuple[int, str | None]]]):
        self._client, self._history = client, history

    def __getattr__(self, operation: str) -> Any:
        call = getattr(self._client, operation)
        if operation not in ("update_item", "put_item"):
            return call

        def watched(**kwargs: Any) -> Any:
            if operation == "put_item":
                result = call(**kwargs)
                item = kwargs["Item"]
                if "provider_message_key" in item:
                    self._see(kwargs["TableName"], {"provider_message_key": item["provider_message_key"]}, item)
                return result
            names = kwargs.get("ExpressionAttributeNames", {}).values()
            if "delivery_rank" not in kwargs["UpdateExpression"] and "delivery_rank" not in names:
                return call(**kwargs)
            result = call(**{**kwargs, "ReturnValues": "ALL_NEW"})
            self._see(kwargs["TableName"], kwargs["Key"], result["Attributes"])
            return result

        return watched

    def _see(self, table: str, key: dict[str, Any], item: dict[str, Any]) -> None:
        rank = int(item["delivery_rank"]["N"]) if "delivery_rank" in item else 0
        status = item["delivery_status"]["S"] if "delivery_status" in item else None
        self._history.setdefault((table, key_text(key)), []).append((rank, status))


def key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


class GatedAws:
    """A boto3 client whose calls pass the turnstile; the drawn fault happens around the real call."""

    def __init__(self, client: Any, turnstile: Turnstile, points: dict[str, str], transient: str):
        self._client, self._turnstile, self._points, self._transient = client, turnstile, points, transient

    def __getattr__(self, operation: str) -> Any:
        call = getattr(self._client, operation)
        point = self._points.get(operation)
        if point is None:
            return call

        def gated(**kwargs: Any) -> Any:
            fault = self._turnstile.gate(point)
            if fault == TRANSIENT:
                raise client_error(self._transient, operation)
            if fault == PERMANENT:
                raise client_error("ResourceNotFoundException", operation)
            if fault == CRASH:
                raise Crash
            if fault == LOST:  # applied, the answer lost, the call retried by botocore
                call(**kwargs)
            result = call(**kwargs)
            if fault == CRASH_AFTER:
                raise Crash
            return result

        return gated


class Provider:
    """What the provider accepted, for whom; the SDK clients below are its only doors. Each message it
    accepts is reported by the statuses drawn for its conversation, queued as events at once."""

    def __init__(self, turnstile: Turnstile, clock: Clock):
        self.turnstile, self.clock = turnstile, clock
        self.accepted: list[Accepted] = []
        self.report: Any = None  # (Accepted) -> None: queue the message's status events

    def accept(self, to: str, sender: str, body: str) -> Accepted:
        message = Accepted(
            self.turnstile.delivery.message.conversation,
            "SM" + uuid.uuid4().hex,
            body,
            to,
            sender,
            self.clock(),
        )
        self.accepted.append(message)
        self.report(message)
        return message

    def sent_to(self, conversation: int) -> list[Accepted]:
        return [m for m in self.accepted if m.conversation == conversation]


class FakeTwilioClient:
    """``client.messages.create/list`` of the Twilio SDK, as Twilio answers them."""

    def __init__(self, provider: Provider):
        self.messages = self
        self._provider = provider

    def create(self, *, to: str, from_: str, body: str | None = None, **template: str) -> Any:
        fault = self._provider.turnstile.gate("send")
        if fault == TRANSIENT:
            raise TwilioRestException(429, "/Messages.json", "Too Many Requests", code=20429, method="POST")
        if fault == PERMANENT:
            # A refusal about the sender: one about the person's address (21211, 21610) would also
            # suppress them (issue 12) and end the schedule's other conversations to them ``suppressed``.
            raise TwilioRestException(400, "/Messages.json", "Invalid 'From' Phone Number", code=21212, method="POST")
        if fault == CRASH:
            raise Crash
        if body is None:  # a Content template: Twilio lists its text with the variables filled in
            variables = json.loads(template["content_variables"])
            body = "Template: " + " / ".join(variables[k] for k in sorted(variables))
        accepted = self._provider.accept(to, from_, body)
        if fault == LOST:
            raise requests.ReadTimeout("injected: no answer")
        if fault == CRASH_AFTER:
            raise Crash
        return _Listed(accepted)

    def list(self, *, to: str, from_: str, limit: int) -> list[Any]:
        fault = self._provider.turnstile.gate("lookup")
        if fault == TRANSIENT:
            raise requests.ConnectionError("injected")
        if fault == CRASH:
            raise Crash
        found = [m for m in reversed(self._provider.accepted) if (m.to, m.sender) == (to, from_)]
        return [_Listed(m) for m in found[:limit]]


class _Listed:
    status = "queued"

    def __init__(self, message: Accepted):
        self.sid, self.body, self.date_created = message.provider_message_id, message.body, message.created


class FakeSendGridClient:
    def __init__(self, provider: Provider):
        self._provider = provider

    def send(self, mail: Any) -> Any:
        fault = self._provider.turnstile.gate("send")
        if fault == TRANSIENT:
            raise urllib.error.URLError(ConnectionRefusedError("injected"))
        if fault == PERMANENT:
            raise http_errors.BadRequestsError(400, "Bad Request", b'{"errors":[{"message":"invalid"}]}', {})
        if fault == CRASH:
            raise Crash
        payload = mail.get()
        accepted = self._provider.accept(payload["personalizations"][0]["to"][0]["email"], "", json.dumps(payload))
        if fault == LOST:
            raise TimeoutError("injected: no answer")
        if fault == CRASH_AFTER:
            raise Crash
        return _Answer(accepted.provider_message_id)


class _Answer:
    status_code = 202

    def __init__(self, message_id: str):
        self.headers = {"X-Message-Id": message_id}


class FakeAi:
    """The AI writer's one call; the wording depends on the job only, so two conversations may match."""

    def __init__(self, turnstile: Turnstile):
        self._turnstile = turnstile

    def write(self, message: Any, contract: Any, *, api_key: str) -> AiDraft:
        fault = self._turnstile.gate("ai")
        if fault == TRANSIENT:
            raise AiUnavailable("injected: OpenAI answered 503")
        if fault == PERMANENT:
            raise AiRejected("injected: OpenAI answered 400")
        if fault == CRASH:
            raise Crash
        job = message.project_data["jobRole"]
        tail = " Confirm at evil.example/pin" if fault == INJECTED else ""
        if message.channel is Channel.EMAIL:
            content = {"subject": f"About the {job} role", "body": f"Hello, a question about the {job} role.{tail}"}
        elif message.channel is Channel.WHATSAPP:
            content = {"1": "Alex", "2": job, "3": "Sam", "4": f"One point needs clarifying.{tail}"}
        else:
            content = {"body": f"Hi Alex, about the {job} role: can we talk?{tail}"}
        return AiDraft(content, "resp_" + uuid.uuid4().hex, "gpt-test", "test-1", TokenUsage(total_tokens=3))

    def forget(self, api_key: str) -> None:
        pass


class Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def adapter_at(channel: Channel, provider: Provider) -> Any:
    base = {Channel.SMS: SmsChannel, Channel.WHATSAPP: WhatsAppChannel, Channel.EMAIL: EmailChannel}[channel]

    class AtTheFakeProvider(base):
        def sender(self, credentials: Any, settings: ProcessorSettings) -> Any:
            sender = super().sender(credentials, settings)
            is_twilio = isinstance(sender, TwilioMessages)
            sender._client = FakeTwilioClient(provider) if is_twilio else FakeSendGridClient(provider)
            return sender

    adapter = AtTheFakeProvider()
    # Email signs each recipient's unsubscribe link (issue 12): a fixed key, read as the real one would be.
    adapter.use_consent_key(lambda: HARNESS_CONSENT_KEY)
    return adapter


class InProcessAws(dict):
    """The moto clients and the example records (a short repr, for hypothesis's reports)."""

    def __init__(
        self,
        dynamodb: Any,
        secrets: Any,
        table: str,
        messages_table: str,
        company: CompanyRecord,
        request: dict[str, Any],
    ):
        super().__init__(
            dynamodb=dynamodb,
            secrets=secrets,
            table=table,
            messages_table=messages_table,
            company=company,
            request=request,
        )
        self["created_secrets"] = set()

    def __repr__(self) -> str:
        return "<moto in-process>"


def context_message(aws: dict[str, Any], channel: Channel, recipient: int, job: str) -> Any:
    body = json.loads(json.dumps(aws["request"]))
    body["request_data"].update(channel_method=channel.value, request_id=str(uuid.uuid4()))
    body["recipient_data"].update(
        recipient_tel=f"+4477009{recipient:05d}", recipient_email=f"person{recipient}@example.com"
    )
    body["project_data"] = {"jobRole": job}  # small records: moto's cost grows with the item
    return build_context(
        InitiateRequest.model_validate(body),
        aws["company"],
        router_version="prop",
        queued_at=datetime.now(UTC),
        correlation_id="prop",
        callback_base_url="https://api.example.test/dev",
    )


def store_secrets(aws: dict[str, Any], adapter: Any, message: Any) -> None:
    values = {
        adapter.openai_secret_id(message, ENVIRONMENT): {"ai_api_key": "sk-prop-test"},
        adapter.credentials_secret_id(message, ENVIRONMENT): (
            {"sendgrid_api_key": "SG.prop-test"}
            if message.channel is Channel.EMAIL
            else {"twilio_account_sid": "ACprop0000000000000000000000000001", "twilio_auth_token": "prop-token"}
        ),
    }
    for name, value in values.items():
        if name not in aws["created_secrets"]:
            aws["secrets"].create_secret(Name=name, SecretString=json.dumps(value))
            aws["created_secrets"].add(name)


def processor_settings(channel: Channel, table: str, messages_table: str) -> ProcessorSettings:
    return ProcessorSettings(
        channel=channel,
        environment=ENVIRONMENT,
        conversations_table_name=table,
        provider_messages_table_name=messages_table,
        queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop",
        suppressions_table_name=SUPPRESSIONS_TABLE,
        consent_key_secret_id=CONSENT_KEY_SECRET,
        conversation_retention_days=RETENTION_DAYS,
        scheduler_group_name=SCHEDULER_GROUP,
        scheduler_role_arn=SCHEDULER_ROLE_ARN,
        heartbeat_interval_seconds=60,
        visibility_timeout_seconds=VISIBILITY_SECONDS,
        processor_version="prop",
    )


class Schedule:
    """One drawn schedule: the conversations, the SQS model, the provider and the turnstile."""

    def __init__(
        self,
        aws: dict[str, Any],
        draw: Any,
        *,
        channels: tuple[Channel, ...] = (Channel.SMS, Channel.WHATSAPP, Channel.EMAIL),
        conversations: tuple[int, int] = (1, 2),
        faults: dict[str, tuple[str, ...]] = FAULTS,
    ):
        self.aws, self.draw = aws, draw
        self.channel = draw(st.sampled_from(channels), label="channel")
        jobs = draw(
            st.lists(st.sampled_from(["Porter", "Nurse"]), min_size=conversations[0], max_size=conversations[1]),
            label="jobs",
        )
        self.clock = Clock()
        self.turnstile = Turnstile(draw, self.clock, self.spawn, faults)
        self.provider = Provider(self.turnstile, self.clock)
        self.provider.report = self._report
        self.settings = processor_settings(self.channel, aws["table"], aws["messages_table"])
        recipient = next(_recipients)  # a partition of its own: schedules never see each other
        self.messages = [context_message(aws, self.channel, recipient, job) for job in jobs]
        self.reports = [
            draw(st.lists(st.sampled_from(REPORTS[self.channel]), max_size=3), label=f"reports of conversation {c}")
            for c in range(len(self.messages))
        ]
        self.queue: list[QueueMessage] = []
        self._numbers = itertools.count()
        self.history: dict[tuple[str, str], list[tuple[int, str | None]]] = {}
        self.pipeline = self._pipeline()
        self.applier = self._applier()
        for conversation, message in enumerate(self.messages):
            store_secrets(aws, adapter_at(self.channel, self.provider), message)
            copies = draw(st.integers(1, 2), label=f"copies of conversation {conversation}")  # a client retry
            self.queue += [QueueMessage(conversation, queue_body(message)) for _ in range(copies)]

    def spawn(self, message: QueueMessage) -> None:
        """SQS hands a message to a consumer: at most ``MAX_RECEIVES`` times, then it moves it to the DLQ."""
        if message.deleted or message.dead:
            return
        if message.receives >= MAX_RECEIVES:
            message.dead = True
            return
        message.receives += 1
        self.turnstile.start(Delivery(next(self._numbers), message), self._work)

    def run_sqs(self) -> None:
        """Rounds: every visible message is delivered, the deliveries interleave, then the visibility
        timeout passes for every message that was not deleted."""
        while any(not (m.deleted or m.dead) for m in self.queue):
            self.run_round()

    def run_round(self) -> None:
        """One round: every visible message is delivered (and whatever they queue, at once)."""
        for message in self.queue:
            self.spawn(message)
        self.turnstile.run()
        for delivery in self.turnstile.deliveries.values():
            assert delivery.error is None, f"delivery {delivery.number} raised {delivery.error!r}"
            if delivery.crashed or delivery.outcome is None or delivery.outcome.retry:
                continue
            if delivery.outcome.dead_letter:
                delivery.message.dead = True
            else:
                delivery.message.deleted = True
        self.turnstile.deliveries_seen.update(self.turnstile.deliveries)
        self.turnstile.deliveries.clear()
        self.clock.advance(VISIBILITY_SECONDS + 1)

    def redrive(self, conversation: int) -> None:
        """The DLQ's message delivered once more (an operator's redrive), with nothing failing."""
        self.turnstile.calm = True
        self.turnstile.start(
            Delivery(next(self._numbers), QueueMessage(conversation, queue_body(self.messages[conversation]))),
            self._work,
        )
        self.turnstile.run()
        self.turnstile.deliveries_seen.update(self.turnstile.deliveries)
        self.turnstile.deliveries.clear()

    def finish_events(self) -> None:
        """Nothing failing any more: the events still queued are delivered, and those in the DLQ
        redriven once (as their last receive), so every event ends applied or kept unmatched."""
        self.turnstile.calm = True
        self.run_sqs()
        for message in [m for m in self.queue if m.event and m.dead]:
            again = QueueMessage(message.conversation, message.body, receives=MAX_RECEIVES, event=True)
            self.turnstile.start(Delivery(next(self._numbers), again), self._work)
            self.turnstile.run()
        self.turnstile.deliveries_seen.update(self.turnstile.deliveries)
        self.turnstile.deliveries.clear()

    def _report(self, accepted: Accepted) -> None:
        """The provider queues the statuses drawn for the conversation as events of this message."""
        for status in self.reports[accepted.conversation]:
            event = QueueMessage(accepted.conversation, self._event(accepted, status).to_body(), event=True)
            self.queue.append(event)
            self.turnstile.arrivals.append(event)

    def _event(self, accepted: Accepted, status: str) -> ProviderEvent:
        if self.channel is Channel.EMAIL:
            provider, kind = ProviderName.SENDGRID, EventKind.SENDGRID_EVENT
            payload: dict[str, Any] = {
                "event": status,
                "sg_event_id": f"{accepted.provider_message_id}-{status}",
                "sg_message_id": f"{accepted.provider_message_id}.filter0001",
                "timestamp": 1795512615,
                "email": accepted.to,
                "conversation_id": self.messages[accepted.conversation].conversation_id,
            }
        else:
            provider, kind = ProviderName.TWILIO, EventKind.TWILIO_STATUS
            payload = {
                "MessageSid": accepted.provider_message_id,
                "MessageStatus": status,
                "ErrorCode": "30003" if status in ("undelivered", "failed") else "",
                "To": accepted.to,
            }
        company = self.aws["company"]
        return ProviderEvent(
            provider=provider,
            kind=kind,
            company_id=company.company_id,
            project_id=company.project_id,
            received_at=self.clock(),
            callback_base_url="https://api.example.test/dev",
            payload=payload,
        )

    def _work(self, delivery: Delivery) -> None:
        if delivery.message.event:
            delivery.outcome = self.applier.handle(delivery.message.body, receive_count=delivery.message.receives)
            return
        delivery.outcome = self.pipeline.handle(delivery.message.body, message_id=str(delivery.number), attributes={})

    def _applier(self) -> EventApplier:
        points = {"update_item": "event write", "put_item": "event write"}
        dynamodb = GatedAws(
            self.watched_dynamodb(),
            self.turnstile,
            points,
            "ProvisionedThroughputExceededException",
        )
        settings = EventsSettings(
            environment=ENVIRONMENT,
            conversations_table_name=self.aws["table"],
            provider_messages_table_name=self.aws["messages_table"],
            queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop-events",
            visibility_timeout_seconds=VISIBILITY_SECONDS,
            max_receive_count=MAX_RECEIVES,
            processor_version="prop",
            company_table_name="ai-multi-comms-company-data-prop",
            whatsapp_queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop-whatsapp",
            sms_queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop-sms",
            email_queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop-email",
            suppressions_table_name=SUPPRESSIONS_TABLE,
            consent_key_secret_id=CONSENT_KEY_SECRET,
            conversation_retention_days=RETENTION_DAYS,
        )
        return EventApplier(
            messages=ProviderMessages(dynamodb, self.aws["messages_table"]),
            conversations=ConversationRepository(dynamodb, self.aws["table"]),
            # Written only for an opt-out keyword or a provider signal about the address.
            suppressions=EventSuppressions(dynamodb, self.aws["secrets"], SUPPRESSIONS_TABLE, CONSENT_KEY_SECRET),
            settings=settings,
            logger=Quiet(),
            metrics=Quiet(),
            clock=self.clock,
        )

    def watched_dynamodb(self) -> Any:
        """The DynamoDB client every delivery uses, under the gate: every write watched."""
        return Watched(self.aws["dynamodb"], self.history)

    def _pipeline(self, ai: Any = None) -> Pipeline:
        # One warm container serves the schedule's deliveries; its credentials cache (300 s, on the
        # schedule's clock) expires between SQS rounds, so each round reads the secrets again.
        points = {"put_item": "record create", "update_item": "record update", "get_item": "record read"}
        points["query"] = "record read"
        watched = self.watched_dynamodb()
        dynamodb = GatedAws(watched, self.turnstile, points, "ProvisionedThroughputExceededException")
        messages = GatedAws(
            watched,
            self.turnstile,
            {"put_item": "message put", "get_item": "message read"},
            "ProvisionedThroughputExceededException",
        )
        secrets = GatedAws(
            self.aws["secrets"], self.turnstile, {"get_secret_value": "credentials"}, "ThrottlingException"
        )
        channel = self.channel.value
        return Pipeline(
            adapter=adapter_at(self.channel, self.provider),
            settings=self.settings,
            repository=ConversationRepository(dynamodb, self.aws["table"]),
            provider_messages=ProviderMessages(messages, self.aws["messages_table"]),
            secrets=SecretReader(
                secrets,
                allowed_prefixes=(credentials_secret_prefix(channel), openai_secret_prefix(channel)),
                clock=lambda: self.clock().timestamp(),
            ),
            ai=ai or FakeAi(self.turnstile),
            # The list's reads pass the gate like the record's; the key is read once per container.
            consent=RecipientConsent(dynamodb, SUPPRESSIONS_TABLE, self.aws["secrets"], CONSENT_KEY_SECRET),
            # The schedules drawn here send at once, so nothing is ever armed (moto in process).
            wakeups=Wakeups(
                sqs=boto3.client("sqs", region_name=REGION),
                scheduler=boto3.client("scheduler", region_name=REGION),
                settings=self.settings,
                logger=Quiet(),
            ),
            logger=Quiet(),
            metrics=Quiet(),
            clock=self.clock,
        )

    def faults_of(self, conversation: int) -> list[str]:
        deliveries = self.turnstile.deliveries_seen.values()
        return [fault for d in deliveries if d.message.conversation == conversation for _, fault in d.faults]
