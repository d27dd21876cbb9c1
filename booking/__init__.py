"""The booking backend: the town hall's appointment system for passport and identity-card applications."""
