"""The post text cut into pieces, the words that drove the model's decision marked.

Three kinds of marks, from the incident's `suggested.explanation` (see `model.predictor`): `rule`
— the words a monitoring rule matched; `place` — the toponym that gave the municipality; `lemma` —
a word whose lemma is among the features that pushed a head most. Rule and place spans are offsets
into the normalized text, so they are turned into word forms and found again in the original text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from model.lemma import Lemmatizer
from model.normalize import normalize

HEADS = ("relevance", "topic", "agency")
_WORD = re.compile(r"\w+(?:-\w+)*")
# Function words say nothing to a reader even when a lemma bigram carries them (`на дорога`);
# `не`/`нет` stay: they are what makes a complaint (`не горят`, `нет воды`).
_FUNCTION_WORDS = frozenset(
    "в во на над под по к ко с со из от до для о об обо при про у за через между и а но или да же ли бы "  # noqa: SIM905
    "что как это то так уже еще все весь вот там тут".split()
)


@dataclass(frozen=True)
class Piece:
    text: str
    mark: str | None = None  # rule | place | lemma


def highlight(
    text: str, explanation: dict[str, Any], lemmatizer: Lemmatizer | None, vocabulary: Collection[str] = ()
) -> list[Piece]:
    """`text` as pieces; `vocabulary` (the model's word features) tells lemma features from grouped ones."""
    normalized = normalize(text)
    rule_words = _words_at(normalized, (span for rule in explanation.get("rules", []) for span in rule["spans"]))
    place_words = _words_at(normalized, explanation.get("place", []))
    lemmas = {
        word
        for head in HEADS
        for name, push in explanation.get(head, [])
        if push > 0 and name in vocabulary
        for word in name.split()
        if word not in _FUNCTION_WORDS
    }
    pieces: list[Piece] = []
    end = 0
    for match in _WORD.finditer(text):
        form = _form(match.group())
        mark = None
        if form in rule_words:
            mark = "rule"
        elif form in place_words:
            mark = "place"
        elif lemmas and lemmatizer is not None and lemmas.intersection(lemmatizer.lemmas(form)):
            mark = "lemma"
        if mark is None:
            continue
        if match.start() > end:
            pieces.append(Piece(text[end : match.start()]))
        pieces.append(Piece(match.group(), mark))
        end = match.end()
    if end < len(text):
        pieces.append(Piece(text[end:]))
    return pieces


def _form(word: str) -> str:
    return word.lower().replace("ё", "е")


def _words_at(normalized: str, spans: Iterable[list[int]]) -> set[str]:
    return {_form(w) for start, stop in spans for w in _WORD.findall(normalized[start:stop])}
