"""The citizen's chat widget in Chromium against the real stack: booking end to end, reload, keyboard, axe-core,
hostile input, a 360 px phone screen. The demo town page (`/` of the desk) hosts the widget with one script tag."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import Browser, Page, expect

from tests.browser.chat import LAUNCHER, Widget, another_site, grave, no_horizontal_scroll, run_axe, session_id
from tests.integration.stack import Stack


def _open(stack: Stack, page: Page) -> Widget:
    assert stack.desk_url
    page.goto(stack.desk_url + "/")
    widget = Widget(page)
    widget.open()
    widget.wait_for("Que souhaitez-vous")  # the bot greets with its buttons
    return widget


def test_a_citizen_books_an_appointment_through_the_widget(stack: Stack, page: Page) -> None:
    w = _open(stack, page)
    page.evaluate("""() => {  // record each time the typing indicator shows or hides
        const typing = document.getElementById('guichet-widget').shadowRoot.querySelector('.gw-typing');
        window.__typing = [];
        new MutationObserver(() => window.__typing.push(typing.hidden ? 'hidden' : 'shown'))
            .observe(typing, {attributes: true, attributeFilter: ['hidden']});
    }""")
    w.click("Prendre rendez-vous", "passeport, une carte d'identité")
    assert page.evaluate("window.__typing") == ["shown", "hidden"]  # while the bot was answering
    expect(page.get_by_text("L'assistant écrit…")).to_be_hidden()
    w.click("Passeport", "combien de personnes")
    w.click("2", "pré-demande")
    w.click("Non", "quel jour")
    w.click("Le plus tôt possible", "créneaux")
    offered = w.buttons().all_inner_texts()
    assert len(offered) == 4 and offered[3] == "D'autres créneaux", w.transcript()
    w.click(offered[0], "nom")
    w.say("Marie Dupont", "téléphone")
    recap = w.say("06 12 34 56 78", "je récapitule")
    assert "Marie Dupont" in recap and "06 12 34 56 78" in recap, w.transcript()
    done = w.say("oui", "c'est réservé")
    reference = re.search(r"référence : ([2-9A-Z]{4})-([2-9A-Z]{4})", done)
    assert reference, w.transcript()
    # The buttons' titles are the citizen's messages; answered buttons cannot be clicked again.
    assert w.messages("user") == ["Prendre rendez-vous", "Passeport", "2", "Non", "Le plus tôt possible", offered[0],
                                  "Marie Dupont", "06 12 34 56 78", "oui"]
    assert page.locator(".gw-reply:enabled").count() == 0
    assert page.locator(".gw-reply:disabled").count() >= 16
    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT name, phone, people, procedure, status, channel FROM appointments "
                         "WHERE reference = ?", (reference[1] + reference[2],)).fetchone()
    assert row == ("Marie Dupont", "+33612345678", 2, "passport", "booked", "chat"), w.transcript()
    assert w.errors == [] and w.dialogs == []


def test_b_a_reload_keeps_the_history_and_the_conversation_goes_on(stack: Stack, page: Page) -> None:
    w = _open(stack, page)
    w.click("Prendre rendez-vous", "passeport, une carte d'identité")
    w.click("Carte d'identité", "combien de personnes")
    before = (w.messages("bot"), w.messages("user"))
    session = session_id(page)
    assert session, "no session id kept in localStorage"

    page.reload()
    w = Widget(page)
    expect(page.get_by_role("dialog", name="Assistant de la mairie")).to_be_visible()  # still open
    expect(page.locator(".gw-msg--bot")).to_have_count(len(before[0]))
    assert (w.messages("bot"), w.messages("user")) == before
    assert session_id(page) == session
    assert w.buttons().all_inner_texts() == ["1", "2", "3"]  # only the last question's buttons are live
    # The dialogue server kept the conversation: the booking form goes on where it was, no new greeting.
    w.click("1", "pré-demande")
    w.click("Non", "quel jour")
    assert sum("Que souhaitez-vous" in m for m in w.messages("bot")) == 1, w.transcript()
    # Left alone for more than 12 hours, the conversation is forgotten by the browser (shared computers).
    page.evaluate("""() => {
        const key = Object.keys(localStorage).find(k => k.endsWith(':seen'));
        localStorage.setItem(key, JSON.stringify(Date.now() - 13 * 3600 * 1000));
    }""")
    page.reload()
    w = Widget(page)
    w.wait_for("Que souhaitez-vous")  # a new greeting, nothing else
    assert w.messages("user") == [] and len(w.messages("bot")) == 1
    assert session_id(page) not in (None, session)
    assert w.errors == []


def test_d_accessibility_of_the_demo_page_with_the_widget_open(stack: Stack, page: Page) -> None:
    assert stack.desk_url
    page.goto(stack.desk_url + "/")
    found = grave(run_axe(page), "demo page")
    w = Widget(page)
    w.open()
    w.wait_for("Que souhaitez-vous")
    w.click("Documents à apporter", "passeport, une carte")
    found += grave(run_axe(page), "demo page, widget open")
    assert found == [], "\n".join(found)
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.get_by_role("link", name="Aller au contenu")).to_have_attribute("href", "#contenu")
    for role in ("banner", "main", "contentinfo", "navigation"):
        expect(page.get_by_role(role).first).to_be_attached()
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_have_attribute("aria-live", "polite")


def _focused(page: Page) -> str:
    """What has the focus, inside the widget's shadow root or in the page: class name or text."""
    focused: str = page.evaluate("""() => {
        const root = document.getElementById('guichet-widget').shadowRoot;
        if (root && root.activeElement) return root.activeElement.id || root.activeElement.className;
        return document.activeElement.textContent.trim();
    }""")
    return focused


