"""One citizen's phone number, and how to recognize it however it was written or said (typed, or in words on the
phone), in a value, a JSON document or a conversation event."""

from __future__ import annotations

import re
from typing import Any

from actions.extract import digits
from booking.domain import InvalidRequest
from booking.validation import phone as e164
from guichet.privacy import mask_phone
from guichet.tracker_purge import Event

PHONE_SLOT = "phone"  # bot/domain/core.yml


class Citizen:
    """One phone number, and how to recognize it however it was written or said."""

    def __init__(self, phone: str) -> None:
        self.phone = e164(phone)  # InvalidRequest, with a French message, when it is not a phone number
        import phonenumbers

        parsed = phonenumbers.parse(self.phone)
        national = str(parsed.national_number)
        self._forms = (f"0{national}", f"{parsed.country_code}{national}")

    @property
    def masked(self) -> str:
        return mask_phone(self.phone)

    def is_number(self, value: Any) -> bool:
        try:
            return isinstance(value, str) and e164(value) == self.phone
        except InvalidRequest:
            return False

    def said_in(self, text: Any) -> bool:
        """The number is in this text: typed with any separators, or said in words (voice)."""
        if not isinstance(text, str) or not text:
            return False
        for run in re.findall(r"\+?\d[\d\s.\-/]*", digits(text.lower())):
            plain = re.sub(r"\D", "", run)
            if any(form in plain for form in self._forms):
                return True
        return False

    def in_values(self, data: Any) -> bool:
        """Some value of this JSON (collected data, transcript) is or mentions the number."""
        if isinstance(data, dict):
            return any(self.in_values(v) for v in data.values())
        if isinstance(data, list):
            return any(self.in_values(v) for v in data)
        return self.is_number(data) or self.said_in(data)

    def in_event(self, event: Event) -> bool:
        data = event.data
        if event.type_name == "slot":
            return data.get("name") == PHONE_SLOT and (self.is_number(data.get("value"))
                                                      or self.said_in(data.get("value")))
        metadata = data.get("metadata")
        caller = metadata.get("caller") if isinstance(metadata, dict) else None
        return self.is_number(caller) or self.said_in(data.get("text"))
