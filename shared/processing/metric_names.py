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
