"""Data checks on annotations/corpus: schema, label space, minimums, no leaks between splits."""

from __future__ import annotations

import pytest

from model.doc import analyze
from model.lemma import Lemmatizer
from model.matcher import Matcher
from model.region import Region
from model.rules import load_rules
from model.taxonomy import Taxonomy
from tests.conftest import ANNOTATIONS
from training.corpus import Example, label_problems, minimum_problems, near_duplicates, read_corpus, splits


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return read_corpus(ANNOTATIONS / "corpus")


@pytest.fixture(scope="module")
def handwritten(corpus: list[Example]) -> list[Example]:
    return [ex for ex in corpus if not ex.augmented]


def test_labels_are_in_the_taxonomy_and_the_region(corpus: list[Example], taxonomy: Taxonomy, perm: Region) -> None:
    assert label_problems(corpus, taxonomy, perm) == []


def test_per_class_minimums(corpus: list[Example], taxonomy: Taxonomy) -> None:
    assert minimum_problems(corpus, taxonomy) == []


def test_no_near_duplicates_inside_the_corpus(handwritten: list[Example]) -> None:
    pairs = near_duplicates(handwritten)
    assert [(a.id, b.id, round(s, 2)) for a, b, s in pairs] == []


def test_no_test_post_near_duplicates_a_train_post(corpus: list[Example]) -> None:
    parts = splits(corpus)
    pairs = near_duplicates(parts["test"], parts["train"])
    assert [(a.id, b.id, round(s, 2)) for a, b, s in pairs] == []


def test_test_split_is_handwritten(corpus: list[Example]) -> None:
    assert not [ex.id for ex in corpus if ex.split == "test" and ex.augmented]


def test_about_a_third_of_complaints_name_no_place(handwritten: list[Example]) -> None:
    relevant = [ex for ex in handwritten if ex.relevant]
    share = sum(ex.municipality is None for ex in relevant) / len(relevant)
    assert 0.2 <= share <= 0.45, share


def test_most_negatives_carry_monitored_words(handwritten: list[Example], lemmatizer: Lemmatizer) -> None:
    """At least half of the not-relevant posts would be caught by the monitoring rules."""
    negatives = [ex for ex in handwritten if not ex.relevant]
    matcher = Matcher(load_rules(ANNOTATIONS / "rules"), lemmatizer)
    hits = matcher.match(analyze([ex.text for ex in negatives], lemmatizer))
    share = sum(bool(h) for h in hits) / len(negatives)
    assert share >= 0.5, share


def test_networks_are_varied(handwritten: list[Example]) -> None:
    networks = {ex.network for ex in handwritten}
    assert {"vk", "ok", "telegram"} <= networks


def test_readme_counts_are_current(corpus: list[Example], perm: Region) -> None:
    from training.report import markdown_counts, replace_counts

    readme = ANNOTATIONS / "README.md"
    table = markdown_counts(corpus, {m.oktmo: m.name for m in perm.municipalities})
    assert replace_counts(readme, table) == readme.read_text(encoding="utf-8"), (
        "annotations/README.md is stale: run `otklik corpus-stats --write annotations/README.md`"
    )
