"""The citizen's page, ``/rendez-vous/{reference}``: the link the booking backend gives ANTS (``management_url``).

Plain server-rendered HTML forms (no script needed, readable by a screen reader, usable at 360 px): the reference
is in the link, the phone number the appointment was booked with is asked, and the backend checks both (and counts
failed guesses). The page then shows the appointment said the French way, the documents to bring (from the
knowledge base, as the bot gives them), a calendar file, a move among the real free slots, and a cancel button that
asks for confirmation first.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from guichet.french import display_phone, say_moment
from knowledge.facts import Facts
from knowledge.town import TownFile
from web.appointments import NotFound, Refused, TooManyAttempts, Unavailable
from web.http import CSP
from web.keys import APPOINTMENTS, CLOCK, FACTS, TOWN

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PROCEDURES = {"passport": "Passeport", "cni": "Carte nationale d'identité",
              "both": "Passeport et carte nationale d'identité"}
STATUSES = {"booked": "Confirmé", "cancelled": "Annulé", "honoured": "Honoré", "no_show": "Absence constatée"}
MAX_FIELD = 40  # a phone number or a reference: anything longer is not one
MAX_SLOT_ID = 200
MOVE_WINDOW_DAYS, MOVE_CHOICES = 30, 8  # the free slots offered for a move


@dataclass(frozen=True)
class Deadlines:
    """What the citizen may still do online (``town.yaml``: cancel until N hours, move until N days before)."""

    can_cancel: bool
    can_move: bool
    call: str  # whom to call once it is too late

    @classmethod
    def of(cls, town: TownFile, appointment: dict[str, Any], now: datetime) -> Deadlines:
        place = town.meeting_point(str((appointment.get("meeting_point") or {}).get("id"))) or town.meeting_points[0]
        left = datetime.fromisoformat(str(appointment["start"])) - now
        rules = place.schedule
        phone = town.town.phone
        call = f"appelez la mairie au {phone}" if phone else "appelez la mairie"
        return cls(left >= timedelta(hours=rules.cancel_until_hours), left >= timedelta(days=rules.move_until_days),
                   call)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, *, status: int = 200, town: str = "") -> web.Response:
    document = f"""<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} — {_e(town)}</title>
<link rel="stylesheet" href="/static/citizen.css">
</head>
<body>
<header><p class="town">Mairie de {_e(town)}</p></header>
<main id="contenu">
<h1>{_e(title)}</h1>
{body}
</main>
</body>
</html>
"""
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                                 "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _town_name(request: web.Request) -> str:
    """The town of the appointments: town.yaml's, the file a town edits (not the widget's display setting)."""
    return request.app[TOWN].town.name


def _reference(request: web.Request) -> str:
    return request.match_info["reference"].strip().upper()[:MAX_FIELD]


def _client(request: web.Request) -> str:
    return request.remote or "inconnu"


def _phone_form(reference: str, message: str = "", phone: str = "") -> str:
    error = f'<p class="erreur" role="alert" id="erreur">{_e(message)}</p>' if message else ""
    described = ' aria-describedby="erreur aide"' if message else ' aria-describedby="aide"'
    return f"""<p>Référence du rendez-vous : <strong>{_e(reference)}</strong></p>
{error}
<form method="post" action="/rendez-vous/{_e(reference)}">
<label for="telephone">Numéro de téléphone donné à la réservation</label>
<p class="aide" id="aide">Par exemple 06 12 34 56 78.</p>
<input id="telephone" name="telephone" type="tel" autocomplete="tel" inputmode="tel" required
 maxlength="{MAX_FIELD}" value="{_e(phone)}"{described}>
<button type="submit">Voir mon rendez-vous</button>
</form>"""


def _documents(facts: Facts, procedure: str) -> str:
    documents = facts.documents(procedure, "renouvellement")
    items = "\n".join(f"<li>{_e(d.text)}</li>" for d in documents)
    return f"""<h2>Documents à apporter</h2>
