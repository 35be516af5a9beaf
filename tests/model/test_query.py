"""The monitoring query language: syntax into a tree, errors with a position and what was expected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.query import (
    And,
    Exact,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    QuerySyntaxError,
    Word,
    matches_nothing_required,
    parse,
)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("яма", Word("яма")),
        ("Яма", Word("яма")),  # case-insensitive
        ("Ёлка", Word("елка")),  # ё = е
        ('"горячая вода"', Phrase((Word("горячая"), Word("вода")))),
        ("отоп*", Prefix("отоп")),
        ("=ямы", Exact("ямы")),
        ('="горячей воды"', Phrase((Exact("горячей"), Exact("воды")))),
        ('"горяч* вода"', Phrase((Prefix("горяч"), Word("вода")))),
        ("яма дорога", And((Word("яма"), Word("дорога")))),
        ("яма AND дорога", And((Word("яма"), Word("дорога")))),
        ("яма and дорога", And((Word("яма"), Word("дорога")))),  # operators in any case
        ("яма OR выбоина", Or((Word("яма"), Word("выбоина")))),
        ("NOT ремонт", Not(Word("ремонт"))),
        ("-ремонт", Not(Word("ремонт"))),
        ("дорога -ремонт", And((Word("дорога"), Not(Word("ремонт"))))),
        ("яма NEAR/3 дорога", Near(Word("яма"), Word("дорога"), 3)),
        ("(яма OR выбоина) NEAR/5 дорога", Near(Or((Word("яма"), Word("выбоина"))), Word("дорога"), 5)),
        ('"or"', Word("or")),  # a quoted operator is a word
        ("#ЖКХ", Word("жкх")),
        ("ул.Ленина", Phrase((Word("ул"), Word("ленина")))),  # one written word, two tokens
        ("кое-где", Word("кое-где")),
        # precedence: NOT, NEAR, AND, OR
        ("a b OR c", Or((And((Word("a"), Word("b"))), Word("c")))),
        ("a OR b c", Or((Word("a"), And((Word("b"), Word("c")))))),
        ("a (b OR c)", And((Word("a"), Or((Word("b"), Word("c")))))),
        ("a NEAR/2 b c", And((Near(Word("a"), Word("b"), 2), Word("c")))),
        ("-a b", And((Not(Word("a")), Word("b")))),
        ("a NEAR/2 b NEAR/3 c", Near(Near(Word("a"), Word("b"), 2), Word("c"), 3)),
    ],
)
def test_parse(query: str, tree: Query) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ("", 0, "expected a word, phrase or '('"),
        ("яма OR", 6, "after 'OR', got end of query"),
        ("OR яма", 0, "got 'OR'"),
        ("яма AND AND дорога", 8, "after 'AND', got 'AND'"),
        ("(яма OR выбоина", 15, "expected ')' to close the '(' at position 0"),
        ("яма)", 3, "expected an operator or end of query, got ')'"),
        ("()", 1, "got ')'"),
        ('"горячая вода', 0, "expected a closing '\"'"),
        ('""', 0, "expected words inside the quotes"),
        ("яма NEAR/0 дорога", 4, "NEAR/n with a whole number"),
        ("яма NEAR дорога", 4, "NEAR/n with a whole number"),
        ("яма NEAR/x дорога", 4, "NEAR/n with a whole number"),
        ("NOT яма NEAR/3 дорога", 0, "on the left of NEAR"),
        ("яма NEAR/3 (дорога AND асфальт)", 11, "on the right of NEAR"),
        ("от*оп", 2, "'*' only at the end of a word"),
        ("*", 0, "a word before '*'"),
        ("о*", 0, "at least 2 letters before '*'"),
        ("=", 0, "a word after '='"),
        ("- яма", 0, "right after '-'"),
        ("!!!", 0, "got only punctuation"),
        ("(" * 100 + "яма" + ")" * 100, 64, "at most 64 nested"),
    ],
)
def test_syntax_errors_name_the_position_and_what_was_expected(query: str, position: int, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as error:
        parse(query)
    assert error.value.position == position
    assert expected in error.value.message
    assert f"position {position}" in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("query", "expected"),
    [("NOT спам", True), ("яма OR -спам", True), ("яма -спам", False), ("-a -b", True), ("яма", False)],
)
def test_matches_nothing_required(query: str, expected: bool) -> None:
    assert matches_nothing_required(parse(query)) is expected


_QUERY_PIECES = st.sampled_from(
    ["яма", "дорога", "отоп*", "=ямы", '"', "(", ")", "-", "*", "=", " ", "AND", "OR", "NOT", "NEAR/3",
     "NEAR/", "NEAR/0", "#", "ё", "!", "...", "'", "\\", "\n", "😡"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(_QUERY_PIECES, max_size=12).map(" ".join))
def test_parser_raises_only_query_syntax_errors_on_query_like_strings(query: str) -> None:
    try:
        parse(query)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(query)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parser_raises_only_query_syntax_errors_on_any_string(query: str) -> None:
    try:
        parse(query)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(query)
