"""Email processor: SQS batch → the processing pipeline → an email via SendGrid."""

import os

from shared.processing.adapters.email import EmailChannel
from shared.processing.entrypoint import lambda_handler

handler = lambda_handler(EmailChannel(), os.environ)
