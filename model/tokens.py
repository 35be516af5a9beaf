"""Tokens of normalized text: one compiled regex, fast enough for the firehose.

razdel is more careful about sentence-level punctuation but runs at ~110k words/s here; on normalized
social text (placeholders, hashtags, emoji) this regex gives the same words at ~1M words/s.

A token is a named tuple: cheaper to build than a frozen dataclass, immutable all the same. The
split of a chunk that is not a bare word (`ямы!`, `<url>`, `10.5`) is remembered, since they repeat.
"""

from __future__ import annotations

import re
from typing import NamedTuple

KINDS = ("word", "number", "hashtag", "url", "mention", "email", "emoji", "punct")

# Emoji and pictographs (with skin-tone modifiers and keycaps), regional-indicator flags.
_EMOJI = (
    "\U0001f1e6-\U0001f1ff\U0001f300-\U0001faff\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff"
    "\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff\u3030\u303d\u3297\u3299"
)
_TOKEN = re.compile(
    r"<(?P<placeholder>url|mention|email)>"
    r"|#(?P<hashtag>\w+(?:[-']\w+)*)"
    r"|(?P<number>\d+(?:[.,:/]\d+)+(?![\w]))"
    r"|(?P<word>\w+(?:[-']\w+)*)"
    rf"|(?P<emoji>[{_EMOJI}][\U0001f3fb-\U0001f3ff]?)"
    r"|(?P<punct>\S)"
)
_MAX_CACHE = 100_000


class Token(NamedTuple):
    """A piece of normalized text; `start`/`end` are offsets into it (`text == normalized[start:end]`)."""

    text: str
    start: int
    end: int
    kind: str


# (text, start, end, kind) of each token of a whitespace-free chunk, relative to the chunk. Most
# chunks are a bare word, and the others repeat (`ямы!`, `5`, `<url>`), so their split is remembered.
_Pieces = tuple[tuple[str, int, int, str], ...]
_pieces_of: dict[str, _Pieces] = {}
_new = tuple.__new__


def tokenize(normalized: str) -> list[Token]:
    """Split normalized text into tokens; a hashtag token holds the word after `#`."""
    tokens: list[Token] = []
    append = tokens.append
    # No token spans whitespace, so each whitespace-separated chunk is tokenized on its own.
    chunks = normalized.split()
    # In normalized text chunks are one character apart, so offsets need no search.
    single = sum(map(len, chunks)) + len(chunks) - 1 == len(normalized)
    find = normalized.find
    pieces_of = _pieces_of
    end = -1
    for chunk in chunks:
        start = end + 1 if single else find(chunk, end + 1)
        end = start + len(chunk)
        if chunk.isalpha():
            append(_new(Token, (chunk, start, end, "word")))
            continue
        pieces = pieces_of.get(chunk)
        if pieces is None:
            pieces = _remember(chunk)
        for text, a, b, kind in pieces:
            append(_new(Token, (text, start + a, start + b, kind)))
    return tokens


def is_punct(text: str) -> bool:
    """Whether a token with this text is punctuation (the kind depends on the text alone)."""
    m = _TOKEN.fullmatch(text)
    return m is not None and m.lastgroup == "punct"


def _remember(chunk: str) -> _Pieces:
    if len(_pieces_of) >= _MAX_CACHE:
        _pieces_of.clear()
    found = _pieces_of[chunk] = _split(chunk)
    return found


def _split(chunk: str) -> _Pieces:
    """The tokens of one whitespace-free chunk, as (text, start, end, kind) relative to it."""
    out = []
    for m in _TOKEN.finditer(chunk):
        kind = m.lastgroup or "punct"
        if kind == "word":
            text = m.group()
            out.append((text, m.start(), m.end(), "number" if text.isdigit() else "word"))
        elif kind == "placeholder":
            out.append((m.group(), m.start(), m.end(), m.group(kind)))
        elif kind == "hashtag":
            out.append((m.group(kind), m.start(kind), m.end(), kind))
        else:
            out.append((m.group(), m.start(), m.end(), kind))
    return tuple(out)
