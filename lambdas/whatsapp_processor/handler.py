"""WhatsApp processor: SQS batch → the processing pipeline → a WhatsApp Content template via Twilio."""

import os

from shared.processing.adapters.twilio_channels import WhatsAppChannel
from shared.processing.entrypoint import lambda_handler

handler = lambda_handler(WhatsAppChannel(), os.environ)
