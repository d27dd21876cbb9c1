"""Live hand-over in two browsers: a citizen in the widget on the demo page, an operator in the console (/console).

The case appears in the console's queue without a reload, the operator claims it and answers in the widget, the
citizen answers back, the operator resolves the case or hands the conversation back to the bot. Hostile texts go
through both ways and stay text on both screens; axe-core checks the console with a case open.
"""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from tests.browser.chat import OPERATOR, Widget, grave, run_axe, session_id
from tests.integration.stack import Stack

LIVE_S = 15_000  # ms: what goes through the desk's WebSockets shows within this time


class Console:
    """The operator's console in its own browser context (its own session cookie)."""

    def __init__(self, context: BrowserContext, desk_url: str) -> None:
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(desk_url + "/console")
        self.page.get_by_label("Identifiant").fill(OPERATOR[0])
        self.page.get_by_label("Mot de passe").fill(OPERATOR[1])
        self.page.get_by_role("button", name="Se connecter").click()
        expect(self.page.locator("#connection")).to_have_text("File mise à jour en direct.", timeout=LIVE_S)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def wait_for_case(self, phone: str) -> int:
        """The queue shows the case by itself (no reload): its number."""
        item = self.page.locator("#queue-list button", has_text=phone)
        expect(item).to_be_visible(timeout=LIVE_S)
        case_id = int(item.get_attribute("data-case-id") or 0)
        item.click()
        expect(self.page.locator("#case-title")).to_contain_text(f"n° {case_id}")
        return case_id

    def transcript(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#transcript li > span:not(.who)").all_inner_texts()]

    def wait_for_line(self, text: str) -> None:
        expect(self.page.locator("#transcript li > span:not(.who)").filter(has_text=text).last).to_be_visible(
            timeout=LIVE_S)

    def reply(self, text: str) -> None:
        self.page.locator("#reply-text").fill(text)
        self.page.locator("#reply-form").get_by_role("button", name="Envoyer").click()


def _citizen_asks_for_an_agent(stack: Stack, page: Page, phone: str) -> Widget:
    assert stack.desk_url
    page.goto(stack.desk_url + "/")
    w = Widget(page)
    w.open()
    w.wait_for("Que souhaitez-vous")
    w.say("je veux parler à un agent", "numéro")
    w.say(phone, "agent de la mairie")
    return w


def _case_row(stack: Stack, case_id: int) -> tuple[str, str, str | None, int]:
    with sqlite3.connect(stack.desk_db) as db:
        row: tuple[str, str, str | None, int] = db.execute(
            "SELECT conversation_id, status, outcome, live FROM cases WHERE id = ?", (case_id,)).fetchone()
    return row


def test_c_a_case_reaches_the_console_live_and_the_operator_answers_in_the_widget(
        stack: Stack, browser: Browser, page: Page) -> None:
    assert stack.desk_url
    operator_context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        console = Console(operator_context, stack.desk_url)
        w = _citizen_asks_for_an_agent(stack, page, "06 98 76 54 32")
        assert "il va vous répondre ici même" in w.messages()[-1], w.transcript()

        case_id = console.wait_for_case("06 98 76 54 32")
        conversation, status, _, live = _case_row(stack, case_id)
        assert (conversation, status, live) == (session_id(page), "open", 1)
        console.wait_for_line("je veux parler à un agent")  # the bot's transcript, nothing to repeat
        found = grave(run_axe(console.page), "console, case open")
        assert found == [], "\n".join(found)

        console.page.get_by_role("button", name="Prendre en charge").click()
        w.wait_for("a rejoint la conversation", who="system")
        console.reply("Bonjour, je suis agent à la mairie. Que puis-je faire pour vous ?")
        w.wait_for("Que puis-je faire pour vous", who="operator")
        expect(page.locator(".gw-msg--operator .gw-who").first).to_have_text("Agent de la mairie")

        w.say("J'ai perdu mon passeport à l'étranger, que dois-je faire ?")
        console.wait_for_line("J'ai perdu mon passeport à l'étranger")  # pushed to the console, no reload
        assert w.messages("bot")[-1].startswith("Je vous passe un agent")  # the bot did not answer meanwhile

        console.page.get_by_label("Issue").select_option(label="Renseignement donné")
        console.page.get_by_label("Note (facultative)").fill("Déclaration de perte au consulat expliquée.")
        console.page.get_by_role("button", name="Marquer comme résolu").click()
        w.wait_for("terminé votre demande", who="system")
        expect(page.locator(".gw-status")).to_be_hidden()
        assert _case_row(stack, case_id)[1:] == ("resolved", "renseigne", 0)

        before = len(w.messages())
        w.say("Quels sont vos horaires le samedi ?")  # the bot answers again
        assert "samedi" in "\n".join(w.wait_new(before)).lower(), w.transcript()
        assert console.dialogs == [] and console.errors == [] and w.errors == [] and w.dialogs == []
    finally:
        operator_context.close()


def test_c_until_an_agent_claims_the_case_the_citizen_writes_to_the_desk(
        stack: Stack, browser: Browser, page: Page) -> None:
    assert stack.desk_url
    operator_context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        console = Console(operator_context, stack.desk_url)
        w = _citizen_asks_for_an_agent(stack, page, "06 55 44 33 20")
        status = page.locator(".gw-status")
        expect(status).to_contain_text("En attente d'un agent")  # the bot's hand-off message was understood
        console.wait_for_case("06 55 44 33 20")
        w.say("Je suis toujours là : c'est pour un passeport perdu.")
        console.wait_for_line("Je suis toujours là")  # to the desk, not to the paused bot
        page.reload()  # the widget remembers it is waiting for an agent
        expect(status).to_contain_text("En attente d'un agent")
        w = Widget(page)
        assert w.messages("user")[-1] == "Je suis toujours là : c'est pour un passeport perdu."
        console.page.get_by_role("button", name="Prendre en charge").click()
        w.wait_for("a rejoint la conversation", who="system")
        expect(status).to_have_text("Vous échangez avec un agent de la mairie.")
        assert w.messages("bot")[-1].startswith("Je vous passe un agent"), w.transcript()
        assert console.errors == [] and w.errors == []
    finally:
        operator_context.close()


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert('xss')</script>",
    "Bonjour 🙂🛂📅 👨‍👩‍👧‍👦",
    "مرحبا، أريد موعدا لجواز السفر",
    "שלום, אני רוצה תור לדרכון",
    "B" * 2000,
]


