"""Replies driven through random fault schedules (hypothesis): every message the person writes is
recorded once, answered at most once, and none is lost, whatever SQS and the services do.

A schedule opens a conversation (its first message sent, nothing failing), then the person writes
1-3 distinct messages, each posted by the provider 1-3 times (a retry, a re-post), some only after
the first round. The events processor (the real ``EventApplier``) records each and queues a reply
job on the channel queue (the SQS model: a send may fail, be lost after it took effect, so the job
is queued twice, or the function may die around it); the channel processor (the real reply turn)
answers every pending message with one reply: AI → send → record. Every DynamoDB call of both, the
job's SQS send, the AI and the provider send/lookup pass the turnstile of ``fault_harness.py``, so
deliveries interleave in the drawn order and crash before/after any write, lose answers, or lose
the heartbeat (a second consumer). Whatever is in the DLQ at the end is redriven with nothing
failing, as an operator would, until the queues are quiet.

Invariants, on the record once the queues are quiet and on every write before that:
- every distinct inbound message is recorded exactly once (``role: user``), in a thread whose
  ``inbound_seq``s are 1..n in order, and ``inbound_message_ids`` lists each id once;
- at most one reply per inbound message: the replies' ranges are disjoint (``answers_through`` on
  the assistant entries strictly increasing), each assistant entry names a reply the provider
  accepted for this person, and the provider holds no more replies than the entries plus the
  turns that ended ``reply_unconfirmed`` (a send that may have gone out and cannot be attributed);
  no reply carries a link the content check refuses;
- nothing lost: every inbound seq is answered (``answered_through``) unless the record says why
  (``reply_not_sent`` with its reason, after a permanent fault; ``needs_human`` with its
  ``handoff_reason``); with no permanent fault drawn, nothing ends ``reply_not_sent``;
- each write moves the status along ``TRANSITIONS`` only, ``version`` never goes back, and
  recording an inbound message leaves ``version`` and the status alone (a turn's claim holds).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from shared import json_codec
from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from shared.events.applier import EventApplier
from shared.events.envelope import EventKind, ProviderEvent
from shared.events.envelope import Provider as ProviderName
from shared.events.provider_messages import ProviderMessages
from shared.events.suppression_writes import EventSuppressions
from shared.models.company import CompanyRecord
from shared.models.conversation import ConversationRecord, ConversationStatus, may_move
from shared.processing.ai_writer import AiWriter
from shared.processing.conversation_repository import ConversationKey, ConversationRepository
from shared.processing.replies.turns import ReplyTurns
from shared.processing.telemetry import ProcessorTelemetry
from shared.replies.inbound_applier import InboundApplier
from shared.replies.inbound_consent import InboundConsent
from shared.replies.inbound_records import InboundRecords
from shared.replies.matching import ReplyMatcher
from shared.replies.reply_address import reply_address
from shared.replies.reply_queue import ReplyJobQueues
from shared.routing.company_directory import CompanyDirectory
from tests.property.fault_harness import (
    ANY_CALL,
    CRASH,
    CRASH_AFTER,
    EXAMPLES,
    FAULTS,
    HEARTBEAT,
    INJECTED,
    LOST,
    OK,
    OPT_OUTS,
    PERMANENT,
    RACING_SENDS,
    REGION,
    TRANSIENT,
    Accepted,
    Crash,
    Delivery,
    GatedAws,
    QueueMessage,
    Quiet,
    Schedule,
    assert_a_check_that_saw_the_opt_out_ended_the_record,
    assert_nothing_reached_the_person_unchecked,
    client_error,
    opt_out_point,
    where_the_opt_out_fell,
)

_S = ConversationStatus
NEEDS_HUMAN = "asked for a person"  # the AI's answer sets needs_human: the thread goes to a person
_CALM = (OK,) * 20
# The reply's steps meet the faults the first message's meet, and more: the events processor's
# reads (the company record, the reply indexes, the record) and the job's SQS send. The secrets'
# faults are the first message's, a permanent one (the secret is gone) included.
REPLY_FAULTS: dict[str, tuple[str, ...]] = FAULTS | {
    "ai": (*_CALM, TRANSIENT, PERMANENT, INJECTED, NEEDS_HUMAN, CRASH, HEARTBEAT),
    "event read": (*_CALM, TRANSIENT, CRASH, HEARTBEAT),
    "job send": (*_CALM, TRANSIENT, CRASH, LOST, CRASH_AFTER, HEARTBEAT),
}
REPLY_PERMANENT = {PERMANENT, INJECTED}
MAX_AI_TURNS = 2  # three messages answered one by one reach the project's limit
REPLY_DOMAIN = "replies.cucumber-recruitment.example"
QUEUE_URLS = {
    Channel.WHATSAPP: "https://sqs.eu-west-2.amazonaws.com/000000000000/prop-whatsapp",
    Channel.SMS: "https://sqs.eu-west-2.amazonaws.com/000000000000/prop-sms",
    Channel.EMAIL: "https://sqs.eu-west-2.amazonaws.com/000000000000/prop-email",
}


# -- the project answers replies --------------------------------------------------------------------
@pytest.fixture(scope="module")
def aws(aws_in_process: dict[str, Any]) -> dict[str, Any]:
    return replying_project(aws_in_process)


def replying_project(aws_in_process: dict[str, Any]) -> dict[str, Any]:
    """The example project with replies configured: a reply prompt per channel, an inbound domain
    for email, and a low AI-turn limit so schedules reach it (this module's moto only). Each
    schedule writes the record again with replies on or off."""
    item = json.loads((EXAMPLES / "company_record.example.json").read_text())
    item.update(auto_queue_reply_message=True, reply_policy={"max_ai_turns": MAX_AI_TURNS})
    item["channel_config"]["email"]["reply_domain"] = REPLY_DOMAIN
    for channel, config in item["ai_config"]["openai_config"].items():
        config["reply_sender"] = {"prompt_version": "2026-11-26.1", "instructions": f"Answer on {channel}."}
    aws_in_process["company"] = CompanyRecord.model_validate(item)
    aws_in_process["company_item"] = item
    return aws_in_process


def _put_company(aws: dict[str, Any], *, replies_on: bool) -> None:
    item = {**aws["company_item"], "auto_queue_reply_message": replies_on}
    table = boto3.resource("dynamodb", region_name=REGION).Table(aws["company_table"])
    table.put_item(Item=json_codec.loads(json.dumps(item)))


# -- the boundaries the reply adds --------------------------------------------------------------------
class FakeSqs:
    """``sqs.send_message`` as the events processor calls it: the job lands on the channel queue the
    moment SQS takes it (and twice when the answer is lost and botocore sends it again)."""

    def __init__(self, schedule: ReplySchedule):
        self._schedule = schedule
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str, **options: Any) -> dict[str, Any]:
        fault = self._schedule.turnstile.gate("job send")
        if fault == TRANSIENT:
            raise client_error("ServiceUnavailable", "SendMessage")
        if fault == CRASH:
            raise Crash
        attributes = {
            name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType")}
            for name, value in (options.get("MessageAttributes") or {}).items()
        }
        for _ in range(2 if fault == LOST else 1):
            self.sent.append((QueueUrl, MessageBody, attributes))
            self._schedule.queue_job(MessageBody, attributes)
        if fault == LOST:
            raise client_error("RequestTimeout", "SendMessage")
        if fault == CRASH_AFTER:
            raise Crash
        return {"MessageId": str(uuid.uuid4())}


class FakeOpenAi:
    """``client.responses.create`` as OpenAI answers a reply prompt: the reply schema's three fields."""

    def __init__(self, schedule: ReplySchedule):
        self._schedule = schedule
        self.responses = self
        self.answers = 0

    def create(self, **request: Any) -> Any:
        fault = self._schedule.turnstile.gate("ai")
        if fault == TRANSIENT:
            raise openai.InternalServerError("injected", response=_http(500), body=None)
        if fault == PERMANENT:
            raise openai.BadRequestError("injected", response=_http(400), body={"code": "invalid_request"})
        if fault == CRASH:
            raise Crash
        assert request.get("store") is False, "the conversation was sent to be stored at OpenAI"
        schema = request["text"]["format"]["name"]
        assert schema == f"{self._schedule.channel.value}_reply", f"a reply asked for schema {schema}"
        self.answers += 1
        tail = " Confirm at evil.example/pin" if fault == INJECTED else ""
        answer = {"reply": f"Thanks, noted ({self.answers}).{tail}", "task_complete": False}
        answer["needs_human"] = fault == NEEDS_HUMAN
        usage = SimpleNamespace(input_tokens=5, output_tokens=2, total_tokens=7)
        return SimpleNamespace(
            id="resp_" + uuid.uuid4().hex,
            model="gpt-test",
            status="completed",
            incomplete_details=None,
            output_text=json.dumps(answer),
            usage=usage,
        )


def _http(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", "https://api.openai.test/v1/responses"))


class AiAtTheFake(AiWriter):
    """The real writer (prompt, schema, checks, retry on invalid output) talking to the fake OpenAI."""

    def __init__(self, client: FakeOpenAi):
        super().__init__(base_url=None, timeout_seconds=5, max_retries=0, telemetry=ProcessorTelemetry.unmeasured())
        self._fake = client

    def _client(self, api_key: str) -> Any:
        return self._fake


# -- one schedule ------------------------------------------------------------------------------------------
@dataclass
class Inbound:
    """One message the person wrote: the provider posts it ``copies`` times, from round ``arrives``."""

    number: int
    provider_id: str
    copies: int
    arrives: int  # -1: queued by the schedule between two calls (the person's STOP)
    text: str | None = None  # None: an ordinary answer


class ReplySchedule(Schedule):
    def __init__(
        self,
        aws: dict[str, Any],
        draw: Any,
        faults: dict[str, tuple[str, ...]] = REPLY_FAULTS,
        *,
        delivery_reports: bool = False,
    ):
        super().__init__(aws, draw, conversations=(1, 1), faults=faults)
        if not delivery_reports:
            self.reports = [[]]  # no delivery events here: the first test covers them
        self.sqs = FakeSqs(self)
        self.openai = FakeOpenAi(self)
        self.applier = self._inbound_applier()
        self.turns = self._turns()
        # The first message goes out with nothing failing: the thread is open.
        self.turnstile.calm = True
        self.run_sqs()
        self.turnstile.calm = False
        self.record = self.repository.get(self.key)
        assert self.record is not None and self.record.conversation_status is _S.INITIAL_MESSAGE_SENT
        self.first = {m.provider_message_id for m in self.provider.accepted}
        # Mostly the AI answers; sometimes the project records replies and answers none.
        self.replies_on = draw(st.sampled_from((True, True, True, True, False)), label="replies on")
        _put_company(aws, replies_on=self.replies_on)
        count = draw(st.integers(1, 3), label="messages the person writes")
        self.inbound = [
            Inbound(
                n,
                self._provider_id(n),
                draw(st.integers(1, 3), label=f"posts of message {n}"),
                draw(st.integers(0, 1), label=f"round message {n} arrives in") if n else 0,
            )
            for n in range(count)
        ]
        self.stop: Inbound | None = None  # the person's STOP, when the schedule draws one
        # The second round may come days later: a WhatsApp reply is then outside the 24-hour window.
        self.pause_hours = draw(st.sampled_from((0, 0, 0, 0, 25)), label="hours before the second round")

    # -- the parts ----------------------------------------------------------------------------------------
    @property
    def repository(self) -> ConversationRepository:
        return ConversationRepository(self.aws["dynamodb"], self.aws["table"])

    @property
    def key(self) -> ConversationKey:
        message = self.messages[0]
        return ConversationKey(message.recipient_address, message.conversation_id)

    def _inbound_applier(self) -> EventApplier:
        """The events processor as its entrypoint wires it, on the gated DynamoDB and the SQS model."""
        points = {"update_item": "event write", "put_item": "event write", "get_item": "event read"}
        points["query"] = "event read"
        dynamodb = GatedAws(self.watch, self.turnstile, points, "ProvisionedThroughputExceededException")
        settings = self._applier().settings
        messages = ProviderMessages(dynamodb, self.aws["messages_table"])
        conversations = ConversationRepository(dynamodb, self.aws["table"])
        suppressions = EventSuppressions(  # STOP, START and the providers' signals write the list
            self.list_dynamodb(), self.aws["secrets"], settings.suppressions_table_name, settings.consent_key_secret_id
        )
        inbound = InboundApplier(
            matcher=ReplyMatcher(dynamodb, self.aws["table"]),
            records=InboundRecords(
                dynamodb, self.aws["table"], conversations, retention_days=settings.conversation_retention_days
            ),
            consent=InboundConsent(
                suppressions=suppressions, repository=conversations, logger=Quiet(), metrics=Quiet()
            ),
            messages=messages,
            companies=CompanyDirectory(dynamodb, self.aws["company_table"]),
            queues=ReplyJobQueues(self.sqs, QUEUE_URLS),
            settings=settings,
            logger=Quiet(),
            metrics=Quiet(),
            clock=self.clock,
        )
        return EventApplier(
            messages=messages,
            conversations=conversations,
            suppressions=suppressions,
            settings=settings,
            logger=Quiet(),
            metrics=Quiet(),
            clock=self.clock,
            inbound=inbound,
        )

    def _turns(self) -> ReplyTurns:
        """The channel processor's turns as its entrypoint wires them: on a pipeline of their own
        whose AI writer is the real one, talking to the fake OpenAI."""
        return ReplyTurns(self._pipeline(ai=AiAtTheFake(self.openai)))

    # -- the person's messages ------------------------------------------------------------------------
    def _provider_id(self, n: int) -> str:
        if self.channel is Channel.EMAIL:
            return f"<in-{n}-{uuid.uuid4().hex}@mail.example.com>"
        return "SM" + uuid.uuid4().hex

    def inbound_event(self, inbound: Inbound) -> ProviderEvent:
        company = self.aws["company"]
        person = self.messages[0].recipient_address
        text = inbound.text or f"Answer {inbound.number} from the person"
        config = company.channel_config
        if self.channel is Channel.EMAIL:
            token = self.record.gsi_reply_token
            to = reply_address(token, REPLY_DOMAIN) if token else str(config.email.company_email)
            headers = (
                f"Message-ID: {inbound.provider_id}\nFrom: Alex <{person}>\nTo: {to}\n"
                f"Subject: Re: About the Porter role\nDate: Thu, 26 Nov 2026 12:0{inbound.number}:00 +0000\n"
            )
            provider, kind = ProviderName.SENDGRID, EventKind.SENDGRID_INBOUND
            payload = {
                "from": f"Alex <{person}>",
                "to": to,
                "subject": "Re: About the Porter role",
                "text": text,
                "headers": headers,
                "envelope": json.dumps({"to": [to], "from": person}),
                "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "text": "UTF-8", "from": "UTF-8"}),
                "attachments": "0",
            }
        else:
            prefix = "whatsapp:" if self.channel is Channel.WHATSAPP else ""
            number = (
                config.whatsapp.company_whatsapp_number
                if self.channel is Channel.WHATSAPP
                else config.sms.company_sms_number
            )
            provider, kind = ProviderName.TWILIO, EventKind.TWILIO_INBOUND
            payload = {
                "MessageSid": inbound.provider_id,
                "AccountSid": "ACprop0000000000000000000000000001",
                "From": f"{prefix}{person}",
                "To": f"{prefix}{number}",
                "Body": text,
                "NumMedia": "0",
            }
        return ProviderEvent(
            provider=provider,
            kind=kind,
            company_id=company.company_id,
            project_id=company.project_id,
            received_at=self.clock(),
            callback_base_url="https://api.example.test/dev",
            payload=payload,
        )

    def stop_between_calls(self, before: tuple[str, int], copies: int) -> None:
        """The person writes STOP: the provider posts it right before the ``n``th next call at
        ``point`` (the events processor's real STOP path then writes the list and closes the
        thread), or at the end."""
        self.stop = Inbound(len(self.inbound), self._provider_id(len(self.inbound)), copies, -1, text="STOP")
        self.inbound.append(self.stop)

        def post() -> None:
            self.turnstile.between_calls = None
            self._post(self.stop, deliver_now=True)

        self.turnstile.between_calls = self.before_call(*before, post)

    def stop_if_pending(self) -> None:
        if self.stop is not None and self.turnstile.between_calls is not None:
            self.turnstile.between_calls = None
            self._post(self.stop, deliver_now=False)

    def _post(self, inbound: Inbound, *, deliver_now: bool) -> None:
        body = self.inbound_event(inbound).to_body()
        for _ in range(inbound.copies):
            message = QueueMessage(0, body, event=True)
            self.queue.append(message)
            if deliver_now:  # between two calls of a round: delivered at once, like a provider's event
                self.turnstile.arrivals.append(message)

    def queue_job(self, body: str, attributes: dict[str, Any]) -> None:
        message = QueueMessage(0, body, attributes=attributes)
        self.queue.append(message)
        self.turnstile.arrivals.append(message)

    # -- running it ---------------------------------------------------------------------------------------
    def run(self) -> None:
        """Rounds until the queues are quiet; the later messages are posted from their round."""
        for round_number in range(2):
            if round_number:
                self.clock.advance(self.pause_hours * 3600)
            for inbound in self.inbound:
                if inbound.arrives == round_number:
                    body = self.inbound_event(inbound).to_body()
                    self.queue += [QueueMessage(0, body, event=True) for _ in range(inbound.copies)]
            self.run_round()
        self.run_sqs()

    def redrive_everything(self) -> None:
        """Nothing failing any more: the DLQ's messages delivered again (an operator's redrive),
        until the queues are quiet; the record then shows where each message ended."""
        self.turnstile.calm = True
        for _ in range(3):
            dead = [m for m in self.queue if m.dead]
            if not dead:
                break
            for message in dead:
                message.dead = False
                message.receives = 0
            self.run_sqs()

    def _work(self, delivery: Delivery) -> None:
        message = delivery.message
        if message.event:
            delivery.outcome = self.applier.handle(message.body, receive_count=message.receives)
        elif message.attributes:
            delivery.outcome = self.turns.handle(
                message.body, message_id=str(delivery.number), attributes=message.attributes
            )
        else:
            delivery.outcome = self.pipeline.handle(message.body, message_id=str(delivery.number), attributes={})

    def story(self) -> str:
        """The record's writes and the provider's replies, for a failing example's report."""
        lines = [
            f"{s['conversation_status']} v{s.get('version')} inbound={s.get('inbound_count', 0)}"
            f" answered={s.get('answered_through', 0)} through={s.get('reply_through')}"
            f" entries={len(s.get('messages', []))} unconfirmed_at={s.get('reply_send_started_at')}"
            for s in self.watch.states
        ]
        lines += [
            f"provider took {m.provider_message_id} at {m.created:%H:%M:%S.%f}: {m.body[:60]!r}"
            for m in self.provider.accepted
        ]
        return "\n".join(lines)

    def faults(self) -> set[str]:
        return {fault for d in self.turnstile.deliveries_seen.values() for _, fault in d.faults}


# -- the property --------------------------------------------------------------------------------------
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_fault_schedules_answer_each_reply_at_most_once_and_lose_none(aws, data):
    schedule = ReplySchedule(aws, data.draw)
    schedule.run()
    schedule.redrive_everything()

    note(schedule.story())
    assert not [m for m in schedule.queue if m.dead], "a message is still in the DLQ after a fault-free redrive"
    record = schedule.repository.get(schedule.key)
    assert record is not None
    _assert_each_message_recorded_once(schedule, record)
    unconfirmed = _assert_every_write_moved_along_the_state_machine(schedule)
    _assert_at_most_one_reply_per_message(schedule, record, unconfirmed)
    _assert_nothing_lost(schedule, record)
    _assert_jobs_went_to_the_channel_queue(schedule)


# Where the opt-out falls among the turn's calls (the first message went out before): mostly right
# before its send, AI call, lookup or a record write; "any call" reaches the events processor's.
TURN_POINTS = ("send", "send", "send", "ai", "lookup", "record update", ANY_CALL)


# The AI answers (or fails for now) so most turns reach their send; its refusals are the test above's.
OPT_OUT_FAULTS = REPLY_FAULTS | RACING_SENDS | {"ai": (*_CALM, TRANSIENT, CRASH, HEARTBEAT)}


# The person opts out (issue 12) while their messages are recorded and answered: by writing STOP
# (posted 1-2 times between any two calls; the real events processor writes the list and closes the
# thread, a turn in flight is left to its own check), or by an entry another path writes (the
# unsubscribe link, a bounce, an operator) between any two calls. Before the turn's AI call, between
# the AI and the send, between the check right before the send and the provider call, after it,
# during a crash's redelivery or the DLQ's redrive.
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_an_opt_out_racing_the_reply_turns_stops_every_reply_after_it(aws, data):
    schedule = ReplySchedule(aws, data.draw, faults=OPT_OUT_FAULTS)
    how = data.draw(st.sampled_from(("STOP", "STOP", *OPT_OUTS)), label="the person opts out by")
    before = opt_out_point(data.draw, calls=60, points=TURN_POINTS)
    if how == "STOP":
        schedule.stop_between_calls(before, data.draw(st.integers(1, 2), label="posts of the STOP"))
    else:
        schedule.opt_out_between_calls(before, how)
    schedule.run()
    schedule.stop_if_pending()  # not reached: after everything
    schedule.opt_out_if_pending()
    schedule.run_sqs()
    schedule.redrive_everything()

    note(schedule.story())
    assert not [m for m in schedule.queue if m.dead], "a message is still in the DLQ after a fault-free redrive"
    record = schedule.repository.get(schedule.key)
    assert record is not None
    _assert_each_message_recorded_once(schedule, record)
    unconfirmed = _assert_every_write_moved_along_the_state_machine(schedule)
    _assert_at_most_one_reply_per_message(schedule, record, unconfirmed)
    _assert_nothing_lost(schedule, record)
    _assert_jobs_went_to_the_channel_queue(schedule)
    _assert_the_opt_out_held(schedule, record)


def _assert_the_opt_out_held(schedule: ReplySchedule, record: ConversationRecord) -> None:
    """No reply after the opt-out but one its own check cleared before it; a STOP closes the thread
    ``suppressed``; a turn whose check saw the opt-out ends it ``suppressed`` (or finds it moved
    on by another delivery)."""
    log = schedule.turnstile.log
    written = assert_nothing_reached_the_person_unchecked(log)
    assert written is not None, "the person's opt-out was never written"
    for case in where_the_opt_out_fell(log, written):
        event(case)
    status = record.conversation_status
    entry = schedule.suppression_entry()
    assert entry is not None and entry.is_active
    if schedule.stop is not None:
        assert status is _S.SUPPRESSED, f"the person wrote STOP and the thread ends {status}"
    assert_a_check_that_saw_the_opt_out_ended_the_record(log)
    if status is _S.SUPPRESSED:
        assert record.suppression_reason in (entry.reason, SuppressionReason.STOP_KEYWORD), (
            f"suppressed for {record.suppression_reason}, listed for {entry.reason}"
        )


def _assert_each_message_recorded_once(schedule: ReplySchedule, record: ConversationRecord) -> None:
    """Every message recorded once, in order; once the thread is closed (``suppressed``), what the
    person writes after is kept as unmatched instead."""
    users = [entry for entry in record.messages if entry.role == "user"]
    ids = [entry.message_id for entry in users]
    written = [inbound.provider_id for inbound in schedule.inbound]
    if record.conversation_status is _S.SUPPRESSED:
        assert len(set(ids)) == len(ids) and set(ids) <= set(written), f"the thread holds {ids} of {written}"
        for missing in set(written) - set(ids):
            assert _kept_unmatched(schedule, missing), f"{missing} is neither on the thread nor kept unmatched"
        written = ids
    assert sorted(ids) == sorted(written), f"the thread holds {ids}, the person wrote {written}"
    assert [entry.inbound_seq for entry in users] == list(range(1, len(written) + 1)), (
        f"inbound seqs {[entry.inbound_seq for entry in users]}"
    )
    assert record.inbound_message_ids == ids, f"inbound_message_ids {record.inbound_message_ids} vs entries {ids}"
    assert record.inbound_count == len(written)
    _assert_history_in_order(record)


def _kept_unmatched(schedule: ReplySchedule, inbound_id: str) -> bool:
    provider = "sendgrid" if schedule.channel is Channel.EMAIL else "twilio"
    key = {"provider_message_key": {"S": f"unmatched#{provider}#inbound#{inbound_id}"}}
    return "Item" in schedule.aws["dynamodb"].get_item(TableName=schedule.aws["messages_table"], Key=key)


def _assert_every_write_moved_along_the_state_machine(schedule: ReplySchedule) -> int:
    """Every write of the record, in order; returns how many turns ended ``reply_unconfirmed``."""
    states = [s for s in schedule.watch.states if s.get("conversation_id") == schedule.messages[0].conversation_id]
    unconfirmed = 0
    for before, after in itertools.pairwise(states):
        old, new = ConversationStatus(before["conversation_status"]), ConversationStatus(after["conversation_status"])
        assert old == new or may_move(old, new), f"the record moved {old} → {new}, outside TRANSITIONS"
        old_version, new_version = int(before.get("version", 0)), int(after.get("version", 0))
        assert new_version >= old_version, f"version went back {old_version} → {new_version} ({old} → {new})"
        if old != new:
            assert new_version > old_version, f"{old} → {new} without a new version"
        if int(after.get("inbound_count", 0)) > int(before.get("inbound_count", 0)):
            assert (new_version, new, after.get("written_by")) == (old_version, old, before.get("written_by")), (
                f"recording an inbound message moved the record {old}/v{old_version} → {new}/v{new_version}"
            )
        for counter in ("inbound_count", "answered_through"):
            assert int(after.get(counter, 0)) >= int(before.get(counter, 0)), f"{counter} went back"
        assert int(after.get("answered_through", 0)) <= int(after.get("inbound_count", 0)), (
            "answered past the messages recorded"
        )
        if new is _S.REPLY_UNCONFIRMED and old is not _S.REPLY_UNCONFIRMED:
            unconfirmed += 1
    return unconfirmed


def _assert_at_most_one_reply_per_message(
    schedule: ReplySchedule, record: ConversationRecord, unconfirmed: int
) -> None:
    replies = [m for m in schedule.provider.accepted if m.provider_message_id not in schedule.first]
    person = schedule.messages[0].recipient_address
    for reply in replies:
        assert reply.to.removeprefix("whatsapp:") == person, f"a reply went to {reply.to}"
        assert "evil.example" not in reply.body, "a link the project never supplied reached the person"
        _assert_threaded(schedule, reply)
    answers = [entry for entry in record.messages if entry.role == "assistant" and entry.answers_through is not None]
    through = [entry.answers_through for entry in answers]
    assert through == sorted(set(through)), f"replies answer overlapping ranges: answers_through {through}"
    assert not through or (through[0] >= 1 and through[-1] <= record.answered_through)
    accepted_ids = [reply.provider_message_id for reply in replies]
    entry_ids = [entry.message_id for entry in answers]
    assert len(set(entry_ids)) == len(entry_ids), f"one reply recorded twice: {entry_ids}"
    assert set(entry_ids) <= set(accepted_ids), f"the record names replies the provider never took: {entry_ids}"
    assert len(replies) <= len(answers) + unconfirmed, (
        f"the person got {len(replies)} replies; the record has {len(answers)} and {unconfirmed} unconfirmed"
    )
    assert len(replies) <= len(schedule.inbound), f"{len(replies)} replies to {len(schedule.inbound)} messages"
    assert all(entry.total_tokens > 0 for entry in answers), "a reply recorded without its token usage"
    assert record.ai_turns <= MAX_AI_TURNS, f"the AI wrote {record.ai_turns} replies; the project allows {MAX_AI_TURNS}"
    if not schedule.replies_on:
        assert not replies and not schedule.openai.answers, "the project answers no replies, yet the AI wrote one"


def _assert_threaded(schedule: ReplySchedule, reply: Accepted) -> None:
    """From the number the person wrote to; an email refers to the person's emails and carries the
    conversation's reply-to address."""
    config = schedule.aws["company"].channel_config
    if schedule.channel is Channel.SMS:
        assert reply.sender == config.sms.company_sms_number, f"an SMS reply came from {reply.sender}"
    elif schedule.channel is Channel.WHATSAPP:
        assert reply.sender == f"whatsapp:{config.whatsapp.company_whatsapp_number}", f"from {reply.sender}"
    else:
        mail = json.loads(reply.body)
        written = {inbound.provider_id for inbound in schedule.inbound}
        references = set(mail["headers"]["References"].split())
        assert references & written, f"an email reply names none of the person's emails: {references}"
        # In-Reply-To is the person's email, never the engine's previous reply (which follows the
        # person's message in the thread when they wrote while that reply's turn ran).
        parent = mail["headers"].get("In-Reply-To")
        assert parent in written, f"an email reply is In-Reply-To {parent}, not one of the person's emails"
        assert mail["reply_to"]["email"] == reply_address(schedule.record.gsi_reply_token, REPLY_DOMAIN)


def _assert_history_in_order(record: ConversationRecord) -> None:
    """The thread is in the order things happened: a reply comes after every message it answers
    (messages that arrived while its turn ran may come between)."""
    seen = 0  # the highest inbound seq before this entry
    for entry in record.messages:
        if entry.role == "user":
            seen = entry.inbound_seq or seen
        elif entry.answers_through is not None:
            assert entry.answers_through <= seen, f"a reply through {entry.answers_through} comes before seq {seen}"


def _assert_nothing_lost(schedule: ReplySchedule, record: ConversationRecord) -> None:
    status = record.conversation_status
    assert not status.turn_in_progress, f"the record is stuck in {status} with nothing left to deliver"
    if status is _S.SUPPRESSED:  # the person opted out: nothing is answered any more
        entry = schedule.suppression_entry()
        assert (entry is not None and entry.is_active) or schedule.stop is not None, "suppressed, yet not listed"
        return
    if not schedule.replies_on:
        assert (status, record.answered_through) == (_S.REPLY_RECEIVED, 0), f"replies off, the record ends {status}"
        return
    if record.answered_through >= record.inbound_count:
        return
    pending = f"messages {record.answered_through + 1}..{record.inbound_count} unanswered"
    if status is _S.NEEDS_HUMAN:
        assert record.handoff_reason, f"{pending}: needs_human without a handoff_reason"
        return
    assert status is _S.REPLY_NOT_SENT and record.failure_reason, f"{pending}, and the record ends {status}"
    assert REPLY_PERMANENT & schedule.faults(), (
        f"{pending} ({record.failure_reason}) though only transient faults happened"
    )


def _assert_jobs_went_to_the_channel_queue(schedule: ReplySchedule) -> None:
    for url, _, attributes in schedule.sqs.sent:
        assert url == QUEUE_URLS[schedule.channel], f"a {schedule.channel} reply job went to {url}"
        assert attributes.get("kind", {}).get("stringValue") == "reply"
        assert attributes.get("channel", {}).get("stringValue") == schedule.channel.value
