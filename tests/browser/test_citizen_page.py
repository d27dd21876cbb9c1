"""The citizen follows the link the booking backend gives ANTS (``management_url``) in a real Chromium at 360 px:
gives the phone number with the keyboard, reads the appointment and its documents, moves it to another free slot,
cancels; axe-core finds no serious problem on any page, and the appointment is cancelled in the booking API."""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.chat import grave, run_axe
from tests.integration.stack import Stack

PHONE = "06 12 34 56 78"


def _api(stack: Stack, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.booking_url + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_g_the_link_given_to_ants_shows_moves_and_cancels_the_appointment(stack: Stack, browser: Browser) -> None:
    start = date.today() + timedelta(days=7)
    slots = _api(stack, f"/api/v1/slots?procedure=cni&from={start}&to={start + timedelta(days=14)}&limit=1")
    booked = _api(stack, "/api/v1/appointments", {"slot_id": slots["slots"][0]["id"], "procedure": "cni",
                                                  "people": 1, "name": "Lucie Moreau", "phone": PHONE})
    assert booked["management_url"].startswith(str(stack.desk_url)), booked["management_url"]
    context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 640})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(booked["management_url"])
        expect(page.get_by_role("heading", level=1)).to_have_text("Mon rendez-vous")
        problems = grave(run_axe(page), "the phone form")
        field = page.get_by_label("Numéro de téléphone donné à la réservation")
        field.focus()
        page.keyboard.type("0612345678")
        page.keyboard.press("Enter")  # the keyboard alone is enough
        expect(page.locator("dl.rendez-vous")).to_contain_text("Carte nationale d'identité")
        expect(page.get_by_role("heading", name="Documents à apporter")).to_be_visible()
        assert page.locator("ul.documents li").count() >= 3
        problems += grave(run_axe(page), "the appointment")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width} px wide on a 360 px screen"
        page.get_by_role("button", name="Choisir un autre créneau").click()
        expect(page.get_by_role("group", name="Créneaux libres")).to_be_visible()
        problems += grave(run_axe(page), "the free slots")
        page.get_by_role("radio").first.check()
        page.get_by_role("button", name="Déplacer mon rendez-vous").click()
        expect(page.get_by_role("status")).to_contain_text("Votre rendez-vous est déplacé")
        page.get_by_label("Je confirme l'annulation de ce rendez-vous").check()
        page.get_by_role("button", name="Annuler le rendez-vous").click()
        expect(page.get_by_role("status")).to_contain_text("Votre rendez-vous est annulé")
        assert not problems, "\n".join(problems)
    finally:
        context.close()
    found = _api(stack, f"/api/v1/appointments/{booked['reference']}?phone=0612345678")
    assert found["status"] == "cancelled"
