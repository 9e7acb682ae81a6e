"""Tenant events (issue 13): derived from the conversations table's stream, logged and queued."""
