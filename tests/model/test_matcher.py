"""Compiled matching: every operator on real Russian phrases, spans, and thousands of queries at once."""

from __future__ import annotations

import os
import pickle
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.doc import Doc, analyze
from model.lemma import Lemmatizer
from model.matcher import COMPILED, Matcher, Rule, RuleMatch, match_records
from model.query import QuerySyntaxError


def matches(query: str, text: str, lemmatizer: Lemmatizer) -> bool:
    matcher = Matcher([Rule("r", query)], lemmatizer)
    return bool(matcher.match(analyze([text], lemmatizer))[0])


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # a word: any inflected form of its lemma
        ("дорога", "Когда отремонтируют дороги?", True),
        ("дорога", "Ездить по таким дорогам невозможно", True),
        ("отключить", "Опять отключили свет", True),
        ("яма", "ямы на дорогах", True),  # pymorphy3's first parse of ямы is ям
        ("яма", "ЯМЫ!!! везде ямы", True),
        ("яма", "утонули в ямах", True),
        ("ямы", "одна большая яма", True),  # a query word that is not a lemma stands for its lemma
        ("яма", "ямочный ремонт опять", False),
        ("вывозить", "мусор не вывезли", False),  # another verb (aspect pair), not a form of it
        ("вывезти", "мусор не вывезли", True),
        ("жкх", "#ЖКХ #Пермь", True),  # a hashtag is its word
        ('"яма на дорога"', "#ямынадорогах", True),  # a run-together hashtag is split
        ("елка", "Ёлку так и не убрали", True),  # ё = е
        ("ёлка", "елку так и не убрали", True),
        # a phrase: consecutive words, in order, each by lemma
        ('"горячая вода"', "Нет горячей воды третий день", True),
        ('"горячая вода"', "дайте горячую воду", True),
        ('"горячая вода"', "вода горячая только у соседей", False),
        ('"горячая вода"', "горячая и холодная вода", False),
        ('"ул ленина"', "г. Пермь, ул. Ленина 5", True),  # punctuation takes no word position
        # a prefix of the written form
        ("отоп*", "Отопление так и не дали", True),
        ("отоп*", "отопительный сезон начался", True),
        ("отоп*", "топить начали", False),
        # an exact form
        ("=ямы", "ямы на дорогах", True),
        ("=ямы", "яма на дороге", False),
        # AND (also implicit), OR, NOT, -
        ("мусор контейнер", "мусор валяется вокруг контейнеров", True),
        ("мусор AND контейнер", "мусор не вывозят", False),
        ("яма OR выбоина", "сплошные выбоины", True),
        ("дорога -ремонт", "дорога разбита", True),
        ("дорога -ремонт", "ремонт дороги начнется в мае", False),
        ("дорога NOT ремонт", "ремонт дороги начнется в мае", False),
        ("(яма OR выбоина) -ямочный", "выбоина и ямочный ремонт", False),
        # NEAR/n: within n words, either order
        ("мусор NEAR/3 вывезти", "мусор уже неделю не вывезли", False),
        ("мусор NEAR/5 вывезти", "мусор уже неделю не вывезли", True),
        ("мусор NEAR/2 вывезти", "не вывезли мусор", True),
        ("(мусор OR отходы) NEAR/2 (вывезти OR вывоз*)", "вывоз отходов сорван", True),
        ('"горячая вода" NEAR/3 нет', "горячей воды опять нет", True),
        ("яма NEAR/1 яма", "одна яма", False),  # a word is not near itself
        # a misspelled word matches by the lemmas of the dictionary words it is a likely typo of
        ("дорога", "на дароге опять яма", True),  # substitution
        ("остановка", "на астановке никого", True),
        ("пробить", "колесо прабили", True),
        ("холодильник", "халадильник сгорел", False),  # two typos in one word: not guessed
        ("подъезд", "в подезде темно", True),  # a deletion
        ("отвечать", "никто не атвечает", True),
        ("терапевт", "к терапефту не попасть", True),
        ('"горячая вода" NEAR/3 нет', "гарячей вады нет", False),  # `вады`: too short to be taken for a typo
        ("вечер", "вечиром темно", True),
        ("=дороге", "на дароге яма", False),  # an exact form is exact
        ("отоп*", "атопление не дали", False),  # and so is a prefix
        ("мусор", "мусорка горит", True),  # slang the dictionary does not know, a letter from мусора
        ("стекло", "стеклянный дом", False),  # a known word is never taken for a typo
        ("вывезти", "мусор не вывазят", False),  # a typo of вывозят, a form of another verb
    ],
)
def test_operators(query: str, text: str, expected: bool, lemmatizer: Lemmatizer) -> None:
    assert matches(query, text, lemmatizer) is expected


