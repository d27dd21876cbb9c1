"""Loading and validation of the knowledge YAML files: a bad file fails loudly, naming the file, line and field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.facts import Facts
from knowledge.facts_schema import ConsistencyError, FactsFile
from knowledge.town import TownFile

DEFAULT_DIR = Path(__file__).resolve().parent
FACTS_FILE = "facts.yaml"


class KnowledgeError(Exception):
    """A knowledge file is missing, is not valid YAML, or breaks the schema."""


def load_town(directory: Path = DEFAULT_DIR) -> TownFile:
    """Read and validate ``town.yaml`` from ``directory``."""
    path = directory / "town.yaml"
    data, root = _read(path)
    try:
        return TownFile.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(_report(path, root, _pydantic_problems(exc))) from exc


def load_facts(path: Path | None = None) -> Facts:
    """Read, validate and cross-check the national facts: ``facts.yaml`` by default, or in a directory, or a file."""
    path = DEFAULT_DIR / FACTS_FILE if path is None else path
    if path.is_dir():
        path = path / FACTS_FILE
    data, root = _read(path)
    try:
        return Facts(FactsFile.model_validate(data))
    except ValidationError as exc:
        raise KnowledgeError(_report(path, root, _pydantic_problems(exc))) from exc
    except ConsistencyError as exc:
        raise KnowledgeError(_report(path, root, exc.problems)) from exc


def _read(path: Path) -> tuple[object, yaml.Node | None]:
    """The parsed document and its node tree (which keeps the line of every value)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"{path}: illisible ({exc.strerror})") from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _refuse_duplicate_keys(path, root)
        return loader.construct_document(root) if root is not None else None, root
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark is not None else ""
        raise KnowledgeError(f"{path}:{line} YAML invalide : {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: YAML invalide : {exc}") from exc
    finally:
        loader.dispose()


def _refuse_duplicate_keys(path: Path, root: yaml.Node) -> None:
    """PyYAML silently keeps the last of two equal keys; in a hand-edited file that is always a mistake."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        raise KnowledgeError(f"{path}:{key.start_mark.line + 1}: clé en double : {key.value!r}")
                    keys.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _pydantic_problems(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    return [(tuple(err["loc"]), err["msg"]) for err in exc.errors()]


def _line(root: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The line of the deepest node on the path ``loc``; for a mapping entry, the line of its key.

    Parts that name no node (pydantic's union branches such as ``tuple[...]``) are skipped.
    """
    if root is None:
        return 1
    node, line = root, root.start_mark.line + 1
    for index, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                        None)
            if pair is None:
                continue
            line = pair[0].start_mark.line + 1
            if index + 1 < len(loc) and loc[index + 1] == "[key]":
                break
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def _report(path: Path, root: yaml.Node | None, problems: Iterable[tuple[Sequence[str | int], str]]) -> str:
    lines = []
    for loc, msg in problems:
        field = ".".join(str(part) for part in loc) or "(document)"
        lines.append(f"{path}:{_line(root, loc)}: {field}: {msg}")
    return "\n".join(lines)
