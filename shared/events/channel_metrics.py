"""The events processor's counts per channel: what providers reported about the engine's messages
(delivered, read, undelivered), the person's messages recorded, and their opt-outs.

One batch mixes channels, but Powertools ``Metrics`` flushes one dimension set per invocation, so
each count here is its own EMF document (``single_metric``) with dimensions {service, channel}:
the one way this processor emits a per-record dimension. Counted only where the write took
effect (a status applied, a message recorded once, an entry created): a duplicate counts nothing.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shared.channels import Channel
from shared.consent.suppressions import SuppressionReason
from shared.events.delivery_status import is_failure
from shared.processing import metric_names

SERVICE = "events-processor"

# A provider status that ends a message's delivery, as the metric that counts it. ``sent`` and the
# other steps on the way are not counted; SendGrid's ``open`` is engagement, not ``read`` (a mail
# client's image proxy opens every message, and a person may open one many times).
_DELIVERED = frozenset({"delivered", "partially_delivered"})
_READ = frozenset({"read"})

# Suppressions that are the person's own choice (a keyword, Twilio's opt-out, an unsubscribe, a spam
# report); a bounce or an invalid number says the address is bad, not that the person said no.
OPT_OUT_REASONS = frozenset(
    {
        SuppressionReason.STOP_KEYWORD,
        SuppressionReason.PROVIDER_OPT_OUT,
        SuppressionReason.UNSUBSCRIBE_LINK,
        SuppressionReason.SPAM_REPORT,
    }
)


def delivery_metric(status: str) -> str | None:
    """The metric an applied delivery status counts in, or None for a step on the way."""
    if status in _DELIVERED:
        return metric_names.MESSAGES_DELIVERED
    if status in _READ:
        return metric_names.MESSAGES_READ
    if is_failure(status):
        return metric_names.MESSAGES_UNDELIVERED
    return None


class ChannelCounts:
    def __init__(self, *, namespace: str = metric_names.NAMESPACE, service: str = SERVICE):
        self._namespace = namespace
        self._dimensions = {metric_names.SERVICE_DIMENSION: service}

    def count(self, name: str, channel: Channel | str) -> None:
        """One data point of ``name`` for ``channel``, printed now as its own EMF document."""
        with single_metric(
            name=name, unit=MetricUnit.Count, value=1, namespace=self._namespace, default_dimensions=self._dimensions
        ) as metric:
            metric.add_dimension(name=metric_names.CHANNEL_DIMENSION, value=Channel(channel).value)

    def delivery(self, status: str, channel: Channel | str) -> None:
        """An applied delivery status, counted when it is an outcome (delivered, read, undelivered)."""
        name = delivery_metric(status)
        if name is not None:
            self.count(name, channel)

    def opt_out(self, reason: SuppressionReason, channel: Channel | str) -> None:
        """A suppression entry just created, counted as an opt-out when the person chose it."""
        if reason in OPT_OUT_REASONS:
            self.count(metric_names.OPT_OUTS, channel)
