"""The knowledge base: YAML facts the bot says and the booking backend books by (one source of truth)."""
