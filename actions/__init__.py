"""Custom actions of the dialogue (rasa-sdk): `python -m rasa_sdk --actions actions` registers every module here."""