<p>Pour un renouvellement. Pour une première demande, une perte, un vol ou un mineur, la liste change :
demandez-la à l'assistant de la mairie ou au guichet.</p>
<ul class="documents">
{items}
</ul>"""


def _appointment(appointment: dict[str, Any], facts: Facts, town: TownFile, now: datetime, phone: str,
                 notice: str = "") -> str:
    reference = str(appointment.get("reference") or "")
    start = datetime.fromisoformat(str(appointment["start"]))
    place = appointment.get("meeting_point") or {}
    address = ", ".join(str(place.get(k)) for k in ("name", "address") if place.get(k))
    city = " ".join(str(place.get(k)) for k in ("zip_code", "city_name") if place.get(k))
    people = int(appointment.get("people") or 1)
    status = str(appointment.get("status") or "")
    said = say_moment(start, today=now.date(), with_year=start.year != now.year)
    banner = f'<p class="annonce" role="status">{_e(notice)}</p>' if notice else ""
    parts = [banner, f"""<dl class="rendez-vous">
<dt>Date</dt><dd>{_e(_capital(said))}</dd>
<dt>Lieu</dt><dd>{_e(address)}{"<br>" + _e(city) if city else ""}</dd>
<dt>Démarche</dt><dd>{_e(PROCEDURES.get(str(appointment.get("procedure")), "Titre d'identité"))}</dd>
<dt>Personnes</dt><dd>{people}</dd>
<dt>Référence</dt><dd>{_e(appointment.get("reference_display") or reference)}</dd>
<dt>Téléphone</dt><dd>{_e(display_phone(phone))}</dd>
<dt>État</dt><dd>{_e(STATUSES.get(status, status))}</dd>
</dl>"""]
    if status == "booked" and start > now:
        hidden = f'<input type="hidden" name="telephone" value="{_e(phone)}">'
        parts.append(f"""<form method="post" action="/rendez-vous/{_e(reference)}/calendrier.ics">
{hidden}<button type="submit">Ajouter à mon agenda (fichier .ics)</button>
</form>""")
        deadlines = Deadlines.of(town, appointment, now)
        if deadlines.can_move:
            parts.append(f"""<form method="post" action="/rendez-vous/{_e(reference)}/deplacer">
{hidden}<button type="submit">Choisir un autre créneau</button>
</form>""")
        else:
            parts.append(f"<p>Pour changer de créneau, il est trop tard en ligne : {_e(deadlines.call)}.</p>")
        parts.append(_documents(facts, str(appointment.get("procedure") or "passport")))
        if deadlines.can_cancel:
            parts.append(f"""<h2>Annuler</h2>
<p>Vous ne pourrez pas venir ? Annulez : le créneau ira à quelqu'un d'autre.</p>
<form method="post" action="/rendez-vous/{_e(reference)}/annuler">
{hidden}<input id="confirmer" name="confirmer" type="checkbox" value="oui" required>
<label for="confirmer">Je confirme l'annulation de ce rendez-vous</label>
<button type="submit" class="danger">Annuler le rendez-vous</button>
</form>""")
        else:
            parts.append(f"""<h2>Annuler</h2>
