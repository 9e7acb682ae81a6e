"""Webhook ingress: a provider's request → verified with the tenant's credentials → the events queue;
and the one-click unsubscribe link of every email → the suppression list."""

import os

from shared.webhooks.entrypoint import lambda_handler

handler = lambda_handler(os.environ)
