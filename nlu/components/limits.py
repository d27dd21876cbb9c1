"""Bounds what one message may cost the dialogue server: the first component of the NLU pipeline.

DIET's transformer costs grow with the square of the number of tokens: one message of 3,000 words took 2.2 s and
600 MB more memory, and a few thousand hostile messages took the server to 12 GB. A citizen's message is a few
sentences; beyond ``max_characters`` or ``max_words`` the rest is cut (the bot then answers what it understood, or
asks to rephrase). The original text stays in the conversation's history.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_WORD = re.compile(r"\S+")


def bounded(text: str, max_characters: int, max_words: int) -> str:
    """``text`` cut to its first ``max_words`` words and ``max_characters`` characters."""
    text = text[:max_characters]
    for count, match in enumerate(_WORD.finditer(text), start=1):
        if count == max_words:
            return text[:match.end()]
    return text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class MessageLengthLimit(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_characters": 1000, "max_words": 150}

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_characters = int(config.get("max_characters", 1000))
        self.max_words = int(config.get("max_words", 150))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> MessageLengthLimit:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                cut = bounded(text, self.max_characters, self.max_words)
                if cut != text:
                    message.set(TEXT, cut)
        return messages
