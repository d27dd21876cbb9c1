"""The documents to bring and the fiscal stamp, written for chat (a list) and for the phone (a short summary)."""

from __future__ import annotations

from dataclasses import dataclass

from actions.answer_values import Request
from knowledge.facts import CASES, Document, Facts, Fee
from knowledge.facts_schema import STAMP_DOCUMENT
from knowledge.town import TownFile

VOICE_DOCUMENTS = 3  # on the phone, the first few documents only: the full list is on the town website


@dataclass(frozen=True)
class Reply:
    """One answer in both forms: ``text`` for chat (links allowed), ``voice`` for the phone (no link, no long list)."""

    text: str
    voice: str


def website(town: TownFile) -> str:
    """The page about identity documents, else the town's website ("" if neither is set)."""
    return town.meeting_points[0].website or town.town.website


def _who(facts: Facts, request: Request) -> str:
    if request.minor is None:
        return ""
    if not request.minor:
        return "adulte"
    label = facts.case("mineur").label
    return f"{label} de {request.age} an{'s' if request.age != 1 else ''}" if request.age is not None else label


def _details(facts: Facts, case: str, request: Request) -> list[str]:
    return [d for d in (facts.case(case).label, _who(facts, request)) if d]


def title(facts: Facts, procedure: str, case: str, request: Request) -> str:
    """``la carte d'identité (perte, adulte)``."""
    return f"{facts.procedure(procedure).name} ({', '.join(_details(facts, case, request))})"


def fee_for(facts: Facts, request: Request) -> Fee | None:
    """The stamp for the known request; with the case unknown, the fee when it is the same for every reason."""
    if request.procedure is None:
        return None
    if request.case is not None:
        return facts.fee(request.procedure, request.case, request.age, minor=request.minor)
    reasons = [case for case in CASES if facts.case(case).kind == "reason"]
    fees = [facts.fee(request.procedure, reason, request.age, minor=request.minor) for reason in reasons]
    texts = list(dict.fromkeys(fee.text for fee in fees))
    voices = list(dict.fromkeys(fee.voice for fee in fees))
    if len(texts) == 1:
        return fees[0]
    # Not one fee: each distinct rule ("gratuite…", "25 € après une perte ou un vol") said once.
    return Fee(None, " ".join(texts), " ".join(voices), fees[0].source, fees[0].checked)


def fee_reply(facts: Facts, request: Request) -> Reply:
    """The stamp for what is known; the overview of all fees when the procedure is not known."""
    fee = fee_for(facts, request)
    if fee is None:
        overview = facts.answer("fees")
        return Reply(overview.text, overview.voice)
    return Reply(fee.text, fee.voice)


def _spoken_list(documents: list[Document]) -> str:
    return " ".join(doc.voice for doc in documents)


def documents_reply(facts: Facts, town: TownFile, request: Request, *, in_booking: bool = False) -> Reply:
    """The documents for the request. ``in_booking``: a short answer during another form (no notes, no link)."""
    procedure = request.procedure or "both"
    case = request.case or "premiere_demande"
    documents = facts.documents(procedure, case, age=request.age, minor=request.minor, hosted=request.hosted)
    fee = facts.fee(procedure, case, request.age, minor=request.minor)
    heading = title(facts, procedure, case, Request(procedure, case, request.minor, request.age))
    lines = [f"Documents à apporter pour {heading} :", *(f"- {doc.text}" for doc in documents)]
    main = [doc for doc in documents if doc.condition is None and not doc.key.startswith(STAMP_DOCUMENT)]
    count = len([doc for doc in documents if doc.condition is None])
    said = ", ".join([facts.procedure(procedure).name, *_details(facts, case, request)])
    spoken = [f"Pour {said}, il faut apporter {count} documents. Voici les principaux.",
              _spoken_list(main[:VOICE_DOCUMENTS])]
    if fee.amount is not None and not fee.stamp_needed:
        lines.append(fee.text)
    spoken.append(fee.voice)
    link = website(town)
    if in_booking:
        closing = "Je vous donnerai la liste complète à la fin de la prise de rendez-vous."
        return Reply("\n".join([*lines, closing]), " ".join([*spoken, closing]))
    notes = facts.notes(procedure, case, minor=request.minor, hosted=request.hosted)
    originals = facts.answer("originals")
    lines += [note.text for note in notes]
    lines.append(originals.text)
    spoken += [note.voice for note in notes]
    if link:
        lines.append(f"Toutes les informations : {link}")
    spoken.append("La liste complète est sur le site internet de la mairie.")
    return Reply("\n".join(lines), " ".join(spoken))


def contact_reply(town: TownFile) -> Reply:
    """Name, address, phone, e-mail and website of the service; the phone version without e-mail or link."""
    point = town.meeting_points[0]
    address = f"{point.address}, {point.zip_code} {point.city_name}"
    text = [f"{point.name}, {town.town.name} : {address}."]
    voice = [f"{point.name} : {address}."]
    if town.town.phone:
        text.append(f"Téléphone : {town.town.phone}.")
        voice.append(f"Vous pouvez appeler la mairie au {town.town.phone}.")
    if town.town.email:
        text.append(f"E-mail : {town.town.email}.")
    link = website(town)
    if link:
        text.append(f"Site internet : {link}")
        if town.town.email:
            voice.append("L'adresse e-mail est sur le site internet de la mairie.")
    return Reply(" ".join(text), " ".join(voice))
