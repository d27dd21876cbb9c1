"""Custom Rasa 3.6 graph components (imported by the dialogue server only; thin wrappers over nlu/)."""
