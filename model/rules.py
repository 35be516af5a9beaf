"""Monitoring rules from `annotations/rules/*.yaml`.

rules:
  - id: roads-potholes
    topic: roads
    query: '(яма OR ямы OR выбоина) NEAR/3 (дорога OR асфальт)'
    always_register: false
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from model.matcher import Rule
from model.query import QuerySyntaxError, matches_nothing_required, parse

_FIELDS = {"id", "query", "topic", "always_register"}


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and what to fix."""


def load_rules(path: Path, topics: Collection[str] | None = None) -> list[Rule]:
    """Rules from one YAML file or every `*.yaml` in a folder (sorted by name); ids are unique.

    With `topics`, a rule's topic must be one of them.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    elif path.exists():
        files = [path]
    else:
        raise RulesError(f"{path}: no such file or folder; rules live in annotations/rules/*.yaml")
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for file in files:
        for rule in _load_file(file, topics):
            if rule.id in seen:
                raise RulesError(f"{file}: rule '{rule.id}': the id is already used in {seen[rule.id]}")
            seen[rule.id] = file
            rules.append(rule)
    return rules


def _load_file(file: Path, topics: Collection[str] | None) -> list[Rule]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"{file}: not valid YAML: {exc}") from None
    if data is None:
        return []
    entries = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise RulesError(f"{file}: expected a mapping with a list under 'rules:'")
    return [_rule(file, number, entry, topics) for number, entry in enumerate(entries, 1)]


def _rule(file: Path, number: int, entry: Any, topics: Collection[str] | None) -> Rule:
    if not isinstance(entry, dict):
        raise RulesError(f"{file}: rule #{number}: expected a mapping with 'id' and 'query'")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise RulesError(f"{file}: rule #{number}: expected a non-empty string 'id'")
    where = f"{file}: rule '{rule_id}'"
    unknown = set(entry) - _FIELDS
    if unknown:
        raise RulesError(f"{where}: unknown fields {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    query = entry.get("query")
    if not isinstance(query, str):
        raise RulesError(f"{where}: expected a string 'query' (quote it in YAML if it starts with a quote)")
    topic = entry.get("topic")
    if topic is not None and not isinstance(topic, str):
        raise RulesError(f"{where}: expected 'topic' to be a topic code or absent")
    if topics is not None and topic is not None and topic not in topics:
        raise RulesError(f"{where}: unknown topic '{topic}'; known: {', '.join(sorted(topics))}")
    always = entry.get("always_register", False)
    if not isinstance(always, bool):
        raise RulesError(f"{where}: expected 'always_register' to be true or false")
    try:
        tree = parse(query)
    except QuerySyntaxError as exc:
        caret = " " * exc.position + "^"
        raise RulesError(
            f"{where}: query syntax error at position {exc.position}: {exc.message}\n    {query}\n    {caret}"
        ) from None
    if matches_nothing_required(tree):
        raise RulesError(f"{where}: the query matches posts that contain none of its words; add a word that must occur")
    return Rule(id=rule_id, query=query, topic=topic, always_register=always)