<p>Il est trop tard pour annuler en ligne. Vous ne pourrez pas venir ? {_e(_capital(deadlines.call))} :
le créneau ira à quelqu'un d'autre.</p>""")
    return "\n".join(p for p in parts if p)


def _refusal(request: web.Request, reference: str, exc: Exception, phone: str) -> web.Response:
    town = _town_name(request)
    if isinstance(exc, NotFound):
        return _page("Mon rendez-vous", _phone_form(
            reference, "Aucun rendez-vous ne correspond à cette référence et à ce numéro. Vérifiez-les.", phone),
            status=404, town=town)
    if isinstance(exc, TooManyAttempts):
        minutes = max(1, round(exc.retry_after_s / 60))
        page = _page("Mon rendez-vous", _phone_form(
            reference, f"Trop d'essais pour ce rendez-vous. Réessayez dans {minutes} minute"
            f"{'s' if minutes > 1 else ''}, ou appelez la mairie."), status=429, town=town)
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    if isinstance(exc, Refused):
        return _page("Mon rendez-vous", _phone_form(reference, str(exc), phone), status=400, town=town)
    return _page("Service momentanément indisponible", "<p>Le service des rendez-vous ne répond pas pour le "
                 "moment. Réessayez dans quelques minutes, ou appelez la mairie.</p>", status=503, town=town)


async def _phone(request: web.Request) -> str:
    form = await request.post()
    return str(form.get("telephone") or "").strip()[:MAX_FIELD]


@routes.get("/rendez-vous/{reference}")
async def ask_phone(request: web.Request) -> web.Response:
    return _page("Mon rendez-vous", _phone_form(_reference(request)), town=_town_name(request))


@routes.post("/rendez-vous/{reference}")
async def show(request: web.Request) -> web.Response:
    return await _show(request)


async def _show(request: web.Request) -> web.Response:
    reference, phone = _reference(request), await _phone(request)
    try:
        appointment = await request.app[APPOINTMENTS].find(reference, phone, client=_client(request))
    except (NotFound, TooManyAttempts, Refused, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    body = _appointment(appointment, request.app[FACTS], request.app[TOWN], request.app[CLOCK].now(), phone)
    return _page("Mon rendez-vous", body, town=_town_name(request))


@routes.post("/rendez-vous/{reference}/annuler")
async def cancel(request: web.Request) -> web.Response:
    reference, phone = _reference(request), await _phone(request)
    if (await request.post()).get("confirmer") != "oui":
        return await _show(request)  # not confirmed: the page again, nothing cancelled
    too_late = await _too_late(request, reference, phone, "cancel")
    if too_late is not None:
        return too_late
    try:
        appointment = await request.app[APPOINTMENTS].cancel(reference, phone, client=_client(request))
    except (NotFound, TooManyAttempts, Refused, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    log.info("appointment cancelled by the citizen on the page")
    body = _appointment(appointment, request.app[FACTS], request.app[TOWN], request.app[CLOCK].now(), phone,
                        "Votre rendez-vous est annulé. Le créneau est libéré.")
    return _page("Rendez-vous annulé", body, town=_town_name(request))


@routes.post("/rendez-vous/{reference}/deplacer")
async def move(request: web.Request) -> web.Response:
    """Without a chosen slot: the free ones to choose from; with one: the appointment moved to it."""
    reference, phone = _reference(request), await _phone(request)
    slot_id = str((await request.post()).get("creneau") or "").strip()[:MAX_SLOT_ID]
    too_late = await _too_late(request, reference, phone, "move")
    if too_late is not None:
        return too_late
    if not slot_id:
        return await _choices(request, reference, phone)
    try:
        moved = await request.app[APPOINTMENTS].reschedule(reference, phone, slot_id, client=_client(request))
    except Refused as exc:  # taken meanwhile, or not a slot for this appointment: choose again
        return await _choices(request, reference, phone, str(exc))
    except (NotFound, TooManyAttempts, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    log.info("appointment moved by the citizen on the page")
    now = request.app[CLOCK].now()
    said = say_moment(datetime.fromisoformat(str(moved["start"])), today=now.date())
    body = _appointment(moved, request.app[FACTS], request.app[TOWN], now, phone,
                        f"Votre rendez-vous est déplacé : {said}.")
    return _page("Rendez-vous déplacé", body, town=_town_name(request))


async def _choices(request: web.Request, reference: str, phone: str, message: str = "") -> web.Response:
    appointments, town = request.app[APPOINTMENTS], _town_name(request)
    try:
        current = await appointments.find(reference, phone, client=_client(request))
        now = request.app[CLOCK].now()
        first = now.date() + timedelta(days=1)
        slots = await appointments.free_slots(str(current.get("procedure")), int(current.get("people") or 1),
                                              first, first + timedelta(days=MOVE_WINDOW_DAYS), limit=MOVE_CHOICES)
    except (NotFound, TooManyAttempts, Refused, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    slots = [s for s in slots if s.get("start") != current.get("start")]
    error = f'<p class="erreur" role="alert">{_e(message)}</p>' if message else ""
    back = f"""<form method="post" action="/rendez-vous/{_e(reference)}">
