"""rasa-sdk's plugin package: ``python -m rasa_sdk`` imports ``rasa_sdk_plugins`` when it is on the path and calls
``init_hooks(manager)``. deploy/Procfile and the action-server image put this folder on PYTHONPATH, which adds
``GET /metrics`` to the action server (actions/metrics.py)."""

from actions.metrics import init_hooks

__all__ = ["init_hooks"]
