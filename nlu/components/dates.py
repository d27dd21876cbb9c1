"""A Rasa entity extractor that resolves French date/time phrases with `nlu.dates`.

Listed in bot/config.yml after DIETClassifier and EntitySynonymMapper. The message gets at most one `time` entity
whose value is the resolution (the JSON shape of `python -m nlu.dates`): the whole sentence is resolved, so parts
DIET cut apart ("mardi prochain" + "le matin") are read together. It keeps DIET's outer span; when DIET found
nothing but the message still says a date or time ("plutôt jeudi"), it covers the message. The booking form's slot
then holds windows it can search, not words.
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
        """One `time` entity per message, resolved from the whole message.

        DIET often cuts "mardi prochain le matin" into two entities, or misses a part; the resolver reads the whole
        sentence and combines what belongs together, so the entity keeps DIET's outer span and gets one value.
        """
        text = message.get(TEXT) or ""
        entities: list[dict[str, Any]] = list(message.get(ENTITIES, []))
        times = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) == self.entity]
        others = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) != self.entity]
        result = resolve(text, now, horizon_days=self.horizon_days) if text else None
        if (result is None or not result.understood) and times:  # a span the sentence-level rules did not read
            for entity in times:
                start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
                if isinstance(start, int) and isinstance(end, int):
                    result = resolve(text[start:end], now, horizon_days=self.horizon_days)
                    if result.understood:
                        break
        if result is None or not result.understood or (not times and not self.whole_message):
            message.set(ENTITIES, others, add_to_output=True)
            return
        starts = [e[ENTITY_ATTRIBUTE_START] for e in times if isinstance(e.get(ENTITY_ATTRIBUTE_START), int)]
        ends = [e[ENTITY_ATTRIBUTE_END] for e in times if isinstance(e.get(ENTITY_ATTRIBUTE_END), int)]
        merged = {
            ENTITY_ATTRIBUTE_TYPE: self.entity,
            ENTITY_ATTRIBUTE_START: min(starts) if starts else 0,
            ENTITY_ATTRIBUTE_END: max(ends) if ends else len(text),
            ENTITY_ATTRIBUTE_VALUE: result.to_json(),
            "confidence": 1.0,
            EXTRACTOR: times[0].get(EXTRACTOR, self.__class__.__name__) if times else self.__class__.__name__,
        }
        message.set(ENTITIES, [*others, merged], add_to_output=True)
