"""How a request to ``POST /initiate-conversation`` ended, as the ``Requests`` metric counts it.

The router decides the outcome where it knows it (a new request queued, a replay answered from the
ledger, a named refusal); the handler only counts it. Dimensions are bounded sets: the outcome and
the API's own error codes, never a tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shared.api_errors import ApiError, InternalError
from shared.processing import metric_names


@dataclass(frozen=True)
class RequestOutcome:
    outcome: str  # one of metric_names.REQUEST_OUTCOMES
    error_code: str  # an ApiError's code, or metric_names.NO_ERROR_CODE


ACCEPTED = RequestOutcome(metric_names.REQUEST_ACCEPTED, metric_names.NO_ERROR_CODE)
REPLAYED = RequestOutcome(metric_names.REQUEST_REPLAYED, metric_names.NO_ERROR_CODE)
# The handler's outermost catch: a bug or a failure nobody named, answered 500 INTERNAL_ERROR.
UNEXPECTED = RequestOutcome(metric_names.REQUEST_FAILED, InternalError.error_code)


def refused(error: ApiError) -> RequestOutcome:
    """4xx is the client's to fix (rejected); 5xx is ours (failed)."""
    outcome = metric_names.REQUEST_FAILED if error.status_code >= 500 else metric_names.REQUEST_REJECTED
    return RequestOutcome(outcome, error.error_code)


@dataclass(frozen=True)
class Routed:
    """The proxy response and how the request ended."""

    response: dict[str, Any]
    outcome: RequestOutcome


def count_request(outcome: RequestOutcome, *, namespace: str = metric_names.NAMESPACE) -> None:
    """One ``Requests`` data point, printed now as its own EMF document: its dimensions are this
    request's alone, also when one process serves requests concurrently (the local stack's
    function host), which Powertools ``Metrics``' shared dimension set would mix up."""
    with single_metric(
        name=metric_names.REQUESTS,
        unit=MetricUnit.Count,
        value=1,
        namespace=namespace,
        default_dimensions={metric_names.SERVICE_DIMENSION: metric_names.ROUTER_SERVICE},
    ) as metric:
        metric.add_dimension(name=metric_names.OUTCOME_DIMENSION, value=outcome.outcome)
        metric.add_dimension(name=metric_names.ERROR_CODE_DIMENSION, value=outcome.error_code)
