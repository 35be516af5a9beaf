"""The label space file: every code of DESIGN.md, each with a Russian name and a description."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.rules import load_rules
from model.taxonomy import Taxonomy, TaxonomyError, load_taxonomy

TOPICS = [
    *("housing", "improvement", "roads", "transport", "health", "education", "social", "waste"),
    *("ecology", "gas", "power", "construction", "safety", "telecom", "culture_sport", "trade", "other"),
]
AGENCIES = [
    *("municipality", "health_ministry", "education_ministry", "social_ministry", "transport_ministry"),
    *("housing_ministry", "ecology_ministry", "construction_ministry", "housing_inspection"),
    *("waste_operator", "culture_ministry", "sport_ministry", "digital_ministry", "safety_ministry"),
]


def test_codes_are_those_of_the_design(taxonomy: Taxonomy) -> None:
    assert list(taxonomy.topics) == TOPICS
    assert list(taxonomy.agencies) == AGENCIES


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("housing", "ЖКХ"),
        ("improvement", "Благоустройство"),
        ("roads", "Дороги"),
        ("transport", "Общественный транспорт"),
        ("social", "Социальное обслуживание и защита"),
        ("waste", "Мусор, свалки, ТКО"),
        ("culture_sport", "Культура и спорт"),
        ("other", "Другое"),
    ],
)
def test_topic_names_are_the_russian_ones(taxonomy: Taxonomy, code: str, name: str) -> None:
    assert taxonomy.topics[code].name == name


def test_every_entry_is_named_in_russian_and_described(taxonomy: Taxonomy) -> None:
    for code, (name, description) in {**taxonomy.topics, **taxonomy.agencies}.items():
        assert any("а" <= c.lower() <= "я" for c in name), code
        assert len(description.split()) >= 10, f"{code}: describe what belongs there"
        assert "\n" not in description


def test_tie_breaks_are_in_the_descriptions(taxonomy: Taxonomy) -> None:
    assert "cold school" in taxonomy.topics["housing"].description
    assert "sidewalk" in taxonomy.topics["improvement"].description
    assert "Sidewalks" in taxonomy.topics["roads"].description


def test_check_names_the_place_and_the_known_codes(taxonomy: Taxonomy) -> None:
    taxonomy.check_topic("roads", "x")
    with pytest.raises(ValueError, match=r"corpus\.jsonl:3: unknown topic 'potholes'.*housing"):
        taxonomy.check_topic("potholes", "corpus.jsonl:3")
    with pytest.raises(ValueError, match=r"unknown agency 'mayor'"):
        taxonomy.check_agency("mayor", "here")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
topics:
  roads: {name: Дороги, description: Ямы на дорогах.}
agencies:
  municipality: {name: Администрация, description: Город.}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "expected a mapping"),
        ("topics: {}\nagencies: {}", "'topics' must be a non-empty mapping"),
        (GOOD.replace("name: Дороги, ", ""), r"topics\.roads: 'name' .* is missing"),
        (GOOD.replace("description: Город.", "description: ''"), r"agencies\.municipality: 'description'"),
        (GOOD.replace("roads:", "Roads:"), r"topics\.Roads: a code is lower-case"),
        (GOOD.replace("Ямы на дорогах.}", "Ямы, colour: red}"), r"unknown keys \['colour'\]"),
        ("topics: [", "not valid YAML"),
    ],
)
def test_broken_file_names_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TaxonomyError, match=message) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value)


def test_good_file_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(_write(tmp_path, GOOD))
    assert taxonomy.topics["roads"] == ("Дороги", "Ямы на дорогах.")


def test_missing_file_says_where_it_lives(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"annotations/taxonomy\.yaml"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_every_topic_has_default_monitoring_rules(taxonomy: Taxonomy) -> None:
    rules = load_rules(Path(__file__).resolve().parents[2] / "annotations" / "rules", topics=taxonomy.topics)
    assert {rule.topic for rule in rules} == set(taxonomy.topics)
    assert not any(rule.always_register for rule in rules)
