"""The schema of the citizens' questions files (``knowledge/faq/*.yaml``): each answer sourced and dated.

An entry either carries its own answer (``text`` for the chat, ``voice`` for the phone, ``source``, ``checked``) or
points at one of the ready answers of ``facts.yaml`` (``answer: photo``), so that one text is never written twice.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field, field_validator, model_validator

from knowledge.facts_schema import _URL as URL
from knowledge.facts_schema import LONG_TEXT, _Strict

_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


class FaqEntry(_Strict):
    """One citizen question: the ways it is asked, and its answer (its own, or a ready answer of facts.yaml)."""

    id: str
    questions: tuple[str, ...] = Field(min_length=2)
    answer: str | None = None  # a key of facts.yaml `answers:` instead of text/voice
    text: str | None = Field(None, min_length=1)
    voice: str | None = Field(None, min_length=1)
    source: str | None = Field(None, min_length=5)
    checked: date | None = None

    @field_validator("id")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("id : lettres minuscules, chiffres et _ (par exemple cni_validite)")
        return value

    @field_validator("questions")
    @classmethod
    def _real_questions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(q.strip()) < 4 for q in value):
            raise ValueError("questions : une question vide ou trop courte")
        return value

    @field_validator("voice")
    @classmethod
    def _spoken_has_no_link(cls, value: str | None) -> str | None:
        if value is not None and URL.search(value):
            raise ValueError("voice : pas d'adresse web dans la version orale")
        return value

    @model_validator(mode="after")
    def _one_answer(self) -> FaqEntry:
        if self.answer is not None:
            if self.text is not None or self.voice is not None:
                raise ValueError("answer : soit une réponse de facts.yaml, soit text et voice, pas les deux")
            return self
        if self.text is None or self.voice is None:
            raise ValueError("text et voice obligatoires (ou answer: une réponse de facts.yaml)")
        if self.source is None or self.checked is None:
            raise ValueError("source et checked obligatoires pour une réponse écrite ici")
        if len(self.text) > 2 * LONG_TEXT:
            raise ValueError(f"text : {len(self.text)} caractères, {2 * LONG_TEXT} au plus")
        return self


class FaqFile(_Strict):
    entries: tuple[FaqEntry, ...] = Field(min_length=1)
