"""The personal-data masker: a table of Russian phrases, and its figures on the project's own set of
240 posts with the spans to mask marked by hand (annotations/pii/posts.jsonl)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from model.pii import Masker, Span
from tests.conftest import ROOT

WORD = re.compile(r"\w+")
SET = ROOT / "annotations" / "pii" / "posts.jsonl"


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker()


@pytest.mark.parametrize("text, masked", [
    ("Звонила Ирине Петровне, тел. 8 912 345-67-89", "Звонила [ИМЯ], тел. [ТЕЛЕФОН]"),
    ("Пишите на ivanova.m@mail.ru или +7 (342) 211-00-00", "Пишите на [EMAIL] или [ТЕЛЕФОН]"),
    ("Течёт крыша, кв. 12, и в квартире 14 тоже", "Течёт крыша, [КВ], и в [КВ] тоже"),
    ("СНИЛС 123-456-789 01, паспорт 57 04 123456", "СНИЛС [СНИЛС], паспорт [ПАСПОРТ]"),
    ("Ямы на улице Ленина в Перми, Минтранс молчит", "Ямы на улице Ленина в Перми, Минтранс молчит"),
    ("Надежда только на вас: в январе в Березниках нет воды", "Надежда только на вас: в январе в Березниках нет воды"),
    ("Участковый Голубев не отвечает", "Участковый [ИМЯ] не отвечает"),
    ("Врач Ф. И. Никитин принимает платно", "Врач [ИМЯ] принимает платно"),
    ("Дом 5, лицевой счёт 123456789, 2019 год", "Дом 5, лицевой счёт 123456789, 2019 год"),
])  # fmt: skip
def test_a_phrase_is_masked(masker: Masker, text: str, masked: str) -> None:
    assert masker.mask([text]) == [masked]


def test_masking_is_idempotent_and_a_batch_is_texts_of_one(masker: Masker) -> None:
    texts = ["Спасибо Ирине Сергеевне из поликлиники на Пушкина", "Звоните Андрею 89024781236", ""]
    once = masker.mask(texts)
    assert masker.mask(once) == once
    assert [masker.mask([t])[0] for t in texts] == once
    assert masker.spans(["Андрей"]) == [[Span(0, 6, "name")]]


def test_on_the_set_names_phones_and_emails_are_masked_and_other_words_are_not(masker: Masker) -> None:
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 200
    found = masker.spans([r["text"] for r in rows])
    marked, masked = Counter(), Counter()
    others = others_masked = 0
    for row, spans in zip(rows, found, strict=True):
        text = row["text"]

        def covered(a: int, b: int, spans: list[Span] = spans) -> bool:
            return any(s.start < b and a < s.stop for s in spans)

        for gold in row["spans"]:
            marked[gold["kind"]] += 1
            words = [m.span() for m in WORD.finditer(text, gold["start"], gold["stop"])]
            masked[gold["kind"]] += all(any(s.start <= a and b <= s.stop for s in spans) for a, b in words)
        for m in WORD.finditer(text):
            if not any(g["start"] <= m.start() < g["stop"] for g in row["spans"]):
                others += 1
                others_masked += covered(*m.span())
    recall = {kind: masked[kind] / marked[kind] for kind in marked}
    assert marked["name"] >= 100 and marked["phone"] >= 30 and marked["email"] >= 15
    assert recall["name"] >= 0.95 and recall["phone"] >= 0.95 and recall["email"] >= 0.95, recall
    assert recall["flat"] >= 0.9 and recall["snils"] == recall["passport"] == 1.0, recall
    assert others > 3000 and others_masked / others < 0.02, (others_masked, others)


def test_the_set_is_well_formed() -> None:
    for line in SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert set(row) == {"id", "text", "spans"}
        last = 0
        for span in row["spans"]:
            assert span["kind"] in ("name", "phone", "email", "flat", "snils", "passport")
            assert last <= span["start"] < span["stop"] <= len(row["text"]), row["id"]
            assert row["text"][span["start"]:span["stop"]].strip() == row["text"][span["start"]:span["stop"]]
            last = span["stop"]
