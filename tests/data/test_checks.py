"""The data checks themselves catch a corpus broken on purpose."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from model.region import Region
from model.taxonomy import Taxonomy
from training.corpus import (
    CorpusError,
    Example,
    Minimums,
    label_problems,
    minimum_problems,
    near_duplicates,
    read_corpus,
)

GOOD = Example(id="a1", text="Третий день нет воды в Березниках", relevant=True, topic="housing",
               agency="municipality", municipality="57708000", network="vk")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (replace(GOOD, topic="potholes"), "topic 'potholes' is not in the taxonomy"),
        (replace(GOOD, agency="mayor"), "agency 'mayor' is not in the taxonomy"),
        (replace(GOOD, topic=None), "needs both 'topic' and 'agency'"),
        (replace(GOOD, municipality="99999999"), "municipality '99999999' is not an OKTMO code"),
        (replace(GOOD, relevant=False), "must have no topic/agency/municipality"),
        (replace(GOOD, augmented=True, split="test"), "augmented row 'a1' is in split 'test'"),
    ],
)
def test_label_problems_are_caught(broken: Example, message: str, taxonomy: Taxonomy, perm: Region) -> None:
    assert label_problems([GOOD], taxonomy, perm) == []
    problems = label_problems([broken], taxonomy, perm)
    assert any(message in p for p in problems), problems


def test_duplicate_ids_are_caught(taxonomy: Taxonomy, perm: Region) -> None:
    problems = label_problems([GOOD, replace(GOOD, text="другой текст")], taxonomy, perm)
    assert any("duplicate id 'a1'" in p for p in problems)


def test_minimums_are_enforced(taxonomy: Taxonomy) -> None:
    problems = minimum_problems([GOOD], taxonomy, Minimums())
    assert "1 relevant rows, need 1000" in problems
    assert any(p.startswith("topic roads: 0 rows") for p in problems)
    assert any(p.startswith("agency health_ministry: 0 rows") for p in problems)
    assert minimum_problems([GOOD], taxonomy, Minimums(0, 0, 0, 0, 0, 0)) == []


@pytest.mark.parametrize(
    ("a", "b", "dup"),
    [
        ("нет горячей воды в доме на Ленина третий день", "нет горячей воды в доме на Ленина уже третий день", True),
        ("нет горячей воды в доме на Ленина третий день", "НЕТ горячей воды в доме на Ленина третий день!!!", True),
        ("нет горячей воды в доме на Ленина третий день", "яма на дороге у школы никто не чинит", False),
        ("нет горячей воды в доме", "в доме нет горячей воды", False),
    ],
)
def test_near_duplicates(a: str, b: str, dup: bool) -> None:
    pairs = near_duplicates([replace(GOOD, id="x", text=a), replace(GOOD, id="y", text=b)])
    assert bool(pairs) is dup


def test_near_duplicate_across_splits() -> None:
    train = [replace(GOOD, id="t1", text="Когда уже уберут снег на улице Мира, машины встают")]
    test = [replace(GOOD, id="s1", text="когда уже уберут снег на улице мира машины встают!", split="test")]
    assert near_duplicates(test, train)
    assert near_duplicates(train) == []


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    good = json.dumps({"id": "1", "text": "яма", "relevant": False}, ensure_ascii=False)
    cases = {
        "not valid JSON": "{oops",
        "missing required field 'relevant'": json.dumps({"id": "2", "text": "яма"}),
        "'split' must be one of": json.dumps({"id": "3", "text": "яма", "relevant": False, "split": "dev"}),
        "'text' must be a non-empty string": json.dumps({"id": "4", "text": "  ", "relevant": False}),
    }
    for expected, bad in cases.items():
        (tmp_path / "c.jsonl").write_text(good + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(CorpusError, match=r"c\.jsonl:2") as err:
            read_corpus(tmp_path)
        assert expected in str(err.value)
