"""French language understanding: training data, date/time resolution and the Rasa components using it."""
