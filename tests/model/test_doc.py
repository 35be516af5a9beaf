"""From a raw post to a Doc: normalized text, tokens, lemmas; batches first."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError

import pytest

from model.doc import Doc, analyze
from model.lemma import Lemmatizer
from model.tokens import Token


def test_golden_post(lemmatizer: Lemmatizer) -> None:
    (doc,) = analyze(["Ямы на дорогах!!! #ЖКХ [id1|Иван] https://vk.com/x 😡"], lemmatizer)
    assert doc.text == "ямы на дорогах!!! #жкх <mention> <url> 😡"
    assert [t.text for t in doc.tokens] == [
        "ямы", "на", "дорогах", "!", "!", "!", "жкх", "<mention>", "<url>", "😡",
    ]  # fmt: skip
    assert [t.kind for t in doc.tokens] == [
        "word", "word", "word", "punct", "punct", "punct", "hashtag", "mention", "url", "emoji",
    ]  # fmt: skip
    assert doc.lemmas[0] == ("яма", "ям")
    assert doc.lemmas[2] == ("дорога",)
    assert doc.lemmas[6] == ("жкх",)
    assert doc.lemmas[8] == ("<url>",)
    for token in doc.tokens:
        assert doc.text[token.start : token.end] == token.text


def test_batches_first(lemmatizer: Lemmatizer) -> None:
    texts = ["Нет горячей воды", "", "Мусор не вывезли"]
    docs = analyze(texts, lemmatizer)
    assert len(docs) == 3
    assert docs[1] == Doc("", (), ())
    assert analyze(texts[2:], lemmatizer) == docs[2:]
    assert all(len(d.tokens) == len(d.lemmas) for d in docs)


def test_run_together_hashtags_are_split_into_words(lemmatizer: Lemmatizer) -> None:
    (doc,) = analyze(["#ЯмыНаДорогах #ЖКХ #Пермь"], lemmatizer)
    assert [(t.text, t.kind) for t in doc.tokens] == [
        ("ямы", "hashtag"), ("на", "hashtag"), ("дорогах", "hashtag"),
        ("жкх", "hashtag"), ("пермь", "hashtag"),
    ]  # fmt: skip
    for token in doc.tokens:
        assert doc.text[token.start : token.end] == token.text


def test_doc_is_an_immutable_record(lemmatizer: Lemmatizer) -> None:
    (doc,) = analyze(["Ямы на дорогах!"], lemmatizer)
    with pytest.raises(FrozenInstanceError):
        doc.text = "x"  # type: ignore[misc]
    assert doc.words == ("ямы", "на", "дорогах", "!")
    assert doc.starts == (0, 4, 7, 14)
    assert doc.tokens[3] == Token("!", 14, 15, "punct")
    assert pickle.loads(pickle.dumps(doc)) == doc
    assert hash(doc) == hash(Doc(doc.text, doc.tokens, doc.lemmas))
