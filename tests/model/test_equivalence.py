"""The fast path equals the straightforward one, on a few thousand generated posts.

`analyze` gathers tokens and lemmas lazily from per-chunk caches, and `Matcher` skips rules by
their units and evaluates one-word rules without their trees; here both are compared with the
plain pipeline (`tokenize(normalize(text))`, one `lemmas` call per token) and with a naive
evaluation of each query's syntax tree over the tokens.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from model.doc import COMPILED as COMPILED_DOCS
from model.doc import Doc, _analyze_normalized, _split_hashtags, analyze
from model.lemma import Lemmatizer
from model.matcher import COMPILED, Matcher, Rule
from model.normalize import normalize, normalize_split
from model.query import And, Exact, Near, Not, Or, Phrase, Prefix, Query, Word, parse
from model.rules import load_rules
from model.tokens import Token, tokenize

RULES = Path(__file__).resolve().parents[2] / "annotations" / "rules"

WORDS = [
    "яма", "ямы", "ямах", "ямочный", "дорога", "дороги", "дорогам", "асфальт", "мусор", "мусора",
    "контейнер", "контейнеры", "вывезли", "вывоз", "вывозить", "отопление", "отопительный", "батареи",
    "горячей", "горячая", "воды", "вода", "вода", "свет", "отключили", "автобус", "остановке", "снег", "лед",
    "двор", "дворе", "школа", "садик", "врач", "больница", "ремонт", "реклама", "управляющая", "компания",
    "подъезд", "крыша", "течет", "опять", "нет", "уже", "неделю", "третий", "день", "и", "в", "на", "не",
    "по", "с", "когда", "ул", "ленина", "д", "кв", "пермь", "березники", "жкх", "администрация", "города",
    "района", "срочно", "помогите",
]  # fmt: skip
NOISE = ["!", "!!!", ".", "...", ",", "?", ":", ")", "(", '"', "«", "»", "-", "—"]
EXTRAS = [
    "#ЖКХ", "#ямынадорогах", "#Пермь", "https://vk.com/wall-1_2", "perm.ru/news", "[id1|Иван]",
    "[club2|Администрация Перми]", "@perm_admin", "ivanov@mail.ru", "😡", "🔥🔥", "10.5", "2024", "ул.Ленина",
    "д.5", "&quot;УК&quot;", "<br>", "пpивет", "ООО", "Ужаааас", "ёлка", "кое-где", "\n", "т.е.",
]  # fmt: skip


def generated_posts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    posts = []
    for _ in range(n):
        pieces = []
        for _ in range(rng.randint(0, 30)):
            r = rng.random()
            if r < 0.08:
                pieces.append(rng.choice(EXTRAS))
                continue
            word = rng.choice(WORDS)
            if r < 0.15:
                word = word.upper() if rng.random() < 0.5 else word.capitalize()
            if r > 0.85:
                word += rng.choice(NOISE)
            pieces.append(word)
        posts.append(" ".join(pieces))
    return posts


def straightforward(text: str, lemmatizer: Lemmatizer) -> tuple[str, list[Token], list[tuple[str, ...]]]:
    normalized = normalize(text)
    tokens = _split_hashtags(tokenize(normalized), lemmatizer)
    return normalized, tokens, [lemmatizer.lemmas(t.text) for t in tokens]


@pytest.fixture(scope="module")
def posts() -> list[str]:
    return generated_posts(1500)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop", "python loop"])
def test_docs_equal_the_straightforward_analysis(posts: list[str], compiled: bool) -> None:
    if compiled and not COMPILED_DOCS:
        pytest.skip("model._matchloop is not built (no C compiler at install time)")
    lemmatizer = Lemmatizer()  # its own chunk cache: the first pass is cold for both loops
    for _ in range(2):  # cold chunk cache, then warm
        docs = _analyze_normalized([normalize_split(raw) for raw in posts], lemmatizer, compiled=compiled)
        for raw, doc in zip(posts, docs, strict=True):
            text, tokens, lemmas = straightforward(raw, lemmatizer)
            assert doc.words == tuple(t.text for t in tokens), raw
            assert doc.starts == tuple(t.start for t in tokens), raw
            assert (doc.text, doc.tokens, doc.lemmas) == (text, tuple(tokens), tuple(lemmas)), raw
            assert doc == Doc(text, tuple(tokens), tuple(lemmas))


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loop", "python loop"])
def test_matches_equal_a_naive_evaluation(posts: list[str], lemmatizer: Lemmatizer, compiled: bool) -> None:
    if compiled and not COMPILED:
        pytest.skip("model._matchloop is not built (no C compiler at install time)")
    rng = random.Random(11)
    lemmas = sorted({lemmatizer.lemma(w) for w in WORDS if w.isalpha()})

    def word() -> str:
        return rng.choice(lemmas)

    def prefix() -> str:
        return rng.choice([lemma for lemma in lemmas if len(lemma) >= 4])[: rng.randint(2, 4)] + "*"

    shapes = [
        lambda: word(),
        lambda: " OR ".join(word() for _ in range(rng.randint(2, 5))),
        lambda: f'"{word()} {word()}"',
        lambda: prefix(),
        lambda: f"={rng.choice(WORDS)}",
        lambda: f"({word()} OR {word()}) {word()} -{word()}",
        lambda: f"({word()} OR {prefix()}) NEAR/{rng.randint(1, 4)} ({word()} OR {word()})",
        lambda: f'"{word()} {word()}" NEAR/3 {word()} OR NOT {word()}',
        lambda: f"({word()} AND {word()}) OR ({word()} NEAR/2 {word()})",
    ]
    rules = [Rule(f"q{i}", rng.choice(shapes)()) for i in range(200)]
    if any(RULES.glob("*.y*ml")):
        rules += load_rules(RULES)
    matcher = Matcher(rules, lemmatizer)
    trees = [parse(rule.query) for rule in rules]
    found = matcher.match(analyze(posts, lemmatizer), compiled=compiled)
    for raw, matches in zip(posts, found, strict=True):
        _, tokens, token_lemmas = straightforward(raw, lemmatizer)
        naive = _Naive(tokens, token_lemmas, lemmatizer)
        expected = []
        for rule, tree in zip(rules, trees, strict=True):
            highlights = naive.truth(tree)
            if highlights is not None:
                spans = tuple(sorted({(tokens[a].start, tokens[b].end) for a, b in highlights}))
                expected.append((rule.id, spans))
        assert [(m.rule_id, m.spans) for m in matches] == expected, raw


class _Naive:
    """Each query node evaluated directly on the tokens, as the language defines it."""

    def __init__(self, tokens: list[Token], lemmas: list[tuple[str, ...]], lemmatizer: Lemmatizer) -> None:
        self.tokens = tokens
        self.lemmas = lemmas
        self.lemmatizer = lemmatizer
        self.positions = []
        position = -1
        for token in tokens:
            position += token.kind != "punct"
            self.positions.append(position)

    def occurrences(self, term: Word | Exact | Prefix) -> list[int]:
        if isinstance(term, Exact):
            return [i for i, t in enumerate(self.tokens) if t.text == term.text]
        if isinstance(term, Prefix):
            return [i for i, t in enumerate(self.tokens) if t.text.startswith(term.text)]
        own = self.lemmatizer.lemmas(term.text)
        lemma = term.text if term.text in own else own[0]
        return [i for i, found in enumerate(self.lemmas) if lemma in found]

    def hits(self, node: Query) -> list[tuple[int, int, list[tuple[int, int]]]]:
        pos = self.positions
        if isinstance(node, Word | Exact | Prefix):
            return [(pos[i], pos[i], [(i, i)]) for i in self.occurrences(node)]
        if isinstance(node, Phrase):
            out = []
            for i in self.occurrences(node.terms[0]):
                end = i
                for k, term in enumerate(node.terms[1:], 1):
                    at = [j for j in self.occurrences(term) if pos[j] == pos[i] + k]
                    if not at:
                        break
                    end = at[0]
                else:
                    out.append((pos[i], pos[i] + len(node.terms) - 1, [(i, end)]))
            return out
        if isinstance(node, Near):
            out = []
            for ls, le, lh in self.hits(node.left):
                for rs, re_, rh in self.hits(node.right):
                    gap = rs - le if le < rs else ls - re_ if re_ < ls else None
                    if gap is not None and gap <= node.distance:
                        out.append((min(ls, rs), max(le, re_), lh + rh))
            return out
        assert isinstance(node, Or)
        return [hit for op in node.operands for hit in self.hits(op)]

    def truth(self, node: Query) -> list[tuple[int, int]] | None:
        if isinstance(node, Not):
            return [] if self.truth(node.operand) is None else None
        if isinstance(node, And):
            out: list[tuple[int, int]] = []
            for op in node.operands:
                found = self.truth(op)
                if found is None:
                    return None
                out += found
            return out
        if isinstance(node, Or):
            true = [found for op in node.operands if (found := self.truth(op)) is not None]
            return [span for found in true for span in found] if true else None
        hits = self.hits(node)
        return [span for hit in hits for span in hit[2]] if hits else None
