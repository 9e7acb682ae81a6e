"""Events processor: SQS batch of verified provider events → delivery status on the messages they name."""

import os

from shared.events.entrypoint import lambda_handler

handler = lambda_handler(os.environ)
