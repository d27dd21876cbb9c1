"""France Titres – ANTS interfaces: the coordination (anti-duplicate) client and the editor endpoints."""
