"""How a card words and marks things: time left, and the words that drove the decision."""

from __future__ import annotations

from datetime import timedelta

import pytest

from model.lemma import Lemmatizer
from model.records import NETWORKS as CODES
from serving.web.cards import NETWORKS, duration
from serving.web.highlight import Piece, highlight


@pytest.mark.parametrize("delta, text", [
    (timedelta(minutes=5), "5 мин"),
    (timedelta(hours=23, minutes=59), "23 ч 59 мин"),
    (timedelta(hours=-2, minutes=-3), "2 ч 3 мин"),
    (timedelta(days=2, minutes=1), "2 д 0 ч 1 мин"),
])
def test_duration(delta: timedelta, text: str) -> None:
    assert duration(delta) == text


def marked(pieces: list[Piece]) -> list[tuple[str, str]]:
    return [(p.text, p.mark) for p in pieces if p.mark]


def test_rule_place_and_lemma_words_are_marked_in_the_original_text(lemmatizer: Lemmatizer) -> None:
    text = "На Гайве  огромная ЯМА на дороге, третью неделю никто не чинит!!!"
    # Spans point into the normalized text (lower case, one space): "на гайве огромная яма на дороге, ..."
    explanation = {
        "rules": [{"id": "roads-surface", "spans": [[18, 21], [25, 31]]}],
        "place": [[3, 8]],
        "relevance": [["сработало правило мониторинга", 3.9], ["неделя", 0.3]],
        "topic": [["правило:roads", 1.6], ["дорога", 0.2]],
        "agency": [["подведомственность:municipality", 2.9], ["третий день", 0.1]],
    }
    pieces = highlight(text, explanation, lemmatizer, vocabulary={"неделя", "дорога", "третий день"})
    assert "".join(p.text for p in pieces) == text  # nothing lost or reordered
    assert marked(pieces) == [("Гайве", "place"), ("ЯМА", "rule"), ("дороге", "rule"), ("третью", "lemma"),
                              ("неделю", "lemma")]


def test_function_words_and_features_that_pushed_against_are_not_marked(lemmatizer: Lemmatizer) -> None:
    text = "На улице не горят фонари, а двор весь в ямах"
    explanation = {
        "relevance": [["на улица", 0.4], ["не гореть", 0.5]],
        "topic": [["фонарь", 0.3], ["весь", 0.2]],
        "agency": [["двор", -0.4]],
    }
    vocabulary = {"на улица", "не гореть", "фонарь", "весь", "двор"}
    pieces = highlight(text, explanation, lemmatizer, vocabulary=vocabulary)
    assert marked(pieces) == [("улице", "lemma"), ("не", "lemma"), ("горят", "lemma"), ("фонари", "lemma")]


def test_without_the_model_only_rules_and_places_are_marked() -> None:
    text = "Мусор не вывозят"
    pieces = highlight(text, {"rules": [{"id": "waste", "spans": [[0, 5]]}], "topic": [["вывозить", 1.0]]}, None)
    assert marked(pieces) == [("Мусор", "rule")]
    assert highlight("", {}, None) == []


def test_every_network_has_a_display_name() -> None:
    assert set(NETWORKS) == set(CODES)
