"""A post after analysis: normalized text, its tokens and their lemmas."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import FrozenInstanceError
from itertools import accumulate, chain, pairwise, repeat
from operator import add
from typing import Any
from weakref import WeakKeyDictionary

from model.lemma import Lemmatizer
from model.normalize import normalize_split
from model.tokens import Token, tokenize

try:  # the loop over cached posts compiled (model/_matchloop.c); `_doc` below is the reference
    from model._matchloop import docs_of_chunks as _docs_of_chunks

    COMPILED = True
except ImportError:  # not built: the same Docs, slower
    COMPILED = False

_set = object.__setattr__
_text = operator.attrgetter("text")
_first = operator.itemgetter(0)
_second = operator.itemgetter(1)
_third = operator.itemgetter(2)
_fourth = operator.itemgetter(3)
_new = tuple.__new__

# Per lemmatizer, a whitespace-free chunk of normalized text (`дорогах!`) → the texts of its tokens,
# their lemmas, how far each token's start is from the next one's (the last one's from the next
# chunk's start: one character separates chunks in normalized text), their kinds, and where the first
# token starts in the chunk (`(дорогах, !), …, (7, 2), …, 0`). One dict lookup per chunk instead of a
# tokenizer and a lemma-cache lookup per token. That start is 0 unless the chunk begins with a
# hashtag: its `#` is no token (and a run-together hashtag is split with the lemmatizer's help).
# model/_matchloop.c reads the steps and that start (items 2 and 4) to find token offsets: keep the layout.
_Chunk = tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[int, ...], tuple[str, ...], int]
_CHUNKS: WeakKeyDictionary[Lemmatizer, dict[str, _Chunk]] = WeakKeyDictionary()
_MAX_CHUNKS = 100_000
# Offsets and kinds repeat from chunk to chunk (`(8,)`, `("word",)`): one shared tuple for each.
_shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}


class Doc:
    """`lemmas[i]` are the plausible lemmas of `tokens[i]` (a non-word token's lemma is its text).

    Token offsets point into `text`, the normalized post. A run-together hashtag is split into
    its words (`#ямынадорогах` → three `hashtag` tokens: ямы, на, дорогах).

    An immutable record. `analyze` leaves `tokens` and `lemmas` to be gathered on first use:
    matching needs only `words`, and most posts of the firehose go no further.
    """

    __slots__ = ("_chunks", "_lemmas", "_starts", "_tokens", "_words", "text")

    text: str
    _lemmas: tuple[tuple[str, ...], ...] | None
    _tokens: tuple[Token, ...] | None
    _words: tuple[str, ...] | None
    _starts: tuple[int, ...] | None
    _chunks: tuple[_Chunk, ...] | None

    def __init__(self, text: str, tokens: tuple[Token, ...], lemmas: tuple[tuple[str, ...], ...]) -> None:
        _set(self, "text", text)
        _set(self, "_tokens", tokens)
        _set(self, "_lemmas", lemmas)
        _set(self, "_words", None)
        _set(self, "_starts", None)
        _set(self, "_chunks", None)

    @classmethod
    def _of_chunks(cls, text: str, chunks: tuple[_Chunk, ...]) -> Doc:
        """A Doc whose tokens are `tokenize(text)`, known so far by the entries of its chunks."""
        doc: Doc = object.__new__(cls)
        _set(doc, "text", text)
        _set(doc, "_tokens", None)
        _set(doc, "_lemmas", None)
        _set(doc, "_words", tuple(chain.from_iterable(map(_first, chunks))))
        _set(doc, "_starts", None)
        _set(doc, "_chunks", chunks)
        return doc

    @property
    def tokens(self) -> tuple[Token, ...]:
        tokens = self._tokens
        if tokens is None:
            starts = self.starts
            words = self._words
            kinds = chain.from_iterable(map(_fourth, self._chunks))  # type: ignore[arg-type]
            ends = map(add, starts, map(len, words))  # type: ignore[arg-type]
            tokens = tuple(map(_new, repeat(Token), zip(words, starts, ends, kinds, strict=True)))  # type: ignore[arg-type]
            _set(self, "_tokens", tokens)
        return tokens

    @property
    def lemmas(self) -> tuple[tuple[str, ...], ...]:
        found = self._lemmas
        if found is None:
            found = tuple(chain.from_iterable(map(_second, self._chunks)))  # type: ignore[arg-type]
            _set(self, "_lemmas", found)
        return found

    @property
    def words(self) -> tuple[str, ...]:
        """The text of each token, without building the tokens."""
        found = self._words
        if found is None:
            found = tuple(map(_text, self.tokens))
            _set(self, "_words", found)
        return found

    @property
    def starts(self) -> tuple[int, ...]:
        """The start offset of each token in `text`, without building the tokens."""
        found = self._starts
        if found is None:
            chunks = self._chunks
            if chunks is None:
                found = tuple(token.start for token in self.tokens)
            elif "#" not in self.text:  # no chunk starts past its first character
                found = tuple(accumulate(chain.from_iterable(map(_third, chunks)), initial=0))[:-1]
            else:
                found = _starts_past_hashes(chunks)
            _set(self, "_starts", found)
        return found

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[str, tuple[Token, ...], tuple[tuple[str, ...], ...]]:
        return (self.text, self.tokens, self.lemmas)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Doc(text={self.text!r}, tokens={self.tokens!r}, lemmas={self.lemmas!r})"

    def __reduce__(self) -> tuple[type[Doc], tuple[Any, ...]]:
        return (Doc, self._key())


def analyze(texts: Sequence[str], lemmatizer: Lemmatizer, compiled: bool = True) -> list[Doc]:
    """Normalize, tokenize and lemmatize a batch of raw post texts (`compiled`: see `_analyze_normalized`)."""
    return _analyze_normalized(list(map(normalize_split, texts)), lemmatizer, compiled)


def _analyze_normalized(
    normalized: Sequence[tuple[str, list[str]]], lemmatizer: Lemmatizer, compiled: bool = True
) -> list[Doc]:
    """`analyze` after `normalize_split`. The loop over posts whose chunks are all cached runs compiled
    (model/_matchloop.c) when built, unless `compiled=False` (tests compare the two)."""
    cache = _CHUNKS.get(lemmatizer)
    if cache is None:
        cache = _CHUNKS[lemmatizer] = {}
    if compiled and COMPILED:
        made: list[Doc | None] = _docs_of_chunks(normalized, cache, Doc)
        return [
            doc if doc is not None else _doc(text, chunks, cache, lemmatizer)  # a chunk not seen yet
            for doc, (text, chunks) in zip(made, normalized, strict=True)
        ]
    return [_doc(text, chunks, cache, lemmatizer) for text, chunks in normalized]


def _doc(text: str, chunks: list[str], cache: dict[str, _Chunk], lemmatizer: Lemmatizer) -> Doc:
    # Tuples, not lists: a tuple of untracked objects leaves the garbage collector's care.
    try:
        found = tuple(map(cache.__getitem__, chunks))
    except KeyError:  # a chunk not seen yet
        found = tuple([cache.get(chunk) or _learn(cache, chunk, lemmatizer) for chunk in chunks])
    return Doc._of_chunks(text, found)


def _learn(cache: dict[str, _Chunk], chunk: str, lemmatizer: Lemmatizer) -> _Chunk:
    if len(cache) >= _MAX_CHUNKS:
        cache.clear()
    pieces = tokenize(chunk)
    if "#" in chunk:
        pieces = _split_hashtags(pieces, lemmatizer)
    ws = tuple(piece.text for piece in pieces)
    starts = [piece.start for piece in pieces]
    steps = (*(b - a for a, b in pairwise(starts)), len(chunk) + 1 - starts[-1])
    kinds = tuple(piece.kind for piece in pieces)
    if len(_shapes) < 10_000:
        steps = _shapes.setdefault(steps, steps)
        kinds = _shapes.setdefault(kinds, kinds)
    found = cache[chunk] = (ws, tuple(lemmatizer.lemmas_of(ws)), steps, kinds, starts[0])
    return found


def _starts_past_hashes(chunks: tuple[_Chunk, ...]) -> tuple[int, ...]:
    """Token starts when a chunk's first token may start past its first character (`#жкх`)."""
    out: list[int] = []
    position = 0  # where the chunk starts
    for _, _, steps, _, first in chunks:
        position += first
        for step in steps:
            out.append(position)
            position += step
    return tuple(out)


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