def test_e_hostile_texts_stay_text_in_the_console_and_in_the_widget(
        stack: Stack, browser: Browser, page: Page) -> None:
    assert stack.desk_url
    operator_context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        console = Console(operator_context, stack.desk_url)
        w = _citizen_asks_for_an_agent(stack, page, "06 55 44 33 21")
        case_id = console.wait_for_case("06 55 44 33 21")
        console.page.get_by_role("button", name="Prendre en charge").click()
        w.wait_for("a rejoint la conversation", who="system")

        for text in HOSTILE:
            w.say(text)
            console.wait_for_line(text[:50])
        assert console.transcript()[-len(HOSTILE):] == HOSTILE
        assert console.page.locator("img, svg, script:not([src])").count() == 0
        width = console.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width

        console.reply("<img src=x onerror=alert(4)> <b>gras</b> שלום 🙂")
        w.wait_for("<b>gras</b>", who="operator")
        assert page.locator("img, b, script:not([src])").count() == 0

        console.page.get_by_role("button", name="Rendre la main à l'assistant").click()
        w.wait_for("rendu la main", who="system")
        assert _case_row(stack, case_id)[3] == 0
        assert console.dialogs == [] and console.errors == [] and w.dialogs == [] and w.errors == []
    finally:
        operator_context.close()
