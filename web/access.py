"""Who is asking: the operator's session from the cookie, the CSRF check, roles, and case ownership."""

from __future__ import annotations

from aiohttp import web

from web.auth import CSRF_HEADER, SESSION_COOKIE, origin_allowed, same
from web.http import DeskError
from web.keys import SESSIONS, SETTINGS
from web.store import Case, Session

SAFE = ("GET", "HEAD", "OPTIONS")


def host_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def check_origin(request: web.Request) -> None:
    if not origin_allowed(request.headers.get("Origin"), host_origin(request), request.app[SETTINGS].public_url):
        raise DeskError("Requête venant d'un autre site : refusée.", status=403, code="bad_origin")


async def operator_session(request: web.Request) -> Session:
    """The logged-in operator's session (401 otherwise); state-changing requests also need the CSRF header."""
    session = await request.app[SESSIONS].find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise DeskError("Connectez-vous pour accéder à la console.", status=401, code="login_required")
    if request.method not in SAFE:
        check_origin(request)
        if not same(request.headers.get(CSRF_HEADER), session.csrf):
            raise DeskError("Jeton anti-CSRF manquant ou invalide : rechargez la page.", status=403,
                            code="csrf_failed")
    return session


def require_supervisor(session: Session) -> None:
    if not session.operator.supervisor:
        raise DeskError("Réservé aux superviseurs.", status=403, code="forbidden_role")


def require_owner(session: Session, case: Case, *, action: str) -> None:
    """Only the operator who took the case (or a supervisor) may act on it."""
    if case.status == "resolved":
        raise DeskError("Ce dossier est déjà résolu.", status=409, code="case_resolved")
    if case.claimed_by is None:
        raise DeskError(f"Prenez d'abord le dossier en charge pour {action}.", status=409, code="not_claimed")
    if case.claimed_by != session.operator.id and not session.operator.supervisor:
        raise DeskError(f"Ce dossier est pris en charge par {case.claimed_by_name} : vous ne pouvez pas {action}.",
                        status=403, code="claimed_by_another")
