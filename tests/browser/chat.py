"""Driving the citizen's chat widget (web/static/widget.js, inside a shadow root) and axe-core from Playwright."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Dialog, Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
OPERATOR = ("agent.dupont", "Mot-de-passe-de-test-42!")  # created in the stack by conftest.py
LAUNCHER = "Prendre rendez-vous / poser une question"
REPLY_S = 45.0  # the dialogue server answers in about a second; CI machines are slower


class Widget:
    """The chat widget on one page: open it, type, click quick replies, wait for the answers."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []  # uncaught JavaScript errors
        self.dialogs: list[str] = []  # alert(), confirm(), prompt(): none may open
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        self.log = page.get_by_role("log", name="Conversation")
        self.input = page.get_by_role("textbox", name="Votre message")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def open(self) -> None:
        self.page.get_by_role("button", name=LAUNCHER).click()
        expect(self.page.get_by_role("dialog", name="Assistant de la mairie")).to_be_visible()

    def messages(self, who: str = "bot") -> list[str]:
        return [t.strip() for t in self.page.locator(f".gw-msg--{who} .gw-text").all_inner_texts()]

    def wait_for(self, fragment: str, *, who: str = "bot", after: int = 0, timeout: float = REPLY_S) -> str:
        """The texts of the messages of `who` from index `after` on, once one of them contains `fragment`."""
        deadline = time.monotonic() + timeout
        while True:
            texts = self.messages(who)[after:]
            joined = "\n".join(texts)
            if fragment.lower() in joined.lower():
                return joined
            if time.monotonic() > deadline:
                raise AssertionError(f"no {who} message with {fragment!r} after {timeout:.0f} s; conversation:\n"
                                     f"{self.transcript()}")
            self.page.wait_for_timeout(100)

    def wait_new(self, after: int, *, who: str = "bot", timeout: float = REPLY_S) -> list[str]:
        """The messages of `who` from index `after` on, once there is at least one."""
        deadline = time.monotonic() + timeout
        while len(texts := self.messages(who)) <= after:
            if time.monotonic() > deadline:
                raise AssertionError(f"no new {who} message after {timeout:.0f} s; conversation:\n{self.transcript()}")
            self.page.wait_for_timeout(100)
        return texts[after:]

    def say(self, text: str, expect_reply: str | None = None) -> str:
        """Type a message and send it with Enter; the bot's new messages once one contains `expect_reply`."""
        before = len(self.messages())
        self.input.fill(text)
        self.input.press("Enter")
        return self.wait_for(expect_reply or "", after=before) if expect_reply is not None else ""

    def click(self, title: str, expect_reply: str) -> str:
        """Click the enabled quick-reply button `title`; the bot's new messages once one contains `expect_reply`."""
        before = len(self.messages())
        self.buttons().filter(has_text=re.compile(f"^{re.escape(title)}$")).first.click()
        return self.wait_for(expect_reply, after=before)

    def buttons(self) -> Locator:
        return self.page.locator(".gw-reply:enabled")

    def transcript(self) -> str:
        try:
            return self.log.inner_text(timeout=2000)
        except Exception as exc:  # the page may be gone: say so in the failure message
            return f"(no transcript: {exc})"


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (evaluated through the debugger: the page's CSP stays on)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return violations


def grave(violations: list[dict[str, Any]], where: str) -> list[str]:
    """Serious and critical violations as readable lines; the others are printed for the record."""
    found: list[str] = []
    for v in violations:
        targets = [str(node.get("target")) for node in v.get("nodes", [])][:5]
        line = f"{where}: [{v.get('impact')}] {v.get('id')}: {v.get('help')} — {', '.join(targets)}"
        if v.get("impact") in ("serious", "critical"):
            found.append(line)
        else:
            print(line)
    return found


def no_horizontal_scroll(page: Page) -> dict[str, int]:
    """Widths that must not exceed the viewport: the document and the widget's message list."""
    sizes: dict[str, int] = page.evaluate("""() => {
        const root = document.getElementById('guichet-widget').shadowRoot;
        const log = root.querySelector('.gw-log');
        return {viewport: window.innerWidth, document: document.documentElement.scrollWidth,
                body: document.body.scrollWidth, log_scroll: log.scrollWidth, log_client: log.clientWidth};
    }""")
    return sizes


def session_id(page: Page) -> str | None:
    """The widget's socket.io session id (the dialogue's conversation id), kept in localStorage."""
    value: str | None = page.evaluate(
        "() => JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':session'))?.[1] ?? 'null')")
    return value


@contextmanager
def another_site(html: str) -> Iterator[str]:
    """A page on another origin than the desk's (a real loopback server: Chromium lets loopback pages load loopback
    scripts, not pages of an unknown address space); yields its address."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
