"""What the console shows in French: reasons, outcomes, channels, and "ce que l'assistant sait déjà"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from guichet.clock import PARIS

REASONS = {"asked": "Le citoyen a demandé un agent", "not_understood": "L'assistant n'a pas compris",
           "booking_unavailable": "Le service de rendez-vous ne répondait pas",
           "technical": "Problème technique pendant l'appel",
           "silence": "Appelant silencieux : il a demandé à être rappelé (touche 1)"}
CHANNELS = {"socketio": "Chat du site", "rest": "Chat (API)", "voice": "Téléphone"}
OUTCOMES = {"renseigne": "Renseignement donné", "rendez_vous_pris": "Rendez-vous pris",
            "rendez_vous_modifie": "Rendez-vous déplacé ou annulé", "rappele": "Citoyen rappelé",
            "injoignable": "Citoyen injoignable", "sans_suite": "Sans suite"}
STATUSES = {"open": "En attente", "claimed": "Pris en charge", "resolved": "Résolu"}
_PROCEDURES = {"passport": "Passeport", "cni": "Carte d'identité", "both": "Passeport et carte d'identité"}
_CASES = {"premiere_demande": "Première demande", "renouvellement": "Renouvellement", "perte": "Perte",
          "vol": "Vol", "deterioration": "Titre détérioré", "changement_de_nom": "Changement de nom"}
_AGES = {"adulte": "Majeur", "mineur": "Mineur"}
_PURPOSES = {"check": "Consulter son rendez-vous", "cancel": "Annuler son rendez-vous",
             "move": "Déplacer son rendez-vous"}
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
# Order and labels of the collected data; anything else is shown under its own name.
_LABELS = {"procedure": "Démarche", "people": "Nombre de personnes", "case": "Situation", "age_group": "Âge",
           "predemande_ids": "Numéros de pré-demande", "when": "Date souhaitée", "chosen_slot": "Créneau choisi",
           "person_name": "Nom", "phone": "Téléphone", "reference": "Référence du rendez-vous",
           "appointment": "Rendez-vous trouvé", "purpose": "Demande"}


def moment(value: Any) -> str:
    """``2026-11-26T14:00:00+01:00`` → ``jeudi 26 novembre 2026 à 14 h 00`` (the input itself if unreadable)."""
    try:
        at = datetime.fromisoformat(str(value)).astimezone(PARIS)
    except ValueError:
        return str(value)
    return f"{_DAYS[at.weekday()]} {at.day} {_MONTHS[at.month - 1]} {at.year} à {at.hour} h {at.minute:02d}"


def _when(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("text"):
            return str(value["text"])
        if value.get("earliest"):
            return "Le plus tôt possible"
        windows = value.get("windows") or []
        if windows and isinstance(windows[0], dict):
            return ", ".join(moment(w.get("start")) for w in windows[:3])
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} : {_plain(v)}" for k, v in value.items())
    return str(value)


def _value(key: str, value: Any) -> str:
    if key == "procedure":
        return _PROCEDURES.get(str(value), str(value))
    if key == "case":
        return _CASES.get(str(value), str(value))
    if key == "age_group":
        return _AGES.get(str(value), str(value))
    if key == "purpose":
        return _PURPOSES.get(str(value), str(value))
    if key == "people" and str(value).isdigit():
        return f"{value} personne" + ("s" if int(value) > 1 else "")
    if key == "when":
        return _when(value)
    if key == "chosen_slot" and isinstance(value, dict) and value.get("start"):
        return moment(value["start"])
    if key == "appointment" and isinstance(value, dict):
        parts = [str(value.get("reference") or ""), moment(value["start"]) if value.get("start") else "",
                 _PROCEDURES.get(str(value.get("procedure")), ""), str(value.get("status") or "")]
        return " — ".join(p for p in parts if p)
    return _plain(value)


def known(collected: dict[str, Any]) -> list[dict[str, str]]:
    """Readable ``[{"label", "value"}]`` of what the bot collected, in a stable order."""
    keys = [k for k in _LABELS if k in collected] + sorted(k for k in collected if k not in _LABELS)
    return [{"key": k, "label": _LABELS.get(k, k), "value": _value(k, collected[k])} for k in keys
            if collected[k] not in (None, "", [], {})]
