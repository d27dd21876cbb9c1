"""The one call of Twilio's REST API the gateway makes: redirect a live call to new TwiML (transfer to an operator).

`POST {base}/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` with the form field ``Twiml``, HTTP basic auth
(account SID, auth token). Twilio then leaves the `<Connect><Stream>` (the media stream stops) and runs the new TwiML,
here a `<Dial>` to the operator number. The base URL is configurable (``GUICHET_TWILIO_API_URL``) so that tests run
against a local stand-in; nothing here reaches the internet unless configured to.
"""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import quote
from xml.sax.saxutils import escape

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"


class TwilioApiError(Exception):
    """Twilio refused or could not be reached; the message has the status, never the credentials."""


class CallControl(Protocol):
    """What the Twilio gateway needs of the REST API."""

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Make the live call ``call_sid`` run ``twiml`` now; raises :class:`TwilioApiError`."""
        ...


def dial_twiml(target: str) -> str:
    """TwiML that dials ``target`` (a phone number, or a ``sip:`` URI), then hangs up."""
    inner = f"<Sip>{escape(target)}</Sip>" if target.startswith("sip:") else f"<Number>{escape(target)}</Number>"
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{inner}</Dial><Hangup/></Response>'


class TwilioRestClient:
    """:class:`CallControl` over HTTP with aiohttp; one session, created on first use, closed by :meth:`close`."""

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str = DEFAULT_API_URL,
                 timeout_s: float = 10.0) -> None:
        if not account_sid or not auth_token:
            raise ValueError("a Twilio account SID and auth token are both needed")
        self.account_sid = account_sid
        self._headers = {"Authorization": aiohttp.encode_basic_auth(account_sid, auth_token)}
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never the token
        return f"TwilioRestClient({self.account_sid!r}, base_url={self.base_url!r})"

    def call_url(self, call_sid: str) -> str:
        return (f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}"
                f"/Calls/{quote(call_sid, safe='')}.json")

    async def redirect(self, call_sid: str, twiml: str) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.call_url(call_sid), data={"Twiml": twiml},
                                          headers=self._headers) as reply:
                if reply.status != 200:
                    detail = (await reply.text())[:200]
                    raise TwilioApiError(f"Twilio a répondu {reply.status} à la redirection de l'appel : {detail}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TwilioApiError(f"API Twilio injoignable ({type(exc).__name__})") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