def test_d_the_widget_is_usable_with_the_keyboard_only(stack: Stack, page: Page) -> None:
    assert stack.desk_url
    page.goto(stack.desk_url + "/")
    page.keyboard.press("Tab")
    assert _focused(page) == "Aller au contenu"
    for _ in range(60):
        page.keyboard.press("Tab")
        if _focused(page) == "gw-launcher":
            break
    else:
        raise AssertionError("the launcher cannot be reached with Tab")
    launcher = page.get_by_role("button", name=LAUNCHER)
    ring = launcher.evaluate("e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]")
    assert ring[0] != "none" and ring[1] >= 2, ring  # a visible focus ring
    page.keyboard.press("Enter")
    assert _focused(page) == "gw-input"  # the panel opens on the message field
    w = Widget(page)
    w.wait_for("Que souhaitez-vous")
    page.keyboard.press("Shift+Tab")  # the last quick reply comes right before the field
    assert _focused(page) == "gw-reply"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "Horaires"
    w.wait_for("samedi")
    assert _focused(page) == "gw-input"  # back on the field, ready to type
    assert w.messages("user") == ["Horaires"]
    page.keyboard.type("merci")
    page.keyboard.press("Enter")
    w.wait_new(0, who="user")
    assert w.messages("user")[-1] == "merci"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Assistant de la mairie")).to_be_hidden()
    assert _focused(page) == "gw-launcher"  # the focus goes back to the launcher
    expect(launcher).to_have_attribute("aria-expanded", "false")


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('xss');window.__pwned=1</script>",
    '"><svg onload=alert(2)><a href="javascript:alert(3)">clic</a>',
    "Bonjour 🙂🛂📅 👨‍👩‍👧‍👦 passeport 🇫🇷",
    "مرحبا، أريد موعدا لجواز السفر",
    "שלום, אני רוצה תור לדרכון",
]


