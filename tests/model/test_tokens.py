"""Tokens of normalized text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.normalize import normalize
from model.tokens import KINDS, Token, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ямы на дорогах", [("ямы", "word"), ("на", "word"), ("дорогах", "word")]),
        ("ужас!!!", [("ужас", "word"), ("!", "punct"), ("!", "punct"), ("!", "punct")]),
        ("#жкх #ямынадорогах", [("жкх", "hashtag"), ("ямынадорогах", "hashtag")]),
        (
            "пишите <mention> , <url>",
            [("пишите", "word"), ("<mention>", "mention"), (",", "punct"), ("<url>", "url")],
        ),
        ("<email>", [("<email>", "email")]),
        ("кое-где по-русски", [("кое-где", "word"), ("по-русски", "word")]),
        (
            "10.5 кг и 2024 год",
            [("10.5", "number"), ("кг", "word"), ("и", "word"), ("2024", "number"), ("год", "word")],
        ),
        ("опять 😡😡", [("опять", "word"), ("😡", "emoji"), ("😡", "emoji")]),
        ('"ук" молчит', [('"', "punct"), ("ук", "word"), ('"', "punct"), ("молчит", "word")]),
        (
            "ул.ленина, д.5",
            [
                ("ул", "word"),
                (".", "punct"),
                ("ленина", "word"),
                (",", "punct"),
                ("д", "word"),
                (".", "punct"),
                ("5", "number"),
            ],
        ),
        ("", []),
    ],
)
def test_tokenize(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(t.text, t.kind) for t in tokenize(text)] == expected


def test_offsets_point_into_the_text() -> None:
    text = "нет воды!!! #жкх <url> 😡"
    for token in tokenize(text):
        assert text[token.start : token.end] == token.text


def test_token_is_a_frozen_record() -> None:
    token = Token("яма", 0, 3, "word")
    assert token == tokenize("яма")[0]
    with pytest.raises(AttributeError):
        token.text = "ям"  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokens_cover_every_visible_character_of_normalized_text(raw: str) -> None:
    text = normalize(raw)
    tokens = tokenize(text)
    end = 0
    for token in tokens:
        assert token.kind in KINDS
        assert token.start >= end
        assert text[token.start : token.end] == token.text
        gap = text[end : token.start]
        assert gap.strip() in ("", "#"), gap  # only spaces between tokens, or a hashtag's sign
        end = token.end
    assert text[end:].strip() == ""
