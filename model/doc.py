"""A post after analysis: normalized text, its tokens and their lemmas."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from model.lemma import Lemmatizer
from model.normalize import normalize
from model.tokens import Token, tokenize


@dataclass(frozen=True, slots=True)
class Doc:
    """`lemmas[i]` are the plausible lemmas of `tokens[i]` (a non-word token's lemma is its text).

    Token offsets point into `text`, the normalized post. A run-together hashtag is split into
    its words (`#ямынадорогах` → three `hashtag` tokens: ямы, на, дорогах).
    """

    text: str
    tokens: tuple[Token, ...]
    lemmas: tuple[tuple[str, ...], ...]


_text = operator.attrgetter("text")


def analyze(texts: Sequence[str], lemmatizer: Lemmatizer) -> list[Doc]:
    """Normalize, tokenize and lemmatize a batch of raw post texts."""
    docs: list[Doc] = []
    for raw in texts:
        text = normalize(raw)
        tokens = tokenize(text)
        if "#" in text:
            tokens = _split_hashtags(tokens, lemmatizer)
        lemmas = lemmatizer.lemmas_of(list(map(_text, tokens)))
        docs.append(Doc(text, tuple(tokens), tuple(lemmas)))
    return docs


def _split_hashtags(tokens: list[Token], lemmatizer: Lemmatizer) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        pieces = lemmatizer.split(token.text) if token.kind == "hashtag" else ()
        if len(pieces) < 2:
            out.append(token)
            continue
        start = token.start
        for piece in pieces:
            out.append(Token(piece, start, start + len(piece), "hashtag"))
            start += len(piece)
    return out
