"""Normalization of social-network text: one table row per rule, then properties on any Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Unicode NFKC: ligatures, full-width letters, no-break spaces
        ("ﬁle ＰＥＲＭ a\u00a0b", "file perm a b"),
        # lower case, ё → е
        ("УВАЖАЕМЫЕ ВЛАСТИ", "уважаемые власти"),
        ("Ёлка всё", "елка все"),
        # HTML entities (also escaped twice) and tags
        ("&quot;Горводоканал&quot;", '"горводоканал"'),
        ("&laquo;УК&raquo; не отвечает", '"ук" не отвечает'),
        ("&amp;quot;двойное&amp;quot;", '"двойное"'),
        ("Первая строка<br/>вторая", "первая строка\nвторая"),
        ("<b>Срочно</b>", "срочно"),
        # URLs, e-mails, @mentions, VK links
        ("смотрите https://vk.com/wall-1_2 тут", "смотрите <url> тут"),
        ("сайт www.perm.ru.", "сайт <url> ."),
        ("запись на госуслуги.рф", "запись на <url>"),
        ("новость perm.ru/news?id=1.", "новость <url> ."),
        ("пишите @perm_admin", "пишите <mention>"),
        ("почта ivanov@mail.ru", "почта <email>"),
        ("[id123|Иван Петров], здравствуйте", "<mention> , здравствуйте"),
        ("[club456|Администрация Перми], когда?", "<mention> администрация перми , когда?"),
        # Latin look-alikes inside Cyrillic words, and the reverse
        ("пpивет", "привет"),  # Latin p
        ("ЖKХ", "жкх"),  # Latin K
        ("ПPИBET", "привет"),
        ("iPhоne", "iphone"),  # Cyrillic о
        # repeated letters squeezed; the company form ООО and numbers stay
        ("Ужаааас", "ужас"),
        ("дааааа", "да"),
        ("Оооочень холодно", "очень холодно"),
        ("ООО «Рога»", 'ооо "рога"'),
        ("Ёлки — «Зелёные» – «“Дом”»", 'елки — "зеленые" – ""дом""'),  # dashes stay, quotes unify
        ("1000000 рублей", "1000000 рублей"),
        # hashtags keep their sign (the tokenizer takes the word after it)
        ("#ЖКХ #Пермь", "#жкх #пермь"),
        # invisible characters and stress marks
        ("при" + "\u00ad" + "вет при" + "\u200b" + "вет", "привет привет"),
        ("за\u0301мок", "замок"),
        # whitespace: runs collapse, a line break survives as one
        ("  много   пробелов \n\n\n и строк  ", "много пробелов\nи строк"),
        # emoji are kept
        ("Опять 😡😡", "опять 😡😡"),
        # abbreviations are not domains
        ("т.е. и т.д.", "т.е. и т.д."),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "Ужаааас",
        "&amp;quot;x&amp;quot;",
        "пpивет",
        "[club1|Имя] @x https://a.ru",
        "ООО",
        "htttp://x.ru",
        "&lt;\u0301a>",
        "&\u00adamp;",  # removing an invisible character reveals a tag or an entity
    ],
)
def test_normalize_is_idempotent_on_examples(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


# Characters that exercise every step: Cyrillic and Latin look-alikes, HTML, URL and mention
# syntax, repeats, combining marks, invisible characters, emoji, odd whitespace.
_TRICKY = st.lists(
    st.sampled_from(
        list("аоерсхуАОЕРСХУЁёaoepcxyAOEPCXYBHKMTпиПИbdr ")
        + list("&;#<>/[]|@.:-_'\"«»1234567890\n\t\r")
        + ["&amp;", "&lt;", "br", "http", "www", ".ru", "club1|", "id1|", "ооо", "\u0301", "\u0308"]
        + ["\u00ad", "\u200b", "\ufeff", "😡", "\u00a0", "ﬁ", "Ⓐ", "İ", "ß"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(_TRICKY)
def test_normalize_is_idempotent_on_tricky_text(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalize_is_idempotent_and_total_on_any_unicode(text: str) -> None:
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once
    assert once == once.strip()
