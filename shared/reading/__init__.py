"""The tenant's read API (issue 13): GET /conversations/{conversation_id} and GET /conversations."""
