"""The webhook sender's CloudWatch metrics (service ``webhook-sender``), for its dashboards and alarms."""

WEBHOOKS_DELIVERED = "WebhooksDelivered"
# An attempt that will be made again (5xx, 408, 429, timeout, connection failure).
WEBHOOK_DELIVERY_RETRIED = "WebhookDeliveryRetried"
# Given up: a 4xx, a refused target, no usable webhook or secret, or a day of retries.
WEBHOOKS_DEAD_LETTERED = "WebhooksDeadLettered"
# The URL or an address its host resolved to was refused (SSRF rule): a misconfigured tenant or an attack.
WEBHOOK_TARGET_REFUSED = "WebhookTargetRefused"
