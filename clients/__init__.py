"""Clients shared by several services, each beside its fake or fallback: the desk's case API and the callback
outbox used when the desk is down (the action server and the phone gateway both file callback cases)."""
