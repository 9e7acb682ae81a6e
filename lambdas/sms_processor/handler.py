"""SMS processor: SQS batch → the processing pipeline → an SMS via Twilio."""

import os

from shared.processing.adapters.twilio_channels import SmsChannel
from shared.processing.entrypoint import lambda_handler

handler = lambda_handler(SmsChannel(), os.environ)
