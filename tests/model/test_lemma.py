"""Lemmas: every plausible lemma of an ambiguous word, one cached analyzer."""

from __future__ import annotations

import pickle

import pymorphy3.dawg
import pytest

from model.lemma import Lemmatizer
from model.spelling import likely_typos


def test_pymorphy3_uses_the_dawg_c_extension() -> None:
    # The pure-Python DAWG reader is ~5x slower; pymorphy3[fast] brings the C extension (DAWG2).
    assert pymorphy3.dawg.EXTENSION_AVAILABLE


@pytest.mark.parametrize(
    ("word", "must_have", "must_not_have"),
    [
        ("ямы", {"яма", "ям"}, set()),  # pymorphy3 parses `ям` first; `яма` must not be lost
        ("ямах", {"яма"}, set()),
        ("ямочный", {"ямочный"}, {"яма"}),
        ("вывезли", {"вывезти"}, {"вывозить"}),
        ("отключили", {"отключить"}, set()),
        ("дорогами", {"дорога"}, set()),
        ("горячей", {"горячий"}, set()),
        ("стали", {"стать", "сталь"}, set()),
        ("при", {"при"}, {"переть"}),  # a reading with under 1% of the score is dropped
        ("елка", {"елка"}, {"ёлка"}),  # lemmas are spelled with е, like normalized text
        ("березниках", {"березники"}, set()),
        ("пермяки", {"пермяк"}, set()),
    ],
)
def test_lemmas(lemmatizer: Lemmatizer, word: str, must_have: set[str], must_not_have: set[str]) -> None:
    lemmas = set(lemmatizer.lemmas(word))
    assert must_have <= lemmas
    assert not lemmas & must_not_have


@pytest.mark.parametrize(("word", "lemma"), [("ямы", "яма"), ("дороги", "дорога"), ("отопления", "отопление")])
def test_the_most_probable_lemma_comes_first(lemmatizer: Lemmatizer, word: str, lemma: str) -> None:
    assert lemmatizer.lemma(word) == lemma
    assert lemmatizer.lemmas(word)[0] == lemma


@pytest.mark.parametrize("token", ["<url>", "<mention>", "2024", "10.5", "😡", ",", "!"])
def test_non_words_are_their_own_lemma(lemmatizer: Lemmatizer, token: str) -> None:
    assert lemmatizer.lemmas(token) == (token,)


def test_unknown_words_get_few_guesses(lemmatizer: Lemmatizer) -> None:
    lemmas = lemmatizer.lemmas("ковидники")
    assert 1 <= len(lemmas) <= 2
    assert lemmas[0] == "ковидник"


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("дароге", "дорога"),  # an unstressed vowel for another
        ("вечиром", "вечером"),
        ("атвечает", "отвечать"),
        ("терапефту", "терапевт"),  # a voiced consonant for a voiceless one
        ("подезде", "подъезд"),  # a missing hard sign
        ("росийской", "российский"),  # a double letter written once
        ("отсановка", "остановка"),  # two letters swapped
        ("мусорка", "мусор"),  # slang: a letter more than мусора
    ],
)
def test_a_misspelled_word_gets_the_lemma_meant_first(lemmatizer: Lemmatizer, typo: str, meant: str) -> None:
    lemmas = lemmatizer.lemmas(typo)
    assert lemmas[0] == meant, lemmas
    assert not lemmatizer.known(typo)


@pytest.mark.parametrize(
    "word",
    [
        "стеклянный",  # known: never corrected, though стекла is a letter away
        "течот",  # under six letters: more often slang or a name than a typo
        "халадильник",  # two typos
        "калектив",
        "управляйка",  # slang with no dictionary word a typo away
    ],
)
def test_a_word_is_not_corrected(lemmatizer: Lemmatizer, word: str) -> None:
    parsed = lemmatizer._parse(word)  # what pymorphy3 alone gives
    assert lemmatizer.lemmas(word) == parsed


def test_likely_typos_are_the_common_edits_only() -> None:
    typos = likely_typos("дорога")
    assert {"дарога", "дорогаа", "дрога", "одрога", "дорьога", "торога"} <= typos
    assert "дорога" not in typos and "дорома" not in typos  # м for г is no common slip
    assert len(typos) < 60  # not every letter for every letter


def test_lemmas_of_matches_lemmas(lemmatizer: Lemmatizer) -> None:
    words = ["ямы", "на", "дорогах", "ямы", "!"]
    assert lemmatizer.lemmas_of(words) == [lemmatizer.lemmas(w) for w in words]


def test_cache_is_bounded() -> None:
    small = Lemmatizer(max_cache=10)
    for i in range(25):
        small.lemmas(f"слово{i}")
    assert len(small._cache) <= 10
    assert small.lemmas("ямы") == Lemmatizer().lemmas("ямы")


def test_pickle_drops_the_analyzer_and_recreates_it(lemmatizer: Lemmatizer) -> None:
    lemmatizer.lemmas("ямы")
    data = pickle.dumps(lemmatizer)
    assert len(data) < 1000  # neither the analyzer nor the cache travel
    restored = pickle.loads(data)
    assert restored.max_cache == lemmatizer.max_cache
    assert restored.lemmas("ямы") == lemmatizer.lemmas("ямы")


def test_known(lemmatizer: Lemmatizer) -> None:
    assert lemmatizer.known("дорога")
    assert not lemmatizer.known("ямынадорогах")


@pytest.mark.parametrize(
    ("word", "pieces"),
    [
        ("ямынадорогах", ("ямы", "на", "дорогах")),
        ("мусорнаулицах", ("мусор", "на", "улицах")),
        ("доброеутро", ("доброе", "утро")),
        ("пермскийкрай", ("пермский", "край")),
        ("снегнеубран", ("снег", "не", "убран")),
        ("жкх", ("жкх",)),  # a word already
        ("отопление", ("отопление",)),
        ("дороги59", ("дороги59",)),  # not only letters
    ],
)
def test_split_run_together_words(lemmatizer: Lemmatizer, word: str, pieces: tuple[str, ...]) -> None:
    assert lemmatizer.split(word) == pieces
