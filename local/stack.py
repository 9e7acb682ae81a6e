"""Starts and stops the whole local engine: emulator, sandboxes, functions, gateway, pollers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.api_keys import ApiKeyStore
from local.aws_emulator import AwsEmulator, release_hidden_messages
from local.emulator import LocalResources, provision
from local.env_file import write_env_file
from local.gateway import LocalApiGateway, RouteThrottle
from local.invoker import FunctionPool
from local.person_directory import EmulatorDirectory
from local.pollers import QueuePoller
from local.providers import ProviderChoice, choose_providers
from local.sandboxes.person import EmailPerson, TwilioPerson
from local.scheduler import LocalScheduler
from local.seed import Tenant, connect_webhooks, create_api, seed_sample_tenant
from local.state import StateSummary
from local.state import remove as remove_state
from local.state import restore as restore_state
from local.state import save as save_state
from local.stream_poller import StreamPoller
from shared import tables
from shared.channels import ALL_CHANNELS, Channel
from shared.events.settings import EventsSettings
from shared.processing.settings import ProcessorSettings
from shared.reading.settings import ReaderSettings
from shared.routing.settings import RouterSettings
from shared.tenant_events.settings import TenantEventsSettings
from shared.tenant_webhooks.settings import WebhookSenderSettings
from shared.webhooks.routes import SENDGRID_EVENTS, SENDGRID_INBOUND, TWILIO_INBOUND, TWILIO_STATUS
from shared.webhooks.settings import WebhookSettings
from stacks.names import (
    CONVERSATION_READER,
    EVENTS_PROCESSOR,
    TENANT_EVENTS,
    WEBHOOK_INGRESS,
    WEBHOOK_SENDER,
    physical_name,
)
from stacks.settings import EnvironmentSettings, load_settings

log = logging.getLogger("local.stack")
ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-north-1"
EXAMPLE_REQUEST = ROOT / "examples" / "initiate_request.example.json"
LOCAL_VERSION = "local"

# Offsets from the base port; the defaults stay clear of the usual 3000/5000/8000/8080/4566.
PORTS = {"api": 0, "aws": 1, "openai": 2, "twilio": 3, "sendgrid": 4}
DEFAULT_PORT_BASE = 4750
# The first retry of a failed tenant webhook delivery: 1 s locally (then 2, 4, …), so a test's
# receiver that answers 500 gets the event again within seconds; AWS waits 30 s.
LOCAL_WEBHOOK_RETRY_BASE_SECONDS = 1


@dataclass
class LocalStackOptions:
    port_base: int = DEFAULT_PORT_BASE  # 0: every component on a free ephemeral port
    state_dir: Path = ROOT / ".local"
    environment: str = "dev"
    # Seconds before a failed message is retried; the deployed engine uses its settings' value.
    retry_backoff_seconds: int = 1
    # Processes per processor, one invocation each at a time, as Lambda runs them. Two start in
    # about 3 s and overlap batches; None: the event source's maximum concurrency (5 in dev, as
    # deployed — about 7 s and 1.4 GB), which the benchmark uses.
    processor_instances: int | None = 2
    router_instances: int = 2
    # The state saved by the last stop (tables, queues, secrets, keys, outbox) is restored on
    # start and saved again on stop; reset_state (make local-reset) forgets it first.
    reset_state: bool = False

    def port(self, component: str) -> int:
        return 0 if self.port_base == 0 else self.port_base + PORTS[component]

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state" / "snapshot.json"


@dataclass
class LocalStack:
    options: LocalStackOptions = field(default_factory=LocalStackOptions)
    settings: EnvironmentSettings = field(init=False)
    resources: LocalResources = field(init=False)
    tenant: Tenant = field(init=False)
    providers: ProviderChoice = field(init=False)
    gateway: LocalApiGateway = field(init=False)
    _moto: Any = None
    _sandboxes: Any = None
    _functions: dict[str, FunctionPool] = field(default_factory=dict)
    _pollers: list[QueuePoller | StreamPoller] = field(default_factory=list)
    _scheduler: LocalScheduler | None = None
    restored: StateSummary | None = None  # what start() restored (None: seeded afresh)
    saved: StateSummary | None = None  # what stop() saved
    _up = False  # save only a stack that came up whole: never overwrite good state with a torso

    def start(self) -> LocalStack:
        self.settings = load_settings(self.options.environment)
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        (self.options.state_dir / "logs").mkdir(exist_ok=True)
        try:
            self._start_aws()
            self._start_sandboxes()
            # Bound first: its URL is the public base URL the functions and the sandboxes' webhook
            # settings are given.
            self._bind_gateway()
            self._restore_or_seed()
            self._start_functions()
            self.gateway.start()
            self._start_pollers()
            self.write_env_file()
        except BaseException:
            self.stop()
            raise
        self._up = True
        return self

    def _restore_or_seed(self) -> None:
        state_file = self.options.state_file
        if self.options.reset_state and remove_state(state_file):
            log.info("forgot the saved local state (%s)", state_file)
        if state_file.exists():
            self.tenant, self.restored = restore_state(
                state_file, self.resources, self._api, self._sandboxes, providers=self.providers.kinds()
            )
        else:
            self.tenant = seed_sample_tenant(self.resources, self._api, self.providers.secrets)
        # After a restore too: the gateway's URL (and so the webhook URLs) may have changed.
        if self._sandboxes is not None and not self.providers.real_sendgrid:
            connect_webhooks(self.resources, self.tenant, self._sandboxes.sendgrid, self.gateway.url)
        self._attach_persons()

    def _attach_persons(self) -> None:
        """The sandboxes play the person who answers (``make reply``), for the providers they stand in for."""
        if self._sandboxes is None:
            return
        directory = EmulatorDirectory(self.resources)
        twilio, sendgrid = self._sandboxes.twilio, self._sandboxes.sendgrid
        if not self.providers.real_twilio:
            twilio.person = TwilioPerson(twilio, directory, self.gateway.url)
        if not self.providers.real_sendgrid:
            sendgrid.person = EmailPerson(sendgrid, directory, self.gateway.url)

    @property
    def processor_instances(self) -> int:
        return self.options.processor_instances or self.settings.processor.max_concurrency

    @property
    def sandboxes(self) -> Any:
        """The running provider sandboxes (None when every provider is real)."""
        return self._sandboxes

    def stop(self) -> None:
        """Stop every part that started, in reverse order; one part failing to stop does not
        leave the others (processes above all) running."""
        steps: list[Callable[[], None]] = [poller.signal_stop for poller in self._pollers]
        if self._scheduler is not None:
            steps.append(self._scheduler.stop)
        steps += [poller.join for poller in self._pollers]
        if hasattr(self, "gateway"):
            steps.append(self.gateway.stop)
        steps += [function.stop for function in self._functions.values()]
        steps.append(lambda: (self.options.state_dir / "workers.json").unlink(missing_ok=True))  # stale pids
        # A batch still in flight failed with its worker and went back to its queue: save after.
        steps += [poller.join for poller in self._pollers]
        if self._up:
            steps.append(self._save_state)
        if self._sandboxes is not None:
            steps.append(self._sandboxes.stop)
        if self._moto is not None:
            steps.append(self._moto.stop)
        for step in steps:
            try:
                step()
            except Exception:  # keep stopping the rest; say what failed
                log.exception("stopping the local stack: %s failed", getattr(step, "__qualname__", step))

    def _save_state(self) -> None:
        if self._scheduler is not None:  # moto's schedules are not saved; their wake-ups are, as messages
            self._scheduler.fire_due(early=True)
        released = release_hidden_messages()  # the emulator runs in this process
        if released:
            log.info("%d message(s) hidden for a retry will be delivered again after the restart", released)
        self.saved = save_state(
            self.options.state_file,
            self.resources,
            self._api,
            self.tenant,
            self._sandboxes,
            providers=self.providers.kinds(),
        )

    # -- the parts, in start order -------------------------------------------------------------

    def _start_aws(self) -> None:
        self._moto = AwsEmulator(port=self.options.port("aws"))
        self._moto.start()
        self.resources = provision(self.settings, endpoint_url=self._moto.endpoint_url, region=REGION)
        self._api = create_api(self.resources, self.settings)

    def _start_sandboxes(self) -> None:
        self.providers = choose_providers()
        if self.providers.any_sandbox:
            from local.sandboxes import start_all

            self._sandboxes = start_all(
                ports={name: self.options.port(name) for name in ("openai", "twilio", "sendgrid")},
                whatsapp_window=True,
            )

    def _aws_environment(self, service_name: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.resources.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": "AiMultiComms",
            "POWERTOOLS_LOG_LEVEL": self.settings.log_level,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": physical_name(service_name, self.settings.name),
        }

    def _consent_settings(self) -> dict[str, str]:
        return {
            "suppressions_table_name": self.resources.table_name(tables.SUPPRESSIONS.logical_name),
            "consent_key_secret_id": self.resources.consent_key_secret_id,
        }

    # The functions' own variables are rendered from their settings models, as the CDK app does.
    def router_environment(self) -> dict[str, str]:
        settings = RouterSettings(
            environment=self.settings.name,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            rate_limit_table_name=self.resources.table_name(tables.RATE_LIMITS.logical_name),
            whatsapp_queue_url=self.resources.queues[Channel.WHATSAPP].queue_url,
            sms_queue_url=self.resources.queues[Channel.SMS].queue_url,
            email_queue_url=self.resources.queues[Channel.EMAIL].queue_url,
            router_version=LOCAL_VERSION,
            public_base_url=self.gateway.url,
            **self._consent_settings(),
        )
        return {
            **self._aws_environment("channel-router"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.settings.router.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.settings.router.timeout_seconds),
            **settings.to_environment(),
        }

    def processor_environment(self, channel: Channel) -> dict[str, str]:
        processor = self.settings.processor
        sandboxes = self._sandboxes
        settings = ProcessorSettings(
            channel=channel,
            environment=self.settings.name,
            conversations_table_name=self.resources.table_name(tables.CONVERSATIONS.logical_name),
            provider_messages_table_name=self.resources.table_name(tables.PROVIDER_MESSAGES.logical_name),
            queue_url=self.resources.queues[channel].queue_url,
            dead_letter_queue_url=self.resources.queues[channel].dlq_url,
            **self._consent_settings(),
            conversation_retention_days=self.settings.data.conversation_retention_days,
            scheduler_group_name=self.resources.scheduler_group_name,
            scheduler_role_arn=self.resources.scheduler_role_arn,
            heartbeat_interval_seconds=processor.heartbeat_interval_seconds,
            visibility_timeout_seconds=self.settings.queues.visibility_timeout_seconds,
            retry_backoff_seconds=self.options.retry_backoff_seconds,
            processor_version=LOCAL_VERSION,
            openai_base_url=None if sandboxes is None or self.providers.real_openai else sandboxes.openai.url,
            twilio_api_base_url=None if sandboxes is None or self.providers.real_twilio else sandboxes.twilio.url,
            sendgrid_api_host=None if sandboxes is None or self.providers.real_sendgrid else sandboxes.sendgrid.url,
        )
        return {
            **self._aws_environment(f"{channel.value}-processor"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(processor.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(processor.timeout_seconds),
            **settings.to_environment(),
        }

    def webhook_environment(self) -> dict[str, str]:
        webhooks = self.settings.webhooks
        settings = WebhookSettings(
            environment=self.settings.name,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            events_queue_url=self.resources.events_queue.queue_url,
            # What `make local` prints as API_URL: signatures are computed over it.
            public_base_url=self.gateway.url,
            **self._consent_settings(),
        )
        return {
            **self._aws_environment(WEBHOOK_INGRESS),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(webhooks.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(webhooks.timeout_seconds),
            **settings.to_environment(),
        }

    def events_environment(self) -> dict[str, str]:
        events = self.settings.events
        settings = EventsSettings(
            environment=self.settings.name,
            conversations_table_name=self.resources.table_name(tables.CONVERSATIONS.logical_name),
            provider_messages_table_name=self.resources.table_name(tables.PROVIDER_MESSAGES.logical_name),
            queue_url=self.resources.events_queue.queue_url,
            dead_letter_queue_url=self.resources.events_queue.dlq_url,
            visibility_timeout_seconds=events.visibility_timeout_seconds,
            max_receive_count=self.settings.queues.max_receive_count,
            retry_backoff_seconds=self.options.retry_backoff_seconds,
            processor_version=LOCAL_VERSION,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            whatsapp_queue_url=self.resources.queues[Channel.WHATSAPP].queue_url,
            sms_queue_url=self.resources.queues[Channel.SMS].queue_url,
            email_queue_url=self.resources.queues[Channel.EMAIL].queue_url,
            **self._consent_settings(),
            conversation_retention_days=self.settings.data.conversation_retention_days,
        )
        return {
            **self._aws_environment(EVENTS_PROCESSOR),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(events.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(events.timeout_seconds),
            **settings.to_environment(),
        }

    def reader_environment(self) -> dict[str, str]:
        reader = self.settings.reader
        settings = ReaderSettings(
            environment=self.settings.name,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            conversations_table_name=self.resources.table_name(tables.CONVERSATIONS.logical_name),
            consent_key_secret_id=self.resources.consent_key_secret_id,
        )
        return {
            **self._aws_environment(CONVERSATION_READER),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(reader.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(reader.timeout_seconds),
            **settings.to_environment(),
        }

    def tenant_events_environment(self) -> dict[str, str]:
        events = self.settings.tenant_events
        settings = TenantEventsSettings(
            environment=self.settings.name,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            webhook_events_table_name=self.resources.table_name(tables.WEBHOOK_EVENTS.logical_name),
            webhook_queue_url=self.resources.webhooks_queue.queue_url,
            conversation_retention_days=self.settings.data.conversation_retention_days,
        )
        return {
            **self._aws_environment(TENANT_EVENTS),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(events.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(events.timeout_seconds),
            **settings.to_environment(),
        }

    def webhook_sender_environment(self) -> dict[str, str]:
        sender = self.settings.webhook_sender
        settings = WebhookSenderSettings(
            environment=self.settings.name,
            company_table_name=self.resources.table_name(tables.COMPANY_DATA.logical_name),
            webhook_events_table_name=self.resources.table_name(tables.WEBHOOK_EVENTS.logical_name),
            webhook_queue_url=self.resources.webhooks_queue.queue_url,
            webhook_dlq_url=self.resources.webhooks_queue.dlq_url,
            retry_base_seconds=LOCAL_WEBHOOK_RETRY_BASE_SECONDS,
            # A test's receiver listens on 127.0.0.1 over http://; private addresses stay refused.
            allow_local_targets=True,
        )
        return {
            **self._aws_environment(WEBHOOK_SENDER),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(sender.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(sender.timeout_seconds),
            **settings.to_environment(),
        }

    def _start_functions(self) -> None:
        logs = self.options.state_dir / "logs"
        size = self.processor_instances
        # The request paths (API Gateway in front) are sized alike; the events processor and the
        # webhook sender like a channel processor (their own maximum concurrency when asked for).
        events_size = self.options.processor_instances or self.settings.events.max_concurrency
        sender_size = self.options.processor_instances or self.settings.webhook_sender.max_concurrency
        for key, folder, environment, instances in (
            ("router", "channel_router", self.router_environment(), self.options.router_instances),
            ("webhook_ingress", "webhook_ingress", self.webhook_environment(), self.options.router_instances),
            ("events_processor", "events_processor", self.events_environment(), events_size),
            ("conversation_reader", "conversation_reader", self.reader_environment(), self.options.router_instances),
            # One invocation at a time per stream shard, as Lambda's stream event source runs it.
            ("tenant_events", "tenant_events", self.tenant_events_environment(), 1),
            ("webhook_sender", "webhook_sender", self.webhook_sender_environment(), sender_size),
        ):
            self._functions[key] = FunctionPool(
                folder,
                environment,
                size=instances,
                log_file=logs / f"{folder.replace('_', '-')}.log",
                on_replaced=self.write_workers_file,
            )
        for channel in ALL_CHANNELS:
            self._functions[channel.value] = FunctionPool(
                f"{channel.value}_processor",
                self.processor_environment(channel),
                size=size,
                log_file=logs / f"{channel.value}-processor.log",
                on_replaced=self.write_workers_file,
            )
        with ThreadPoolExecutor(len(self._functions)) as pool:
            list(pool.map(lambda function: function.wait_ready(), self._functions.values()))
        self.write_workers_file()

    def write_workers_file(self) -> Path:
        """``workers.json``: the pids of each function's worker processes, rewritten when one is
        replaced (to find, watch or kill them)."""
        path = self.options.state_dir / "workers.json"
        pids = {function.folder: function.pids() for function in self._functions.values()}
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(pids, indent=2))
        temporary.replace(path)
        return path

    def _bind_gateway(self) -> None:
        keys = ApiKeyStore(self.resources.client("apigateway"), self._api.rest_api_id, self._api.stage)
        self.gateway = LocalApiGateway(
            stage=self._api.stage,
            keys=keys,
            invoke_router=lambda event: self._functions["router"].invoke(event),
            invoke_webhook_ingress=lambda event: self._functions["webhook_ingress"].invoke(event),
            invoke_reader=lambda event: self._functions["conversation_reader"].invoke(event),
            webhook_throttle=RouteThrottle(
                self.settings.webhooks.throttle_rate_limit, self.settings.webhooks.throttle_burst_limit
            ),
            port=self.options.port("api"),
        )

    def _start_pollers(self) -> None:
        # The conversations table's stream from LATEST, after the restore (the records it put back
        # are not news) and before the queues are consumed (their work's changes are).
        tenant_events = self.settings.tenant_events
        self._pollers.append(
            StreamPoller(
                name="tenant-events",
                streams=self.resources.client("dynamodbstreams"),
                stream_arn=self.resources.conversations_stream_arn,
                invoke=self._functions["tenant_events"].invoke,
                batch_size=tenant_events.batch_size,
                max_retries=tenant_events.retry_attempts,
            ).start()
        )
        # As many pollers per queue as its event source's maximum concurrency, each taking batches
        # of the deployed size: a batch in flight does not hold up the next one, as with Lambda.
        processor, events, sender = self.settings.processor, self.settings.events, self.settings.webhook_sender
        sources = [
            (channel.value, self.resources.queues[channel].queue_url, processor.batch_size, processor.max_concurrency)
            for channel in ALL_CHANNELS
        ]
        events_queue = self.resources.events_queue.queue_url
        sources.append(("events_processor", events_queue, events.batch_size, events.max_concurrency))
        webhooks_queue = self.resources.webhooks_queue.queue_url
        sources.append(("webhook_sender", webhooks_queue, sender.batch_size, sender.max_concurrency))
        sqs = self.resources.client("sqs", max_connections=4 * sum(concurrency for *_, concurrency in sources))
        # The wake-ups of scheduled first messages: moto keeps the schedules, this fires them.
        self._scheduler = LocalScheduler(
            scheduler=self.resources.client("scheduler"), sqs=sqs, group_name=self.resources.scheduler_group_name
        ).start()
        for function_key, queue_url, batch_size, concurrency in sources:
            function = self._functions[function_key]
            for index in range(concurrency):
                self._pollers.append(
                    QueuePoller(
                        name=f"{function.folder.removesuffix('_processor')}-{index}",
                        sqs=sqs,
                        queue_url=queue_url,
                        invoke=lambda event, context=None, function=function: function.invoke(event),
                        batch_size=batch_size,
                    ).start()
                )

    # -- what a person sees ----------------------------------------------------------------------

    def env_values(self) -> dict[str, str]:
        values = {
            "API_URL": self.gateway.url,
            "API_KEY": self.tenant.api_key,
            "API_KEY_ID": self.tenant.api_key_id,
            "AWS_ENDPOINT_URL": self.resources.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,  # the variable boto3 reads (operator tools, the aws CLI)
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "ENVIRONMENT": self.settings.name,
            "COMPANY_ID": self.tenant.company_id,
            "PROJECT_ID": self.tenant.project_id,
            # Where the seeded tenant's providers post; a hand-made callback signs these URLs.
            "TWILIO_STATUS_URL": TWILIO_STATUS.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id),
            "SENDGRID_EVENTS_URL": SENDGRID_EVENTS.url(
                self.gateway.url, self.tenant.company_id, self.tenant.project_id
            ),
            # Where the person's replies arrive. The Inbound Parse URL needs ``?token=`` too: the
            # token is a secret (the tenant's email secret), never in this file; `make reply` posts for you.
            "TWILIO_INBOUND_URL": TWILIO_INBOUND.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id),
            "SENDGRID_INBOUND_URL": SENDGRID_INBOUND.url(
                self.gateway.url, self.tenant.company_id, self.tenant.project_id
            ),
        }
        if self._sandboxes is not None:
            values |= {
                "OPENAI_SANDBOX_URL": self._sandboxes.openai.url,
                "TWILIO_SANDBOX_URL": self._sandboxes.twilio.url,
                "SENDGRID_SANDBOX_URL": self._sandboxes.sendgrid.url,
            }
        if not self.providers.real_twilio:
            # The sandbox's fake token, which the tenant's Twilio secret holds: signs a hand-made
            # status callback. Never a real token (its name is not one the stack reads as real).
            values["TWILIO_SANDBOX_AUTH_TOKEN"] = self.providers.secrets.twilio_auth_token
        return values

    def write_env_file(self) -> Path:
        return write_env_file(self.options.state_dir / "env", self.env_values())

    def _state_line(self) -> str:
        where = self.options.state_file
        now = f"restored ({self.restored.describe()})" if self.restored else "fresh: the seed only"
        return (
            f"{now}\n            saved on stop to {where}: tables, queues and DLQs, secrets, API keys,"
            "\n            outbox; restored on the next start. Start clean: make local-reset"
        )

    def banner(self) -> str:
        curl = (
            f"curl -sS -X POST '{self.gateway.url}/initiate-conversation' \\\n"
            f"  -H 'x-api-key: {self.tenant.api_key}' -H 'Content-Type: application/json' \\\n"
            f"  -d @{EXAMPLE_REQUEST.relative_to(ROOT)}"
        )
        providers = "sandboxes" if self._sandboxes is not None else "real providers"
        return "\n".join(
            [
                "",
                "AI Multi-Comms Engine — local stack is up",
                f"  API URL   {self.gateway.url}",
                f"  API key   {self.tenant.api_key}",
                f"  AWS       {self.resources.endpoint_url} (moto)",
                f"  Providers {providers}",
                f"  Tenant    {self.tenant.company_id} / {self.tenant.project_id}",
                f"  Webhooks  {TWILIO_STATUS.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id)}",
                f"            {SENDGRID_EVENTS.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id)}",
                f"  Replies   {TWILIO_INBOUND.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id)}",
                f"            {SENDGRID_INBOUND.url(self.gateway.url, self.tenant.company_id, self.tenant.project_id)}"
                "?token=…",
                f"  Env file  {self.options.state_dir / 'env'}",
                f"  State     {self._state_line()}",
                "",
                "Try it:",
                curl,
                "",
                "Then see what happened:  make show  (conversations with processing and delivery status, outbox, DLQs)",
                "Answer as the person:    make reply CONVERSATION=<id> TEXT='Yes, I have a licence'",
                "The thread:              make show WHAT=conversation CONVERSATION=<id>",
                f"Read it through the API:  curl -sS '{self.gateway.url}/conversations?company_id="
                f"{self.tenant.company_id}&project_id={self.tenant.project_id}' -H 'x-api-key: {self.tenant.api_key}'",
                "Tenant events to a URL:  .venv/bin/python -m local.tenant_webhook --url http://127.0.0.1:9000/events"
                "  (prints the signing secret once)",
                "Operate it:              .venv/bin/comms --help  (tenants, keys, secrets, DLQs…; --env local)",
                "Stop with Ctrl-C.",
                "",
            ]
        )
