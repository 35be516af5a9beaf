"""Monitoring rules files: the project's rules load; a broken file says where and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.doc import analyze
from model.lemma import Lemmatizer
from model.matcher import Matcher
from model.rules import RulesError, load_rules
from model.taxonomy import Taxonomy

RULES = Path(__file__).resolve().parents[2] / "annotations" / "rules"


def test_the_projects_rules_load_and_compile(taxonomy: Taxonomy, lemmatizer: Lemmatizer) -> None:
    rules = load_rules(RULES, topics=taxonomy.topics)
    assert rules
    assert len({r.id for r in rules}) == len(rules)
    assert all(r.topic in taxonomy.topics for r in rules)
    Matcher(rules, lemmatizer)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Во дворе огромные ямы, асфальт разбит", "roads"),
        ("Третий день нет горячей воды, управляющая компания молчит", "housing"),
        ("Мусор не вывозят неделю, контейнеры переполнены", "waste"),
    ],
)
def test_the_projects_rules_catch_typical_complaints(text: str, topic: str, lemmatizer: Lemmatizer) -> None:
    rules = load_rules(RULES)
    (found,) = Matcher(rules, lemmatizer).match(analyze([text], lemmatizer))
    by_id = {r.id: r for r in rules}
    assert topic in {by_id[m.rule_id].topic for m in found}


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_and_a_folder(tmp_path: Path) -> None:
    write(tmp_path, "rules:\n  - {id: a, topic: roads, query: яма}\n", "a.yaml")
    write(tmp_path, "rules:\n  - {id: b, query: 'мусор OR отходы', always_register: true}\n", "b.yaml")
    assert [r.id for r in load_rules(tmp_path)] == ["a", "b"]
    (rule,) = load_rules(tmp_path / "b.yaml")
    assert rule.always_register is True
    assert rule.topic is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules:\n  - {id: pits, query: 'яма OR'}\n", "rule 'pits': query syntax error at position 6"),
        ("rules:\n  - {id: pits, query: '(яма'}\n", "expected ')' to close the '(' at position 0"),
        ("rules:\n  - {id: quiet, query: 'NOT реклама'}\n", "rule 'quiet': the query matches posts that"),
        ("rules:\n  - {id: pits}\n", "rule 'pits': expected a string 'query'"),
        ("rules:\n  - {query: яма}\n", "rule #1: expected a non-empty string 'id'"),
        ("rules:\n  - {id: pits, query: яма, topik: roads}\n", "unknown fields ['topik']"),
        ("rules:\n  - {id: pits, query: яма, topic: dragons}\n", "unknown topic 'dragons'"),
        ("rules:\n  - {id: pits, query: яма, always_register: maybe}\n", "'always_register' to be true or"),
        ("rules:\n  - {id: a, query: яма}\n  - {id: a, query: дорога}\n", "rule 'a': the id is already used"),
        ("- id: a\n", "expected a mapping with a list under 'rules:'"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_errors_name_the_file_the_rule_and_the_problem(
    tmp_path: Path, content: str, message: str, taxonomy: Taxonomy
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(RulesError) as error:
        load_rules(path, topics=taxonomy.topics)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_a_syntax_error_shows_the_query_with_a_caret(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - {id: pits, query: 'яма NEAR/0 дорога'}\n")
    with pytest.raises(RulesError) as error:
        load_rules(path)
    assert "    яма NEAR/0 дорога\n        ^" in str(error.value)


def test_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no such file or folder"):
        load_rules(tmp_path / "nope.yaml")
