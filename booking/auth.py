"""Token checks for staff and ANTS endpoints (constant-time comparison; no token configured means no access)."""

from __future__ import annotations

import hmac

from booking.domain import BookingError


class Unauthorized(BookingError):
    code = "unauthorized"
    status = 401


def require_token(presented: str | None, expected: str | None, *, what: str) -> None:
    if not expected:
        raise Unauthorized(f"Accès {what} désactivé : aucun jeton n'est configuré sur ce serveur.")
    # Headers may carry any bytes (decoded with surrogate escapes): compare bytes, never fail on odd ones.
    if not presented or not hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected.encode()):
        raise Unauthorized(f"Jeton {what} manquant ou invalide.")


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None
