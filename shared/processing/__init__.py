"""The channel processors' domain: one pipeline (``pipeline``), the conversation record's store,
credentials, the AI writer, one sender per provider and one adapter per channel."""
