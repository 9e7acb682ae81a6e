"""Delivery of tenant events to the project's webhook URL (issue 13): Standard Webhooks, from a FIFO queue."""
