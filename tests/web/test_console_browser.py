"""The console page in Debian's Chromium (Playwright) against the real desk app on loopback: login with the
keyboard, a new case appears without reloading and is announced, hostile text is shown as text, claim and reply,
and axe-core finds no serious or critical accessibility violation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.web.conftest import CASE, PASSWORD, Client, post_case

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
HOSTILE = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script> مرحبا 😀"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    await page.evaluate(AXE.read_text(encoding="utf-8"))  # through DevTools: the page's CSP stays on
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


async def test_an_agent_works_a_case_in_the_console(server: TestServer, browser: Browser,
                                                   new_client: Any) -> None:
    api: Client = await new_client()
    page = await browser.new_page(base_url=str(server.make_url("")).rstrip("/"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto("/console")
    await expect(page.get_by_label("Identifiant")).to_be_focused()
    assert await axe_violations(page) == []
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    await page.keyboard.type("pas le bon mot de passe")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert").first).to_have_text("Identifiant ou mot de passe incorrect.")
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_label("Mot de passe").press("Enter")
    await expect(page.get_by_text("alice (agent)")).to_be_visible()
    await expect(page.get_by_text("File mise à jour en direct.")).to_be_visible()

    live = {**CASE, "conversation_id": "sio-browser", "channel": "socketio", "callback_only": False,
            "collected": {"procedure": "passport", "people": 2, "person_name": HOSTILE},
            "transcript": [{"from": "citoyen", "text": HOSTILE}, {"from": "citoyen", "text": "é" * 10_000}]}
    created = await (await post_case(api, live)).json()
    button = page.get_by_role("button", name=f"n° {created['id']}")
    await expect(button).to_be_visible()  # no reload
    await expect(page.get_by_role("status")).to_contain_text(f"Nouveau dossier n° {created['id']}")
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#case-title")).to_be_focused()
    await expect(page.locator("#known")).to_contain_text("Passeport")
    await expect(page.locator("#transcript li").first).to_contain_text(HOSTILE)
    assert await page.locator("#transcript img, #transcript script, #known img").count() == 0
    assert await page.evaluate("window.__pwned") is None
    width = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert width, "the 10 000-character line must wrap, not widen the page"

    await page.get_by_role("button", name="Prendre en charge").click()
    await expect(page.locator("#case-meta")).to_contain_text("pris en charge par alice")
    await page.get_by_label("Votre réponse au citoyen").fill("Bonjour, je regarde votre dossier.")
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator("#transcript")).to_contain_text("Agent alice :Bonjour, je regarde votre dossier.")
    assert await axe_violations(page) == []
    await page.get_by_label("Issue").select_option("renseigne")
    await page.get_by_role("button", name="Marquer comme résolu").click()
    await expect(button).to_have_count(0)
    # The statistics: figures, three charts drawn as SVG with their tables; here the booking backend is away,
    # which the page says instead of failing.
    await page.get_by_role("button", name="Afficher les statistiques").click()
    await expect(page.locator("#stats-body")).to_be_visible()
    await expect(page.locator("#stats-figures")).to_contain_text("Passations à un agent")
    await expect(page.locator("#stats-error")).to_contain_text("rendez-vous ne répond pas")
    assert await page.locator("#stats svg[role=img]").count() == 3
    assert await page.locator("#chart-hours table tr").count() == 25  # a header and 24 hours
    assert await page.locator("#chart-reasons table").inner_text() != ""
    assert await axe_violations(page) == []
    assert errors == []
