"""Loading and validation of the knowledge YAML files: a bad file fails loudly, naming the file and field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.town import TownFile

DEFAULT_DIR = Path(__file__).resolve().parent


class KnowledgeError(Exception):
    """A knowledge file is missing, is not valid YAML, or breaks the schema."""


def load_town(directory: Path = DEFAULT_DIR) -> TownFile:
    """Read and validate ``town.yaml`` from ``directory``."""
    path = directory / "town.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"{path}: illisible ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: YAML invalide: {exc}") from exc
    try:
        return TownFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise KnowledgeError(f"{path}: {problems}") from exc
