"""The desk: web chat live hand-over, operator console and escalation cases (aiohttp)."""
