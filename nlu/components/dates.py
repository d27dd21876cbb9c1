"""A Rasa entity extractor that resolves French date/time phrases with `nlu.dates`.

Listed in bot/config.yml after DIETClassifier and EntitySynonymMapper. For every `time` entity DIET found, the
entity's value becomes the resolution (the JSON shape of `python -m nlu.dates`, with the phrase in "text").
When DIET found none but the message still says a date or a time ("plutôt jeudi"), the component adds a `time`
entity covering the message. DIET's spans stay; only the value is resolved, so the booking form's slot holds
windows it can search, not words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.dates import PARIS, resolve


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class FrenchDateResolver(GraphComponent, EntityExtractorMixin):
    """Adds the resolved windows to `time` entities (see nlu/dates/CONVENTIONS.md)."""

    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(PARIS))  # type: ignore[assignment]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entity": "time", "horizon_days": 90, "whole_message": True}

    def __init__(self, config: dict[str, Any]) -> None:
        self.entity = str(config.get("entity", "time"))
        self.horizon_days = int(config.get("horizon_days", 90))
        self.whole_message = bool(config.get("whole_message", True))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrenchDateResolver:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        now = self.clock()
        for message in messages:
            self._process_one(message, now)
        return messages

    def _process_one(self, message: Message, now: datetime) -> None:
        text = message.get(TEXT) or ""
        entities: list[dict[str, Any]] = list(message.get(ENTITIES, []))
        found = False
        for entity in entities:
            if entity.get(ENTITY_ATTRIBUTE_TYPE) != self.entity:
                continue
            start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
            phrase = text[start:end] if isinstance(start, int) and isinstance(end, int) else str(entity.get("value"))
            result = resolve(phrase, now, horizon_days=self.horizon_days)
            if not result.understood:  # DIET's span was too short ("prochain" alone): read the whole message
                result = resolve(text, now, horizon_days=self.horizon_days)
            if result.understood:
                entity[ENTITY_ATTRIBUTE_VALUE] = result.to_json()
                found = True
        if not found and self.whole_message and text:
            result = resolve(text, now, horizon_days=self.horizon_days)
            if result.understood:
                entities.append({
                    ENTITY_ATTRIBUTE_TYPE: self.entity,
                    ENTITY_ATTRIBUTE_START: 0,
                    ENTITY_ATTRIBUTE_END: len(text),
                    ENTITY_ATTRIBUTE_VALUE: result.to_json(),
                    "confidence": 1.0,
                    EXTRACTOR: self.__class__.__name__,
                })
        message.set(ENTITIES, entities, add_to_output=True)
