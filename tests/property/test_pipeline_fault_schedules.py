"""The pipeline driven through random fault schedules (hypothesis): a person gets a message at most
once, and every accepted conversation ends in one final status, whatever SQS and the services do.

What runs for real: ``Pipeline``, ``ConversationRepository`` and ``SecretReader`` on boto3 against
moto in-process, the real channel adapters and the real Twilio/SendGrid senders. Faked at the
outermost boundary: the providers' SDK clients and the AI writer, and SQS (a queue model with
visibility expiry, ``maxReceiveCount`` 3 and a DLQ). Every call to DynamoDB, Secrets Manager, the
AI and the providers passes a turnstile: each delivery runs in its own thread, but only the one the
drawn schedule names may pass its next call, and the schedule also draws what happens there
(nothing, a transient error, a permanent one, a crash before or after the call, an answer lost
after the call took effect, or the heartbeat failing so SQS hands the message to a second
consumer). Concurrent duplicate deliveries are thus interleaved deterministically, and a failure
shrinks to a short, readable schedule.

Invariants (checked once no message is left on the queue):
- nobody gets a message twice: each conversation has at most one message accepted by the provider;
- a conversation recorded ``initial_message_sent`` names the provider message its own send created;
- ``failed_to_process_ai`` / ``failed_to_send_message`` / ``failed_content_check`` mean nothing was
  sent, and no text the content check refuses (the AI obeying an injection) ever reaches the person;
- every conversation whose messages were all deleted has a record in a final status; one whose
  message is in the DLQ has either a final record or a durable non-final one that a redrive (one
  more fault-free delivery) takes to a final status, still with at most one message sent;
- no transient fault loses a conversation: with no permanent fault injected, it ends
  ``initial_message_sent`` or ``send_unconfirmed`` (a send that may have gone out and cannot be
  attributed);
- permanent faults are not retried: a delivery that recorded one asks SQS for no retry.

Status events: the provider reports each message it accepted with a drawn list of statuses
(duplicates included), queued on the events queue the moment it accepts the send, so the events
processor (the real ``EventApplier`` on the same gated DynamoDB) may see them before the send's
item or record exists, in any order, again after a crash between its item and record writes, and
late. Checked:
- a delivery status never moves backwards, on the message's item or on the record (every write
  that touches one is watched);
- the message ends at the highest-ranked status reported (an event the engine could not match
  before its last receive is kept as unmatched, and may or may not count);
- the record shows its message's status, and only statuses of its own message's events: no event
  touches another conversation (two conversations to one person in the dense schedules).
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
import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from python_http_client import exceptions as http_errors
from twilio.base.exceptions import TwilioRestException

from local.emulator import create_table
from shared.channels import Channel
from shared.events.applier import EventApplier
from shared.events.delivery_state import DeliveryState
from shared.events.delivery_status import rank_of
from shared.events.envelope import EventKind, ProviderEvent
from shared.events.envelope import Provider as ProviderName
from shared.events.provider_messages import ProviderMessages, message_key
from shared.events.settings import EventsSettings
from shared.models.company import CompanyRecord
from shared.models.conversation import ConversationStatus, TokenUsage
from shared.models.request import InitiateRequest
from shared.processing.adapters.email import EmailChannel
from shared.processing.adapters.twilio_channels import SmsChannel, WhatsAppChannel
from shared.processing.ai_writer import AiDraft
from shared.processing.conversation_repository import ConversationKey, ConversationRepository
from shared.processing.credentials import SecretReader
from shared.processing.errors import AiRejected, AiUnavailable
from shared.processing.pipeline import Pipeline
from shared.processing.senders.twilio_messages import TwilioMessages
from shared.processing.settings import ProcessorSettings
from shared.routing.context_builder import build_context, queue_body
from shared.secret_names import credentials_secret_prefix, openai_secret_prefix
from shared.tables import CONVERSATIONS, PROVIDER_MESSAGES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGION = "eu-west-2"
MAX_RECEIVES = 3  # the queues' redrive policy
VISIBILITY_SECONDS = 720
ENVIRONMENT = "dev"  # the secret names of the example record are dev's
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
    event: bool = False  # a provider event on the events queue (else a context message)
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
        self._history.setdefault((table, _key_text(key)), []).append((rank, status))


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def _client_error(code: str, operation: str) -> ClientError:
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
                raise _client_error(self._transient, operation)
            if fault == PERMANENT:
                raise _client_error("ResourceNotFoundException", operation)
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
            raise TwilioRestException(400, "/Messages.json", "Invalid 'To' Phone Number", code=21211, method="POST")
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


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _adapter(channel: Channel, provider: Provider) -> Any:
    base = {Channel.SMS: SmsChannel, Channel.WHATSAPP: WhatsAppChannel, Channel.EMAIL: EmailChannel}[channel]

    class AtTheFakeProvider(base):
        def sender(self, credentials: Any, settings: ProcessorSettings) -> Any:
            sender = super().sender(credentials, settings)
            is_twilio = isinstance(sender, TwilioMessages)
            sender._client = FakeTwilioClient(provider) if is_twilio else FakeSendGridClient(provider)
            return sender

    return AtTheFakeProvider()


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


# -- the AWS side, once per module (each schedule uses its own recipient) ----------------------------
@pytest.fixture(scope="module")
def aws_in_process() -> Any:
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        table = create_table(dynamodb, CONVERSATIONS, "prop")
        messages_table = create_table(dynamodb, PROVIDER_MESSAGES, "prop")
        company = CompanyRecord.model_validate(json.loads((EXAMPLES / "company_record.example.json").read_text()))
        request = json.loads((EXAMPLES / "initiate_request.example.json").read_text())
        yield InProcessAws(dynamodb, secrets, table, messages_table, company, request)


def _context(aws: dict[str, Any], channel: Channel, recipient: int, job: str) -> Any:
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


def _store_secrets(aws: dict[str, Any], adapter: Any, message: Any) -> None:
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


def _settings(channel: Channel, table: str, messages_table: str) -> ProcessorSettings:
    return ProcessorSettings(
        channel=channel,
        environment=ENVIRONMENT,
        conversations_table_name=table,
        provider_messages_table_name=messages_table,
        queue_url="https://sqs.eu-west-2.amazonaws.com/000000000000/prop",
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
        self.settings = _settings(self.channel, aws["table"], aws["messages_table"])
        recipient = next(_recipients)  # a partition of its own: schedules never see each other
        self.messages = [_context(aws, self.channel, recipient, job) for job in jobs]
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
            _store_secrets(aws, _adapter(self.channel, self.provider), message)
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
            Watched(self.aws["dynamodb"], self.history),
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
        )
        return EventApplier(
            messages=ProviderMessages(dynamodb, self.aws["messages_table"]),
            conversations=ConversationRepository(dynamodb, self.aws["table"]),
            settings=settings,
            logger=_Quiet(),
            metrics=_Quiet(),
            clock=self.clock,
        )

    def _pipeline(self) -> Pipeline:
        # One warm container serves the schedule's deliveries; its credentials cache (300 s, on the
        # schedule's clock) expires between SQS rounds, so each round reads the secrets again.
        points = {"put_item": "record create", "update_item": "record update", "get_item": "record read"}
        points["query"] = "record read"
        watched = Watched(self.aws["dynamodb"], self.history)
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
            adapter=_adapter(self.channel, self.provider),
            settings=self.settings,
            repository=ConversationRepository(dynamodb, self.aws["table"]),
            provider_messages=ProviderMessages(messages, self.aws["messages_table"]),
            secrets=SecretReader(
                secrets,
                allowed_prefixes=(credentials_secret_prefix(channel), openai_secret_prefix(channel)),
                clock=lambda: self.clock().timestamp(),
            ),
            ai=FakeAi(self.turnstile),
            logger=_Quiet(),
            metrics=_Quiet(),
            clock=self.clock,
        )

    def faults_of(self, conversation: int) -> list[str]:
        deliveries = self.turnstile.deliveries_seen.values()
        return [fault for d in deliveries if d.message.conversation == conversation for _, fault in d.faults]


def _assert_permanent_faults_are_not_retried(delivery: Delivery) -> None:
    """A permanent failure this delivery recorded is final: its message is not delivered again.

    (If the record had moved on when the failure was to be written, another delivery holds the
    conversation, and this copy may come back, only to see that work finished.)
    """
    faults = [fault for _, fault in delivery.faults]
    if PERMANENT_FAULTS & set(faults) and not delivery.crashed and delivery.outcome.status is not None:
        assert delivery.outcome.status.is_final
        assert not delivery.outcome.retry, f"delivery {delivery.number} retried a permanent failure: {faults}"


# -- the property --------------------------------------------------------------------------------------
@settings(
    max_examples=750,
    deadline=None,
    derandomize=True,  # the same schedules on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_fault_schedules_never_send_twice_nor_lose_a_conversation(aws_in_process, data):
    schedule = Schedule(aws_in_process, data.draw)
    schedule.run_sqs()

    _assert_the_promises_held(schedule, aws_in_process)


# Reconciliation's hardest case, searched densely: two conversations to one person on a channel
# whose provider can be asked (Twilio), each delivered once or twice, every send and lookup able to
# be refused for now, lose its answer after the provider took the message, or die before or after
# the call. Everything else succeeds, so the search spends itself on the sends. In the broad test
# above a schedule like that is one in thousands; here it is one in tens.
SENDS_ONLY = {point: (OK,) for point in FAULTS} | {
    "send": (OK, TRANSIENT, LOST, CRASH, CRASH_AFTER),
    "lookup": (OK, TRANSIENT, CRASH),
    # The events of the two messages interleave with the sends; a crash between an event's item and
    # record writes must heal, and never on the other conversation.
    "event write": (OK, CRASH, CRASH_AFTER),
}


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_two_conversations_to_one_person_never_take_each_others_message(aws_in_process, data):
    schedule = Schedule(
        aws_in_process, data.draw, channels=(Channel.WHATSAPP, Channel.SMS), conversations=(2, 2), faults=SENDS_ONLY
    )
    schedule.run_sqs()

    _assert_the_promises_held(schedule, aws_in_process)


def _assert_the_promises_held(schedule: Schedule, aws_in_process: dict[str, Any]) -> None:
    repository = ConversationRepository(aws_in_process["dynamodb"], aws_in_process["table"])
    for delivery in schedule.turnstile.deliveries_seen.values():
        _assert_permanent_faults_are_not_retried(delivery)
    for conversation, message in enumerate(schedule.messages):
        key = ConversationKey(message.recipient_address, message.conversation_id)
        record = repository.get(key)
        in_dlq = any(m.dead for m in schedule.queue if m.conversation == conversation)
        if in_dlq and (record is None or not record.conversation_status.is_final):
            schedule.redrive(conversation)
            record = repository.get(key)
        assert record is not None, f"conversation {conversation}: no record, and nothing left to deliver"
        status = record.conversation_status
        sent = schedule.provider.sent_to(conversation)
        assert len(sent) <= 1, f"conversation {conversation} ({status}) reached the person {len(sent)} times"
        assert status.is_final, f"conversation {conversation} is stuck in {status}"
        if status is _S.INITIAL_MESSAGE_SENT:
            assert [m.provider_message_id for m in sent] == [record.provider_message_id], (
                f"conversation {conversation} is recorded sent with a message it did not send"
            )
        if status in (_S.FAILED_TO_PROCESS_AI, _S.FAILED_TO_SEND_MESSAGE, _S.FAILED_CONTENT_CHECK):
            assert not sent, f"conversation {conversation} is {status} but its message went out"
        if any("evil.example" in m.body for m in sent):
            raise AssertionError(f"conversation {conversation}: a link the project never supplied reached the person")
        if not PERMANENT_FAULTS & set(schedule.faults_of(conversation)):
            assert status in (_S.INITIAL_MESSAGE_SENT, _S.SEND_UNCONFIRMED), (
                f"conversation {conversation} met only transient faults and ended {status}"
            )
    schedule.finish_events()
    _assert_delivery_only_moved_forward_on_its_own_conversation(schedule, aws_in_process)


def _assert_delivery_only_moved_forward_on_its_own_conversation(schedule: Schedule, aws: dict[str, Any]) -> None:
    for (table, key), seen in schedule.history.items():
        ranks = [rank for rank, _ in seen]
        assert ranks == sorted(ranks), f"a delivery status moved backwards on {table} {key}: {seen}"
    twilio = schedule.channel is not Channel.EMAIL
    provider = ProviderName.TWILIO if twilio else ProviderName.SENDGRID
    initial = ["queued"] if twilio else []  # Twilio's answer to the send; SendGrid's 202 has none
    items: dict[str, dict[str, Any] | None] = {}

    def item_of(message_id: str) -> dict[str, Any] | None:
        key = message_key(provider, message_id)
        if key not in items:
            items[key] = _plain_item(aws, aws["messages_table"], {"provider_message_key": {"S": key}})
        return items[key]

    for conversation, message in enumerate(schedule.messages):
        reported = [s for s in schedule.reports[conversation] if rank_of(s) is not None] + initial
        record_key = ConversationKey(message.recipient_address, message.conversation_id).item_key()
        for _, status in schedule.history.get((aws["table"], _key_text(record_key)), []):
            assert status is None or status in reported, (
                f"conversation {conversation}'s record showed {status}, which its own message never reported"
            )
        for accepted in schedule.provider.sent_to(conversation):
            item = item_of(accepted.provider_message_id)
            highest = max((rank_of(s) or 0 for s in reported), default=0)
            final = int(item.get("delivery_rank", 0)) if item else 0
            assert item is None or item["conversation_id"] == message.conversation_id
            # Below the highest reported only when the higher events were kept unmatched: they came
            # before the send's item existed, until their last receive (a send_unconfirmed has none).
            missed = {s for s in reported if (rank_of(s) or 0) > final and s not in initial}
            key = message_key(provider, accepted.provider_message_id)
            unmatched = {s for s in missed if _plain_item(aws, aws["messages_table"], _unmatched_key(key, s))}
            assert final <= highest and missed == unmatched, (
                f"conversation {conversation}'s message ended {item and item.get('delivery_status')} of {reported}"
                f" (kept unmatched: {sorted(unmatched)})"
            )
        record = _plain_item(aws, aws["table"], record_key)
        if record is not None and record.get("provider_message_id"):
            item = item_of(record["provider_message_id"])
            assert item is not None
            shown, holds = DeliveryState.of(record), DeliveryState.of(item)
            assert shown == holds, f"conversation {conversation}'s record shows {shown}, its message {holds}"


def _unmatched_key(key: str, status: str) -> dict[str, Any]:
    provider, _, message_id = key.partition("#")
    code = "30003" if status in ("undelivered", "failed") else ""
    event_id = f"{message_id}-{status}" if provider == "sendgrid" else f"{status}#{code}"
    return {"provider_message_key": {"S": f"unmatched#{key}#{event_id}"}}


def _plain_item(aws: dict[str, Any], table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item = aws["dynamodb"].get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return None if item is None else {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