def test_spans_are_offsets_into_the_normalized_text(lemmatizer: Lemmatizer) -> None:
    rules = [
        Rule("pits", "яма OR выбоина"),
        Rule("hot-water", '"горячая вода"'),
        Rule("waste", "мусор NEAR/5 вывезти"),
        Rule("spam", "реклама"),
    ]
    matcher = Matcher(rules, lemmatizer)
    (doc,) = analyze(["Ямы и выбоины! Нет горячей воды, мусор не вывезли"], lemmatizer)
    (found,) = matcher.match([doc])
    assert [m.rule_id for m in found] == ["pits", "hot-water", "waste"]
    as_text = {m.rule_id: [doc.text[a:b] for a, b in m.spans] for m in found}
    assert as_text == {
        "pits": ["ямы", "выбоины"],
        "hot-water": ["горячей воды"],
        "waste": ["мусор", "вывезли"],
    }
    assert found[0] == RuleMatch("pits", ((0, 3), (6, 13)))


def test_a_rule_true_without_its_words_is_evaluated_on_every_post(lemmatizer: Lemmatizer) -> None:
    matcher = Matcher([Rule("quiet", "NOT реклама"), Rule("pits", "яма")], lemmatizer)
    docs = analyze(["тишина", "реклама", "яма"], lemmatizer)
    assert [[m.rule_id for m in ms] for ms in matcher.match(docs)] == [["quiet"], [], ["quiet", "pits"]]
    assert matcher.match(docs)[0][0].spans == ()


def test_thousands_of_queries_match_as_each_would_alone(lemmatizer: Lemmatizer) -> None:
    """The unit index must never lose a match: compare with one matcher per rule."""
    rng = random.Random(7)
    vocabulary = [
        "яма", "дорога", "асфальт", "мусор", "контейнер", "вывезти", "вывоз", "отопление", "батарея",
        "горячий", "вода", "свет", "отключить", "автобус", "остановка", "снег", "лед", "двор", "школа",
        "садик", "врач", "больница", "ремонт", "реклама", "управляющий", "компания", "подъезд", "крыша",
    ]  # fmt: skip

    def word() -> str:
        return rng.choice(vocabulary)

    shapes = [
        lambda: word(),
        lambda: f"{word()} OR {word()} OR {word()}",
        lambda: f'"{word()} {word()}"',
        lambda: f"{word()[:4]}*",
        lambda: f"{word()} -{word()}",
        lambda: f"({word()} OR {word()[:4]}*) NEAR/{rng.randint(1, 4)} {word()}",
        lambda: f'({word()} {word()}) OR "{word()} {word()}" OR NOT {word()}',
    ]
    rules = [Rule(f"q{i}", rng.choice(shapes)()) for i in range(2000)]
    texts = [
        "Во дворе яма, асфальт разбит, мусор не вывезли. Отопление отключили, батареи холодные!",
        "Горячей воды нет, в подъезде течь с крыши, управляющая компания молчит",
        "Автобус не пришел, на остановке лед и снег",
        "Реклама: ремонт квартир недорого",
        "",
    ]
    docs = analyze(texts, lemmatizer)
    together = Matcher(rules, lemmatizer).match(docs)
    for rule in rules:
        alone = Matcher([rule], lemmatizer).match(docs)
        for doc_matches, doc_alone in zip(together, alone, strict=True):
            assert [m for m in doc_matches if m.rule_id == rule.id] == list(doc_alone), rule.query


