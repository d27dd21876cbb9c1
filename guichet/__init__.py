"""Cross-cutting helpers shared by every service of the guichet project (clock, privacy, logging)."""
