"""The Rasa project (domain, data, config) and its custom input channels (bot.channels)."""
