"""Tenant events: the conversations table's stream → events logged and queued for the project's webhook."""

import os

from shared.tenant_events.entrypoint import lambda_handler

handler = lambda_handler(os.environ)