<input type="hidden" name="telephone" value="{_e(phone)}"><button type="submit">Garder mon rendez-vous</button>
</form>"""
    if not slots:
        return _page("Choisir un autre créneau", f"""{error}<p>Aucun créneau libre dans les {MOVE_WINDOW_DAYS}
prochains jours. Gardez votre rendez-vous, ou appelez la mairie.</p>{back}""", town=town)
    options = "\n".join(
        f'<div class="choix"><input type="radio" name="creneau" id="creneau-{i}" value="{_e(slot["id"])}"'
        f'{" required" if i == 0 else ""}><label for="creneau-{i}">'
        f'{_e(_capital(say_moment(datetime.fromisoformat(str(slot["start"])), today=now.date())))}</label></div>'
        for i, slot in enumerate(slots))
    start = datetime.fromisoformat(str(current["start"]))
    return _page("Choisir un autre créneau", f"""{error}
<p>Votre rendez-vous actuel : {_e(say_moment(start, today=now.date()))}. Il n'est changé qu'une fois le nouveau
créneau choisi.</p>
<form method="post" action="/rendez-vous/{_e(reference)}/deplacer">
<input type="hidden" name="telephone" value="{_e(phone)}">
<fieldset><legend>Créneaux libres</legend>
{options}
</fieldset>
<button type="submit">Déplacer mon rendez-vous</button>
</form>
{back}""", town=town)


async def _too_late(request: web.Request, reference: str, phone: str, what: str) -> web.Response | None:
    """The page again, with whom to call, when ``what`` (cancel, move) is past its deadline; None while allowed."""
    try:
        appointment = await request.app[APPOINTMENTS].find(reference, phone, client=_client(request))
    except (NotFound, TooManyAttempts, Refused, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    now = request.app[CLOCK].now()
    deadlines = Deadlines.of(request.app[TOWN], appointment, now)
    if (deadlines.can_cancel if what == "cancel" else deadlines.can_move):
        return None
    doing = "annuler" if what == "cancel" else "changer de créneau"
    body = _appointment(appointment, request.app[FACTS], request.app[TOWN], now, phone,
                        f"Il est trop tard pour {doing} en ligne : {deadlines.call}.")
    return _page("Mon rendez-vous", body, status=409, town=_town_name(request))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@routes.post("/rendez-vous/{reference}/calendrier.ics")
async def calendar(request: web.Request) -> web.Response:
    reference, phone = _reference(request), await _phone(request)
    try:
        appointment = await request.app[APPOINTMENTS].find(reference, phone, client=_client(request))
    except (NotFound, TooManyAttempts, Refused, Unavailable) as exc:
        return _refusal(request, reference, exc, phone)
    return web.Response(body=ics(appointment, request.app[CLOCK].now()).encode(),
                        content_type="text/calendar", charset="utf-8", headers={
                            "Content-Disposition": f'attachment; filename="rendez-vous-{reference}.ics"',
                            "Cache-Control": "no-store"})


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(appointment: dict[str, Any], now: datetime) -> str:
    """An iCalendar (RFC 5545) event for the appointment, in UTC, with the reference and a reminder the day before."""
    start = datetime.fromisoformat(str(appointment["start"]))
    end = datetime.fromisoformat(str(appointment["end"]))
    place = appointment.get("meeting_point") or {}
    where = ", ".join(str(place.get(k)) for k in ("name", "address", "zip_code", "city_name") if place.get(k))
    what = PROCEDURES.get(str(appointment.get("procedure")), "Titre d'identité")
    reference = str(appointment.get("reference_display") or appointment.get("reference") or "")
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//guichet//rendez-vous//FR", "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT", f"UID:{_ics_text(str(appointment.get('reference')))}@guichet", f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(start)}", f"DTEND:{_utc(end)}", f"SUMMARY:{_ics_text('Rendez-vous en mairie : ' + what)}",
        f"LOCATION:{_ics_text(where)}",
        f"DESCRIPTION:{_ics_text(f'Référence {reference}. Apportez les documents demandés.')}",
        "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-P1D", f"DESCRIPTION:{_ics_text('Rendez-vous en mairie demain')}",
        "END:VALARM", "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"