def test_e_hostile_input_is_shown_as_text_and_breaks_nothing(stack: Stack, page: Page) -> None:
    w = _open(stack, page)
    for n, text in enumerate(HOSTILE):
        w.say(text)
        w.wait_new(n, who="user")
    assert w.messages("user") == HOSTILE
    # 10,000 characters pasted: the field keeps 2,000 (the servers' limit) and says so.
    w.input.fill("A" * 10_000)
    assert len(w.input.input_value()) == 2000
    expect(page.locator(".gw-status")).to_contain_text("2 000 caractères")
    w.input.press("Enter")
    w.wait_new(len(HOSTILE), who="user")
    assert w.messages("user")[-1] == "A" * 2000
    rtl = page.locator(".gw-msg--user .gw-text").nth(4)
    assert rtl.get_attribute("dir") == "auto" and rtl.evaluate("e => getComputedStyle(e).direction") == "rtl"
    w.wait_new(len(HOSTILE) + 1)  # the bot's answers (whatever they are) are shown too
    # Nothing ran: no dialog, no error, no element made from the texts, no layout broken.
    assert w.dialogs == [] and w.errors == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, script:not([src]), svg:not(.gw-icon)").count() == 0
    assert page.locator(".gw-msg--user a").count() == 0
    sizes = no_horizontal_scroll(page)
    assert sizes["document"] <= sizes["viewport"] and sizes["log_scroll"] <= sizes["log_client"], sizes
    found = grave(run_axe(page), "widget after hostile input")
    assert found == [], "\n".join(found)
    # The widget still works: closed and opened again, the same conversation, and a new message goes out.
    shown = len(w.messages()) + len(w.messages("user"))
    page.keyboard.press("Escape")
    w.open()
    assert len(w.messages()) + len(w.messages("user")) >= shown
    w.say("merci")
    assert w.wait_new(len(HOSTILE) + 1, who="user") == ["merci"]


def test_e_after_markup_the_bot_still_answers(stack: Stack, page: Page) -> None:
    w = _open(stack, page)
    w.say("<img src=x onerror=alert(1)>")
    w.wait_new(1)
    w.say("Quels sont vos horaires le samedi ?", "samedi")
    assert w.dialogs == [] and w.errors == []


def test_f_on_a_360_by_640_phone_screen_the_panel_fits(stack: Stack, browser: Browser) -> None:
    assert stack.desk_url
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(stack.desk_url + "/")
        launcher = page.get_by_role("button", name=LAUNCHER).bounding_box()
        assert launcher and launcher["x"] >= 0 and launcher["x"] + launcher["width"] <= 360, launcher
        w = Widget(page)
        w.open()
        w.wait_for("Que souhaitez-vous")
        dialog = page.get_by_role("dialog", name="Assistant de la mairie")
        panel = dialog.bounding_box()
        assert panel == {"x": 0, "y": 0, "width": 360, "height": 640}, panel  # full screen
        expect(dialog).to_have_attribute("aria-modal", "true")  # the page behind is covered
        w.click("Horaires", "samedi")
        w.say("Z" * 2000 + " et " + "passeport " * 50)
        w.wait_new(1, who="user")
        for control in (w.input, page.get_by_role("button", name="Envoyer"),
                        page.get_by_role("button", name="Fermer la fenêtre de discussion")):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 640, box
        sizes = no_horizontal_scroll(page)
        assert sizes["document"] <= 360 and sizes["body"] <= 360, sizes
        assert sizes["log_scroll"] <= sizes["log_client"], sizes
        assert w.errors == []
    finally:
        context.close()


def test_one_script_tag_embeds_the_widget_in_another_sites_page(stack: Stack, page: Page) -> None:
    """Another origin than the desk's; the host page's own styles do not reach the widget (shadow root)."""
    html = (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Accueil</title>'
            f'<style>button {{ background: red !important; font-size: 40px; }}</style>'
            f'<script src="{stack.desk_url}/widget.js" defer></script></head>'
            f'<body><main><h1>Ville de Villeneuve-sur-Mauldre</h1></main></body></html>')
    with another_site(html) as address:
        assert stack.desk_url and not stack.desk_url.startswith(address.rstrip("/"))
        page.goto(address)
        w = Widget(page)
        w.open()
        w.wait_for("Que souhaitez-vous")
        w.click("Horaires", "samedi")
        page.get_by_role("button", name="Fermer la fenêtre de discussion").click()
        launcher = page.get_by_role("button", name=LAUNCHER)
        style = launcher.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).fontSize]")
        assert style == ["rgb(0, 0, 145)", "16px"], style
        assert w.errors == []
