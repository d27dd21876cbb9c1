"""HTTP edge of the desk: French JSON errors (never a 500 page), body parsing and bounded texts, security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from guichet.text import storable_json

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DeskError(Exception):
    """A refusal the caller can understand: HTTP status, stable code, French message."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.headers = headers or {}


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def error_body(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
          413: "request_too_large"}
_MESSAGES = {404: "Adresse inconnue.", 405: "Méthode non autorisée sur cette adresse.",
             401: "Authentification requise.", 403: "Accès refusé.", 413: "Requête trop volumineuse."}
# The console and the demo page load only their own scripts and styles; no inline script can run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self' ws: wss: http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except DeskError as exc:
        response = error_body(exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_body(exc.status, _CODES.get(exc.status, "http_error"), _MESSAGES.get(exc.status, exc.reason))
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        response = error_body(500, "internal_error", "Erreur interne : réessayez dans un instant.")
    if not response.prepared:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise DeskError("Le corps de la requête doit être du JSON (Content-Type: application/json).",
                        status=415, code="unsupported_media_type")
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DeskError("Corps de requête JSON invalide.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise DeskError("Le corps de la requête doit être un objet JSON.", code="invalid_json")
    cleaned: dict[str, Any] = storable_json(body)
    return cleaned


def bounded_text(value: Any, what: str, *, limit: int, required: bool = True) -> str:
    """A text as given (kept verbatim: shown as text, never as HTML), refused when missing or too long."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise DeskError(f"« {what} » doit être un texte non vide.", code="invalid_text")
    if len(value) > limit:
        raise DeskError(f"« {what} » est trop long ({len(value)} caractères, {limit} au plus).",
                        code="text_too_long")
    return value


def integer(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DeskError(f"« {what} » doit être un nombre entier.", code="invalid_number") from None
    if number < 1 or number > 2**62:
        raise DeskError(f"« {what} » est hors limites.", code="invalid_number")
    return number