def test_matcher_pickles(lemmatizer: Lemmatizer) -> None:
    matcher = Matcher([Rule("pits", "яма OR выбоин*"), Rule("hot", '"горячая вода" -реклама')], lemmatizer)
    docs = analyze(["Ямы и выбоины", "нет горячей воды"], lemmatizer)
    expected = matcher.match(docs)
    restored = pickle.loads(pickle.dumps(matcher))
    assert restored.match(docs) == expected


def test_a_bad_query_fails_at_compile_time(lemmatizer: Lemmatizer) -> None:
    with pytest.raises(QuerySyntaxError, match=r"rule 'bad': expected a word.* after 'OR'") as error:
        Matcher([Rule("pits", "яма"), Rule("bad", "яма OR")], lemmatizer)
    assert error.value.position == 6


def test_match_records(lemmatizer: Lemmatizer) -> None:
    matcher = Matcher([Rule("pits", "яма"), Rule("water", '"горячая вода"')], lemmatizer)
    records = [
        {"id": 1, "text": "Ямы во дворе"},
        {"id": 2, "text": "Хорошая погода"},
        {"id": "x", "text": "Нет горячей воды, и яма"},
    ]
    assert list(match_records(records, matcher, lemmatizer, batch_size=2)) == [
        {"id": 1, "rules": ["pits"], "spans": [[0, 3]]},
        {"id": "x", "rules": ["pits", "water"], "spans": [[4, 16], [20, 23]]},
    ]


def test_match_records_names_a_post_without_text(lemmatizer: Lemmatizer) -> None:
    matcher = Matcher([Rule("pits", "яма")], lemmatizer)
    with pytest.raises(ValueError, match="post 2: expected a JSON object with a string field 'text'"):
        list(match_records([{"id": 1, "text": "яма"}, {"id": 2}], matcher, lemmatizer))


@pytest.fixture(scope="module")
def broad_matcher(lemmatizer: Lemmatizer) -> Matcher:
    return Matcher(
        [
            Rule("a", "яма OR выбоин* OR =ямы"),
            Rule("b", '"горячая вода" NEAR/3 (нет OR отключить)'),
            Rule("c", "NOT реклама"),
            Rule("d", "(мусор OR отходы) -реклама"),
        ],
        lemmatizer,
    )


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_matching_never_raises_on_any_text(broad_matcher: Matcher, text: str) -> None:
    lemmatizer = broad_matcher.lemmatizer
    (found,) = broad_matcher.match(analyze([text], lemmatizer))
    (doc,) = analyze([text], lemmatizer)
    for match in found:
        for start, end in match.spans:
            assert 0 <= start < end <= len(doc.text)


NOT_BUILT = "model._matchloop is not built (no C compiler at install time)"
needs_compiled = pytest.mark.skipif(not COMPILED, reason=NOT_BUILT)


def test_the_compiled_loop_is_built_in_ci() -> None:
    """`pip install -e .` builds model/_matchloop.c; a CI run without it would test only the Python loop."""
    if not os.environ.get("CI"):
        pytest.skip("checked in CI only (a developer may run without a compiler)")
    assert COMPILED, "model._matchloop was not built: see the output of `pip install -e .`"


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["яма", "ямы", "выбоины", "горячей", "воды", "нет", "отключили", "мусор", "отходы", "реклама", ",", ".",
     "#ЖКХ", "😡", "ул.", "не", "и", "3", "вывезли"]
) | st.text(max_size=8), max_size=30).map(" ".join))
def test_the_compiled_loop_equals_the_python_loop(broad_matcher: Matcher, text: str) -> None:
    docs = analyze([text, text.upper(), "#" + text.replace(" ", "#"), ""], broad_matcher.lemmatizer)
    expected = broad_matcher.match(docs, compiled=False)
    assert broad_matcher.match(docs) == expected
    # a Doc made from its tokens (no chunk entries: the compiled loop reads Doc.starts instead)
    assert broad_matcher.match([Doc(d.text, d.tokens, d.lemmas) for d in docs]) == expected


