"""The monitoring query language, in the style of social-listening tools, with Russian morphology.

    яма                any inflected form of the lemma (ямы, ямами; not ямочный)
    "горячая вода"     a phrase: consecutive words in this order, each by lemma
    отоп*              a prefix of the word as written (отопление, отопительный)
    =ямы               exactly this form, no morphology (also ="..." for an exact phrase)
    a b, a AND b       both;  a OR b  either;  NOT a, -a  without a;  ( ) grouping
    a NEAR/3 b         at most 3 words apart (NEAR/1: adjacent), in either order

Punctuation takes no word position, so phrases and NEAR reach across it (`"ул ленина"` matches
`ул. Ленина`). Operators are case-insensitive (quote a word to search for "or" itself); terms are normalized like
posts, so case and `ё`/`е` never matter. Precedence, tightest first: NOT, NEAR, AND, OR.
`parse` checks syntax only; words become lemmas when a `Matcher` compiles the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.normalize import normalize
from model.tokens import tokenize

_MAX_DEPTH = 64
_MIN_PREFIX = 2


class QuerySyntaxError(ValueError):
    """A query that does not parse; `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.query = query


@dataclass(frozen=True)
class Word:
    """Any inflected form of the lemma of `text`."""

    text: str


@dataclass(frozen=True)
class Exact:
    """This surface form only."""

    text: str


@dataclass(frozen=True)
class Prefix:
    """Any word whose surface form starts with `text`."""

    text: str


Term = Word | Exact | Prefix


@dataclass(frozen=True)
class Phrase:
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class And:
    operands: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Query, ...]


@dataclass(frozen=True)
class Not:
    operand: Query


@dataclass(frozen=True)
class Near:
    left: Query
    right: Query
    distance: int


Query = Word | Exact | Prefix | Phrase | And | Or | Not | Near


def parse(query: str) -> Query:
    """Parse a query; raises `QuerySyntaxError` naming the position and what was expected."""
    return _Parser(query).parse()


def is_positional(node: Query) -> bool:
    """Whether `node` has word positions (so it can be an operand of NEAR)."""
    if isinstance(node, Word | Exact | Prefix | Phrase | Near):
        return True
    if isinstance(node, Or):
        return all(is_positional(op) for op in node.operands)
    return False


def matches_nothing_required(node: Query) -> bool:
    """Whether `node` is true for a post that contains none of its words (`NOT a`, `a OR -b`)."""
    if isinstance(node, Not):
        return not matches_nothing_required(node.operand)
    if isinstance(node, And):
        return all(matches_nothing_required(op) for op in node.operands)
    if isinstance(node, Or):
        return any(matches_nothing_required(op) for op in node.operands)
    return False


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "(", ")", "AND", "OR", "NOT", "-", "NEAR", "TERM", "PHRASE", "END"
    text: str
    position: int
    distance: int = 0


_SPECIAL = set('()"')


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Lexeme(c, c, i))
            i += 1
        elif c == '"' or (c == "=" and query.startswith('"', i + 1)):
            start = i
            if c == "=":
                i += 1
            close = query.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError("expected a closing '\"' for the phrase opened here", i, query)
            out.append(_Lexeme("PHRASE", query[start : close + 1], start))
            i = close + 1
        elif c == "-" and i + 1 < n and not query[i + 1].isspace():
            out.append(_Lexeme("-", c, i))
            i += 1
        elif c == "-":
            raise QuerySyntaxError("expected a word, phrase or '(' right after '-' (no space)", i, query)
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in _SPECIAL:
                i += 1
            text = query[start:i]
            upper = text.upper()
            if upper in ("AND", "OR", "NOT"):
                out.append(_Lexeme(upper, text, start))
            elif upper == "NEAR" or upper.startswith("NEAR/"):
                digits = text[5:]
                if not digits.isascii() or not digits.isdigit() or int(digits) < 1:
                    raise QuerySyntaxError(
                        "expected NEAR/n with a whole number of words n >= 1, e.g. NEAR/3", start, query
                    )
                out.append(_Lexeme("NEAR", text, start, int(digits)))
            else:
                out.append(_Lexeme("TERM", text, start))
    out.append(_Lexeme("END", "", n))
    return out


_STARTS_OPERAND = frozenset({"TERM", "PHRASE", "(", "NOT", "-"})


def _describe(lexeme: _Lexeme) -> str:
    if lexeme.kind == "END":
        return "end of query"
    return f"'{lexeme.text}'"


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.lexemes = _lex(query)
        self.i = 0
        self.depth = 0

    def parse(self) -> Query:
        node = self._or()
        end = self._peek()
        if end.kind != "END":
            what = "an operator or end of query" if end.kind == ")" else "an operator"
            raise self._error(f"expected {what}, got {_describe(end)}", end)
        return node

    def _peek(self) -> _Lexeme:
        return self.lexemes[self.i]

    def _next(self) -> _Lexeme:
        lexeme = self.lexemes[self.i]
        self.i += 1
        return lexeme

    def _error(self, message: str, at: _Lexeme) -> QuerySyntaxError:
        return QuerySyntaxError(message, at.position, self.query)

    def _or(self) -> Query:
        operands = [self._and()]
        while self._peek().kind == "OR":
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Query:
        operands = [self._near()]
        while True:
            kind = self._peek().kind
            if kind == "AND":
                self._next()
            elif kind not in _STARTS_OPERAND:
                break
            operands.append(self._near())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _near(self) -> Query:
        start = self._peek()
        left = self._unary()
        while self._peek().kind == "NEAR":
            near = self._next()
            if not is_positional(left):
                raise self._error("expected words, phrases, prefixes or an (a OR b) group on the left of NEAR", start)
            operand = self._peek()
            right = self._unary()
            if not is_positional(right):
                raise self._error(
                    "expected words, phrases, prefixes or an (a OR b) group on the right of NEAR", operand
                )
            left = Near(left, right, near.distance)
        return left

    def _unary(self) -> Query:
        lexeme = self._peek()
        if lexeme.kind in ("NOT", "-"):
            self._next()
            self._enter(lexeme)
            operand = self._unary()
            self.depth -= 1
            return Not(operand)
        return self._primary()

    def _primary(self) -> Query:
        lexeme = self._next()
        if lexeme.kind == "TERM":
            return self._term(lexeme)
        if lexeme.kind == "PHRASE":
            return self._phrase(lexeme)
        if lexeme.kind == "(":
            self._enter(lexeme)
            node = self._or()
            close = self._next()
            if close.kind != ")":
                raise self._error(
                    f"expected ')' to close the '(' at position {lexeme.position}, got {_describe(close)}",
                    close,
                )
            self.depth -= 1
            return node
        after = ""
        if self.i >= 2 and self.lexemes[self.i - 2].kind in ("AND", "OR", "NOT", "-", "NEAR", "("):
            after = f" after '{self.lexemes[self.i - 2].text}'"
        raise self._error(f"expected a word, phrase or '('{after}, got {_describe(lexeme)}", lexeme)

    def _enter(self, lexeme: _Lexeme) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self._error(f"expected at most {_MAX_DEPTH} nested groups or negations", lexeme)

    def _term(self, lexeme: _Lexeme) -> Query:
        terms = self._terms(lexeme.text, lexeme.position)
        return terms[0] if len(terms) == 1 else Phrase(terms)

    def _phrase(self, lexeme: _Lexeme) -> Query:
        exact = lexeme.text.startswith("=")
        body_start = lexeme.position + (2 if exact else 1)
        body = lexeme.text[(2 if exact else 1) : -1]
        terms: list[Term] = []
        for m in re.finditer(r"\S+", body):
            word = "=" + m.group() if exact and not m.group().startswith("=") else m.group()
            terms.extend(self._terms(word, body_start + m.start(), in_phrase=True))
        if not terms:
            raise self._error("expected words inside the quotes", lexeme)
        return terms[0] if len(terms) == 1 else Phrase(tuple(terms))

    def _terms(self, raw: str, position: int, in_phrase: bool = False) -> tuple[Term, ...]:
        """One written word → its terms (more than one when normalization splits it: `ул.ленина`)."""
        text = raw
        exact = text.startswith("=")
        if exact:
            text = text[1:]
        prefix = text.endswith("*")
        if prefix:
            text = text[:-1]
        if "*" in text:
            star = position + raw.index("*", 1 if exact else 0)
            raise QuerySyntaxError("expected '*' only at the end of a word", star, self.query)
        if not text or text.startswith("="):
            what = "a word after '='" if exact else "a word before '*'"
            raise QuerySyntaxError(f"expected {what}", position, self.query)
        words = [t.text for t in tokenize(normalize(text)) if t.kind != "punct"]
        if not words:
            where = " inside the quotes" if in_phrase else ""
            raise QuerySyntaxError(f"expected a word{where}, got only punctuation '{raw}'", position, self.query)
        if prefix and len(words[-1]) < _MIN_PREFIX:
            raise QuerySyntaxError(f"expected at least {_MIN_PREFIX} letters before '*'", position, self.query)
        kind: type[Word] | type[Exact] = Exact if exact else Word
        terms: list[Term] = [kind(w) for w in words]
        if prefix:
            terms[-1] = Prefix(words[-1])
        return tuple(terms)
