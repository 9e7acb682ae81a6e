"""Webhook ingress: a provider's request → verified with the tenant's credentials → the events queue."""

import os

from shared.webhooks.entrypoint import lambda_handler

handler = lambda_handler(os.environ)
