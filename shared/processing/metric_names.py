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
# Consent (issue 12): first messages and replies not sent because the recipient is on the
# suppression list (checked before the AI call and right before each provider call).
SENDS_SUPPRESSED = "SendsSuppressed"
# Twilio refused a send for a reason about the person's address (21610, 21211…): suppressed too.
RECIPIENTS_SUPPRESSED_BY_PROVIDER = "RecipientsSuppressedByProvider"
# First messages whose conversation was created ``scheduled`` (send_at or quiet hours): counted
# once, by the delivery that created the record.
FIRST_MESSAGES_SCHEDULED = "FirstMessagesScheduled"

# The webhook ingress (service ``webhook-ingress``, issue 10): every refusal is counted, and
# refused signatures (missing, forged, another tenant's, a replayed SendGrid batch) once more on
# their own, which is what the alarm watches: a misconfigured tenant or an attack.
WEBHOOK_ACCEPTED = "WebhookAccepted"
WEBHOOK_REJECTED = "WebhookRejected"
WEBHOOK_SIGNATURE_REJECTED = "WebhookSignatureRejected"
# The one-click unsubscribe (issue 12, same service): a POST with a valid token (new or repeated),
# and a link whose token is malformed, altered or another key's (GET or POST). Kept apart from the
# webhook refusals: a mail scanner probing links is not a provider's signature failing.
UNSUBSCRIBE_REQUESTS = "UnsubscribeRequests"
UNSUBSCRIBE_REJECTED = "UnsubscribeRejected"

# The events processor (service ``events-processor``).
PROVIDER_EVENTS_APPLIED = "ProviderEventsApplied"
# A duplicate, or a status that would not move the message forward: nothing written.
PROVIDER_EVENTS_IGNORED = "ProviderEventsIgnored"
# No message of that tenant has the event's provider id: kept for inspection (``unmatched#…``).
PROVIDER_EVENTS_UNMATCHED = "ProviderEventsUnmatched"

# Replies (issue 11). The events processor: the person's messages recorded (once each), the
# repeats it recognised, and the ones no open conversation of the tenant took (kept, never answered).
INBOUND_RECORDED = "InboundMessagesRecorded"
INBOUND_DUPLICATES = "InboundMessagesDuplicate"
INBOUND_UNMATCHED = "InboundMessagesUnmatched"
# Recorded, but no reply job could be built: the project's record is gone or cannot serve the channel.
REPLY_JOBS_NOT_QUEUED = "ReplyJobsNotQueued"
# The channel processors: replies the AI wrote and sent, turns that ended without one, hand-overs
# to a person (the AI asked, or the AI-turn limit), and reply sends nobody can confirm.
REPLIES_SENT = "RepliesSent"
REPLIES_NOT_SENT = "RepliesNotSent"
REPLY_HANDOFFS = "ReplyHandoffs"
REPLY_UNCONFIRMED = "ReplyUnconfirmed"

# Consent (issue 12), the events processor: a person's opt-out keyword (or Twilio's OptOutType) that
# made their entry active, a START that lifted one, a HELP received; and addresses a provider event
# suppressed (a Twilio opt-out or invalid-number error, a SendGrid bounce, drop, unsubscribe, spam report).
OPT_OUTS_RECORDED = "OptOutsRecorded"
OPT_INS_RECORDED = "OptInsRecorded"
HELP_REQUESTS = "HelpRequests"
PROVIDER_SUPPRESSIONS_RECORDED = "ProviderSuppressionsRecorded"

# ---------------------------------------------------------------------------------------------
# Telemetry (issue 14): the contract between the code that emits and the dashboard and alarms
# that read. Dimensions are bounded sets only (service, channel, outcome, error code): never a
# company, project, conversation or address.
# ---------------------------------------------------------------------------------------------
ROUTER_SERVICE = "channel-router"
CHANNEL_DIMENSION = "channel"
OUTCOME_DIMENSION = "outcome"
ERROR_CODE_DIMENSION = "error_code"
# The error_code of an answer that had none (a 200).
NO_ERROR_CODE = "none"

# The router, one per request: dimensions {service: channel-router, outcome, error_code}; outcome is
# one of REQUEST_OUTCOMES, error_code one of shared.api_errors' codes (a bounded set) or NO_ERROR_CODE.
REQUESTS = "Requests"
REQUEST_ACCEPTED = "accepted"  # 200: a new conversation queued (or scheduled)
REQUEST_REPLAYED = "replayed"  # 200: the same request_id again, answered from the ledger, nothing queued
REQUEST_REJECTED = "rejected"  # 4xx: the client's to fix (validation, key, consent, rate limit)
REQUEST_FAILED = "failed"  # 5xx: ours (a dependency down, or a bug)
REQUEST_OUTCOMES = (REQUEST_ACCEPTED, REQUEST_REPLAYED, REQUEST_REJECTED, REQUEST_FAILED)

# The channel processors (dimension service = ``<channel>-processor``: that is the per-channel
# split), first messages and replies alike:
MESSAGES_WRITTEN = "MessagesWritten"  # the AI returned usable content (one per AI call that succeeded)
AI_LATENCY = "AiLatency"  # Milliseconds, one per AI call (successful or not)
AI_INPUT_TOKENS = "AiInputTokens"  # Count, from the response's usage
AI_OUTPUT_TOKENS = "AiOutputTokens"  # Count
PROVIDER_LATENCY = "ProviderLatency"  # Milliseconds, one per provider send call (Twilio/SendGrid)
# MESSAGES_SENT, REPLIES_SENT, PERMANENT_FAILURES… above are already per processor.

# The events processor (dimensions {service: events-processor, channel}): what providers reported
# about messages the engine sent, counted when the status was applied (a duplicate is not counted).
MESSAGES_DELIVERED = "MessagesDelivered"
MESSAGES_READ = "MessagesRead"
MESSAGES_UNDELIVERED = "MessagesUndelivered"  # failed/undelivered/bounced after the provider accepted it
# The person's messages recorded (once each) and opt-outs, per channel (same two dimensions).
REPLIES_RECEIVED = "RepliesReceived"
OPT_OUTS = "OptOuts"
