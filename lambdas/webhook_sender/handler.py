"""Webhook sender: SQS FIFO batch of tenant events → signed POSTs to each project's webhook URL."""

import os

from shared.tenant_webhooks.entrypoint import lambda_handler

handler = lambda_handler(os.environ)
