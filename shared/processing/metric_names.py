"""Names of the processors' CloudWatch metrics (Powertools EMF), shared with the alarms that watch them."""

NAMESPACE = "AiMultiComms"
# Dimension Powertools adds to every metric: the function's service name, ``<channel>-processor``.
SERVICE_DIMENSION = "service"

RECORDS_RECEIVED = "RecordsReceived"
MESSAGES_SENT = "MessagesSent"
SENDS_RECONCILED = "SendsReconciled"
SEND_UNCONFIRMED = "SendUnconfirmed"
PERMANENT_FAILURES = "PermanentFailures"
TRANSIENT_FAILURES = "TransientFailures"
MALFORMED_MESSAGES = "MalformedMessages"
UNEXPECTED_FAILURES = "UnexpectedFailures"
# Generated messages refused because they named a link, number or address the project did not supply.
CONTENT_CHECK_FAILURES = "ContentCheckFailures"

# The webhook ingress (service ``webhook-ingress``, issue 10): every refusal is counted, and
# refused signatures (missing, forged, another tenant's, a replayed SendGrid batch) once more on
# their own, which is what the alarm watches: a misconfigured tenant or an attack.
WEBHOOK_ACCEPTED = "WebhookAccepted"
WEBHOOK_REJECTED = "WebhookRejected"
WEBHOOK_SIGNATURE_REJECTED = "WebhookSignatureRejected"

# The events processor (service ``events-processor``).
PROVIDER_EVENTS_APPLIED = "ProviderEventsApplied"
# A duplicate, or a status that would not move the message forward: nothing written.
PROVIDER_EVENTS_IGNORED = "ProviderEventsIgnored"
# No message of that tenant has the event's provider id: kept for inspection (``unmatched#…``).
PROVIDER_EVENTS_UNMATCHED = "ProviderEventsUnmatched"