@needs_compiled
def test_the_compiled_loop_learns_unseen_words_and_survives_a_full_cache(lemmatizer: Lemmatizer) -> None:
    rules = [Rule("pits", "яма OR выбоин*"), Rule("hot", '"горячая вода" NEAR/2 нет'), Rule("clean", "NOT реклама")]
    texts = [f"слово{i} ямы и выбоины, горячей воды нет {i}" for i in range(50)] + ["реклама ям"]
    docs = analyze(texts, lemmatizer)
    tiny = Matcher(rules, lemmatizer, max_cache=7)  # cleared again and again while learning
    expected = Matcher(rules, lemmatizer).match(docs, compiled=False)
    assert tiny.match(docs) == expected
    assert tiny.match(docs) == expected  # warm, or cleared: the same
    assert all(type(m) is RuleMatch for ms in expected for m in ms)


@needs_compiled
def test_the_compiled_loop_from_threads_at_once(lemmatizer: Lemmatizer) -> None:
    """The serving workers match from a thread pool; a full cache is cleared by whichever thread learns."""
    rules = [Rule("pits", "яма OR выбоин*"), Rule("hot", '"горячая вода" NEAR/2 нет')]
    texts = [f"ямы{i % 7} и выбоины слово{i}, горячей воды нет" for i in range(400)]
    docs = analyze(texts, lemmatizer)
    expected = Matcher(rules, lemmatizer).match(docs, compiled=False)
    shared = Matcher(rules, lemmatizer, max_cache=50)
    results: list[object] = []

    def work() -> None:
        results.append(shared.match(docs))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop", "python loop"])
def test_a_rule_true_by_several_operands_matches_once_with_all_their_spans(
    lemmatizer: Lemmatizer, compiled: bool
) -> None:
    """The operands of a rule's top-level OR are matched as parts; their spans come together."""
    if compiled and not COMPILED:
        pytest.skip(NOT_BUILT)
    rules = [
        Rule("water", 'вода OR яма OR "горячая вода" OR (свет NEAR/2 нет) OR NOT реклама'),
        Rule("pits", "ямы"),
    ]
    matcher = Matcher(rules, lemmatizer)
    text = "нет горячей воды, света нет, яма"
    (found,) = matcher.match(analyze([text], lemmatizer), compiled=compiled)
    (doc,) = analyze([text], lemmatizer)
    spans = {doc.text[a:b] for a, b in found[0].spans}
    assert [m.rule_id for m in found] == ["water", "pits"]
    assert spans == {"горячей воды", "воды", "света", "нет", "яма"}  # NEAR shows each side
    assert list(found[0].spans) == sorted(set(found[0].spans))
    (quiet,) = matcher.match(analyze(["тишина"], lemmatizer), compiled=compiled)
    assert quiet == (RuleMatch("water", ()),)  # true by its NOT alone: no words to show


@needs_compiled
def test_the_compiled_loop_checks_its_state() -> None:
    from model._matchloop import match_docs

    with pytest.raises(TypeError, match="state must be a tuple of 11 items"):
        match_docs([], ())
    with pytest.raises(TypeError, match="cache must be a dict"):
        match_docs([], ([], [], [], [], [], [], [], RuleMatch, None, None, None))
    with pytest.raises(ValueError, match="one item per part"):
        match_docs([], ({}, [], [None], [], [], [], [], RuleMatch, None, None, None))
