"""Thousands of monitoring queries compiled into one matcher.

Every word-level term of every query (a lemma, an exact form, a prefix) becomes a numbered unit. A
post's tokens are looked up once each in a surface-form cache (`ямы` → the units it triggers), so
the cost per post grows with its length, not with the number of queries; only the queries whose
units occurred are then evaluated, each as a small tree over the positions of its units. A query
is matched as parts, the operands of its top-level OR (its single words together as one part): a
part that is one word or an OR of words is true as soon as one of its units occurred, and needs no
tree; the others are skipped without evaluation when a unit set they require is missing (both
sides of a NEAR, every word of a phrase, every operand of an AND). A query is true when one of its
parts is, with the spans of all its true parts.

The per-post loop runs compiled (model/_matchloop.c, built at install when a C compiler is there)
or in Python (`match(compiled=False)`, and wherever it is not built): the same results.

A query word stands for its own lemma when it is one (`стекло`: the noun, not the verb стечь),
otherwise for its most probable lemma (`ямы` → `яма`); a post's word matches when any of its
plausible lemmas is that lemma; a misspelled word has the lemmas of the dictionary words it is a
likely typo of (model/lemma.py: `дароге` matches `дорога`). Exact forms (`=word`) and prefixes look
at the written form only.

Docs must come from `analyze` with the matcher's lemmatizer: the cache is keyed by surface form.

Spans are `(start, end)` character offsets into `Doc.text`, the normalized text.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress
from operator import not_
from typing import Any, NamedTuple

from model.doc import Doc, analyze
from model.lemma import Lemmatizer
from model.query import (
    And,
    Exact,
    Near,
    Or,
    Phrase,
    Prefix,
    Query,
    QuerySyntaxError,
    Word,
    parse,
)
from model.tokens import is_punct

try:  # the per-post loop compiled (model/_matchloop.c); this module's Python loop is the reference
    from model._matchloop import match_docs as _compiled_match_docs

    COMPILED = True
except ImportError:  # not built (no C compiler at install time): the same results, slower
    COMPILED = False


@dataclass(frozen=True)
class Rule:
    """A monitoring rule: a query with an id, optionally the topic it suggests."""

    id: str
    query: str
    topic: str | None = None
    always_register: bool = False


class RuleMatch(NamedTuple):
    """A rule that matched a post, and the `(start, end)` offsets of what made it match."""

    rule_id: str
    spans: tuple[tuple[int, int], ...]


# A match inside a post: (first word position, last word position, token-index ranges to highlight).
_Hit = tuple[int, int, tuple[tuple[int, int], ...]]
_Highlights = list[tuple[int, int]]


class _Post:
    """What the evaluation of one post needs: the token indices of each unit that occurred."""

    __slots__ = ("_positions", "_punct", "occ", "present", "words")

    def __init__(self, occ: dict[int, list[int]], words: tuple[str, ...], punct: set[str]) -> None:
        self.occ = occ
        self.present = frozenset(occ)  # set operations between two sets walk the smaller one
        self.words = words
        self._punct = punct
        self._positions: list[int] | None = None

    @property
    def positions(self) -> list[int]:
        """Word position of each token (counted from 1): punctuation takes none, so a phrase or
        NEAR reaches across commas and dots (`ул. ленина`). Computed only for posts that need it."""
        if self._positions is None:
            self._positions = list(accumulate(map(not_, map(self._punct.__contains__, self.words))))
        return self._positions


class _Node:
    __slots__ = ()

    def truth(self, post: _Post) -> _Highlights | None:
        """None when false, else the token ranges to highlight (empty for a true NOT)."""
        raise NotImplementedError

    def hits(self, post: _Post) -> list[_Hit]:
        raise NotImplementedError  # only positional nodes


class _Positional(_Node):
    __slots__ = ()

    def truth(self, post: _Post) -> _Highlights | None:
        hits = self.hits(post)
        return [span for hit in hits for span in hit[2]] if hits else None


class _Unit(_Positional):
    __slots__ = ("unit",)

    def __init__(self, unit: int) -> None:
        self.unit = unit

    def truth(self, post: _Post) -> _Highlights | None:
        found = post.occ.get(self.unit)
        return [(t, t) for t in found] if found else None

    def hits(self, post: _Post) -> list[_Hit]:
        positions = post.positions
        return [(positions[t], positions[t], ((t, t),)) for t in post.occ.get(self.unit, ())]


class _AnyUnit(_Positional):
    """Any of several single-word terms: the bulk of real rules (`отоп* OR батаре* OR ...`)."""

    __slots__ = ("units",)

    def __init__(self, units: frozenset[int]) -> None:
        self.units = units

    def truth(self, post: _Post) -> _Highlights | None:
        present = self.units & post.present
        if not present:
            return None
        occ = post.occ
        return [(t, t) for unit in present for t in occ[unit]]

    def hits(self, post: _Post) -> list[_Hit]:
        occ = post.occ
        positions = post.positions
        return [(positions[t], positions[t], ((t, t),)) for unit in self.units & post.present for t in occ[unit]]


class _Phrase(_Positional):
    __slots__ = ("units",)

    def __init__(self, units: tuple[int, ...]) -> None:
        self.units = units

    def hits(self, post: _Post) -> list[_Hit]:
        occ = post.occ
        first = occ.get(self.units[0])
        if not first:
            return []
        rest = [occ.get(unit) for unit in self.units[1:]]
        if not all(rest):
            return []
        positions = post.positions
        following = [{positions[t]: t for t in found} for found in rest]  # type: ignore[union-attr]
        out: list[_Hit] = []
        for t in first:
            p = positions[t]
            end_token = t
            for k, at in enumerate(following, 1):
                end_token = at.get(p + k, -1)
                if end_token < 0:
                    break
            else:
                out.append((p, p + len(following), ((t, end_token),)))
        return out


class _Near(_Positional):
    __slots__ = ("distance", "left", "right")

    def __init__(self, left: _Node, right: _Node, distance: int) -> None:
        self.left = left
        self.right = right
        self.distance = distance

    def hits(self, post: _Post) -> list[_Hit]:
        lefts = self.left.hits(post)
        if not lefts:
            return []
        rights = self.right.hits(post)
        out: list[_Hit] = []
        n = self.distance
        for ls, le, lh in lefts:
            for rs, re_, rh in rights:
                if le < rs:
                    gap = rs - le
                elif re_ < ls:
                    gap = ls - re_
                else:
                    continue  # the same words cannot be near themselves
                if gap <= n:
                    out.append((min(ls, rs), max(le, re_), lh + rh))
        return out


class _Or(_Node):
    """Operands are skipped when one of their requirements is not met (they cannot be true)."""

    __slots__ = ("operands",)

    def __init__(self, operands: tuple[_Node, ...]) -> None:
        self.operands = tuple((op, _requirements(op)) for op in operands)

    def truth(self, post: _Post) -> _Highlights | None:
        out: _Highlights | None = None
        present = post.present
        for op, requirements in self.operands:
            for units in requirements:
                if units.isdisjoint(present):
                    break
            else:
                found = op.truth(post)
                if found is not None:
                    out = found if out is None else out + found
        return out

    def hits(self, post: _Post) -> list[_Hit]:
        present = post.present
        return [
            hit
            for op, requirements in self.operands
            if not any(units.isdisjoint(present) for units in requirements)
            for hit in op.hits(post)
        ]


class _And(_Node):
    __slots__ = ("operands",)

    def __init__(self, operands: tuple[_Node, ...]) -> None:
        self.operands = operands

    def truth(self, post: _Post) -> _Highlights | None:
        out: _Highlights = []
        for op in self.operands:
            found = op.truth(post)
            if found is None:
                return None
            out += found
        return out


class _Not(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node) -> None:
        self.operand = operand

    def truth(self, post: _Post) -> _Highlights | None:
        return None if self.operand.truth(post) is not None else []


_new = tuple.__new__


class Matcher:
    """Rules compiled once; `match` reports, per post, which rules matched and where."""

    def __init__(self, rules: Sequence[Rule], lemmatizer: Lemmatizer, max_cache: int = 500_000) -> None:
        self.rules = tuple(rules)
        self._ids = [rule.id for rule in self.rules]
        self.lemmatizer = lemmatizer
        self.max_cache = max_cache
        self._lemma_units: dict[str, int] = {}
        self._exact_units: dict[str, int] = {}
        self._prefix_units: dict[str, int] = {}
        self._prefix_lengths: tuple[int, ...] = ()
        # A rule is matched as parts: the operands of its top-level OR (its single words together as
        # one part), each with its own trigger and requirements, so that a long OR of words and
        # phrases costs only the parts whose words occurred. A rule is true when one of its parts is;
        # its spans are those of its true parts. Parts are numbered in rule order.
        self._rule_of: list[int] = []  # part -> its rule's index
        self._trees: list[_Node] = []
        self._parts_of_unit: list[list[int]] = []
        self._unit_cost: list[float] = []
        self._always: list[int] = []  # parts that can be true without any of their words
        # The units of a part that is one word or an OR of words: true whenever it is a candidate.
        self._simple: list[frozenset[int] | None] = []
        # Sets of units of which one at least must occur for the part to be true (`a NEAR/3 b`:
        # {a}, {b}), checked before the part is evaluated.
        self._requires: list[tuple[frozenset[int], ...]] = []
        self._cache: dict[str, tuple[int, ...]] = {}  # surface form → the units it triggers
        self._punct: set[str] = set()  # the surface forms seen that are punctuation
        for index, rule in enumerate(self.rules):
            try:
                query = parse(rule.query)
            except QuerySyntaxError as exc:
                raise QuerySyntaxError(f"rule '{rule.id}': {exc.message}", exc.position, rule.query) from None
            for tree, trigger in self._compile_parts(query):
                part = len(self._trees)
                self._rule_of.append(index)
                self._trees.append(tree)
                self._simple.append(_simple_units(tree))
                self._requires.append(_requirements(tree))
                if trigger is None:
                    self._always.append(part)
                else:
                    for unit in trigger:
                        self._parts_of_unit[unit].append(part)
        self._prefix_lengths = tuple(sorted({len(p) for p in self._prefix_units}))
        # Tuples of ints leave the garbage collector's care, lists stay: every full collection
        # would walk thousands of them.
        self._parts_by_unit = [tuple(parts) for parts in self._parts_of_unit]
        del self._parts_of_unit

    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__dict__}
        state["_cache"] = {}
        state["_punct"] = set()
        state.pop("_compiled_state", None)  # refers to the cache and to bound methods
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_rule_of" not in state:  # pickled by an older version: compile again
            self.__init__(state["rules"], state["lemmatizer"], state["max_cache"])  # type: ignore[misc]
            return
        self.__dict__.update(state)

    def match(self, docs: Sequence[Doc], compiled: bool = True) -> list[tuple[RuleMatch, ...]]:
        """For each post, the rules it matches (in rule order) with the spans that made them match.

        `compiled=False` runs the Python loop even when the compiled one is built (tests compare them)."""
        if compiled and COMPILED:
            state = self.__dict__.get("_compiled_state")
            if state is None:
                state = self._compiled_state = (
                    self._cache,
                    self._parts_by_unit,
                    [None if units is None else tuple(sorted(units)) for units in self._simple],
                    [tuple(tuple(units) for units in sets) for sets in self._requires],
                    list(self._always),
                    self._rule_of,
                    list(self._ids),
                    RuleMatch,
                    self._post,
                    self._evaluate,
                    self._learn_doc,
                )
            return _compiled_match_docs(docs, state)  # type: ignore[no-any-return]
        return [self._match_one(doc) for doc in docs]

    def _learn_doc(self, doc: Doc) -> tuple[tuple[int, ...], ...]:
        """The units each word of `doc` triggers, learning the words not seen yet (a full cache is
        cleared while learning: the units come from here, not from the cache)."""
        cache = self._cache
        lemmas = doc.lemmas
        return tuple([cache[w] if w in cache else self._learn(w, lemmas[i]) for i, w in enumerate(doc.words)])

    def _post(self, occ: dict[int, list[int]], doc: Doc) -> _Post:
        return _Post(occ, doc.words, self._punct)

    def _evaluate(self, part: int, post: _Post, doc: Doc) -> tuple[tuple[int, int], ...] | None:
        """The spans of a part that needs its tree in the post, or None when it is false. The caller
        has checked the part's requirements (the compiled loop in C, `_match_one` in Python)."""
        highlights = self._trees[part].truth(post)
        if highlights is None:
            return None
        starts, words = doc.starts, doc.words
        if len(highlights) == 1:
            a, b = highlights[0]
            return ((starts[a], starts[b] + len(words[b])),)
        return tuple(sorted({(starts[a], starts[b] + len(words[b])) for a, b in highlights}))

    def _match_one(self, doc: Doc) -> tuple[RuleMatch, ...]:
        words = doc.words
        cache = self._cache
        try:
            found = list(map(cache.__getitem__, words))
        except KeyError:  # a word this matcher has not seen yet
            found = list(self._learn_doc(doc))
        occ: dict[int, list[int]] = {}
        get = occ.get
        for i in compress(range(len(found)), found):
            for unit in found[i]:
                where = get(unit)
                if where is None:
                    occ[unit] = [i]
                else:
                    where.append(i)
        if not occ and not self._always:
            return ()
        candidates = set(chain.from_iterable(map(self._parts_by_unit.__getitem__, occ)))
        candidates.update(self._always)
        post = _Post(occ, words, self._punct)
        simple = self._simple
        rule_of = self._rule_of
        present = post.present
        ids = self._ids
        starts: tuple[int, ...] = ()  # of each token, looked up at the first match
        out = []
        pending = -1  # the rule of the last true part
        pending_offsets: tuple[tuple[int, int], ...] = ()  # and its spans so far
        for part in sorted(candidates):
            units = simple[part]
            if units is not None:  # true: one of its units occurred
                units &= present
                if len(units) == 1:
                    (unit,) = units
                    at = occ[unit]  # ascending token indices, each once
                else:
                    at = sorted(set(chain.from_iterable(map(occ.__getitem__, units))))
                if not starts:
                    starts = doc.starts
                if len(at) == 1:
                    t = at[0]
                    offsets: tuple[tuple[int, int], ...] = ((starts[t], starts[t] + len(words[t])),)
                else:
                    offsets = tuple([(starts[t], starts[t] + len(words[t])) for t in at])
            else:
                if any(required.isdisjoint(present) for required in self._requires[part]):
                    continue
                found_offsets = self._evaluate(part, post, doc)
                if found_offsets is None:
                    continue
                offsets = found_offsets
            rule = rule_of[part]
            if rule == pending:  # another true part of the same rule
                pending_offsets = tuple(sorted({*pending_offsets, *offsets}))
                continue
            if pending >= 0:
                out.append(_new(RuleMatch, (ids[pending], pending_offsets)))
            pending, pending_offsets = rule, offsets
        if pending >= 0:
            out.append(_new(RuleMatch, (ids[pending], pending_offsets)))
        return tuple(out)

    def _learn(self, text: str, lemmas: tuple[str, ...]) -> tuple[int, ...]:
        """The units a surface form triggers, remembered for the next post."""
        found = [self._lemma_units[lemma] for lemma in lemmas if lemma in self._lemma_units]
        if text in self._exact_units:
            found.append(self._exact_units[text])
        for length in self._prefix_lengths:
            if length > len(text):
                break
            unit = self._prefix_units.get(text[:length])
            if unit is not None:
                found.append(unit)
        units = tuple(sorted(set(found)))
        if len(self._cache) >= self.max_cache:
            self._cache.clear()  # `_punct` stays: it holds single characters
        self._cache[text] = units
        if is_punct(text):
            self._punct.add(text)
        return units

    def _unit(self, table: dict[str, int], key: str) -> int:
        unit = table.get(key)
        if unit is None:
            unit = table[key] = len(self._parts_of_unit)
            self._parts_of_unit.append([])
            # Guess how often a unit occurs, to index a rule under its rarest words: longer words
            # are rarer, prefixes match more than words.
            self._unit_cost.append((2.0 if table is self._prefix_units else 1.0) / max(len(key), 1))
        return unit

    def _term_unit(self, term: Word | Exact | Prefix) -> int:
        if isinstance(term, Exact):
            return self._unit(self._exact_units, term.text)
        if isinstance(term, Prefix):
            return self._unit(self._prefix_units, term.text)
        lemmas = self.lemmatizer.lemmas(term.text)  # see the module docstring
        lemma = term.text if term.text in lemmas else lemmas[0]
        return self._unit(self._lemma_units, lemma)

    def _cost(self, trigger: frozenset[int]) -> float:
        return sum(self._unit_cost[unit] for unit in trigger)

    def _cheapest(self, triggers: Iterable[frozenset[int] | None]) -> frozenset[int] | None:
        found = [t for t in triggers if t is not None]
        return min(found, key=self._cost) if found else None

    def _compile_parts(self, query: Query) -> list[tuple[_Node, frozenset[int] | None]]:
        """The parts of a rule (see __init__), each compiled with its trigger."""
        if not isinstance(query, Or):
            return [self._compile(query)]
        operands = _flatten_or(query)
        singles = frozenset(self._term_unit(op) for op in operands if isinstance(op, Word | Exact | Prefix))
        parts = [self._compile(op) for op in operands if not isinstance(op, Word | Exact | Prefix)]
        return [(_AnyUnit(singles), singles), *parts] if singles else parts

    def _compile(self, node: Query) -> tuple[_Node, frozenset[int] | None]:
        """The evaluation tree of `node` and its trigger: units of which at least one occurs
        whenever `node` is true (None when it can be true with none of its words, as `NOT a`)."""
        if isinstance(node, Word | Exact | Prefix):
            unit = self._term_unit(node)
            return _Unit(unit), frozenset((unit,))
        if isinstance(node, Phrase):
            units = tuple(self._term_unit(t) for t in node.terms)
            return _Phrase(units), self._cheapest(frozenset((u,)) for u in units)
        if isinstance(node, Near):
            left, left_trigger = self._compile(node.left)
            right, right_trigger = self._compile(node.right)
            return _Near(left, right, node.distance), self._cheapest((left_trigger, right_trigger))
        if isinstance(node, Or):
            compiled = self._compile_parts(node)
            if len(compiled) == 1:  # an OR of single words
                return compiled[0]
            tree = _Or(tuple(op for op, _ in compiled))
            if any(trigger is None for _, trigger in compiled):
                return tree, None  # `a OR NOT b` is true without its words
            return tree, frozenset().union(*(t for _, t in compiled if t is not None))
        if isinstance(node, And):
            compiled = [self._compile(op) for op in node.operands]
            return _And(tuple(op for op, _ in compiled)), self._cheapest(t for _, t in compiled)
        operand, _ = self._compile(node.operand)
        return _Not(operand), None


def _requirements(node: _Node) -> tuple[frozenset[int], ...]:
    """Sets of units that each must have one unit occurring for `node` to be true."""
    if isinstance(node, _Unit):
        return (frozenset((node.unit,)),)
    if isinstance(node, _AnyUnit):
        return (node.units,)
    if isinstance(node, _Phrase):
        return tuple(frozenset((unit,)) for unit in dict.fromkeys(node.units))
    if isinstance(node, _Near):
        return tuple(dict.fromkeys(_requirements(node.left) + _requirements(node.right)))
    if isinstance(node, _And):
        return tuple(dict.fromkeys(r for op in node.operands for r in _requirements(op)))
    if isinstance(node, _Or):
        # True only when an operand is true: one of the units some requirement of each names.
        firsts = [min(requirements, key=len, default=None) for _, requirements in node.operands]
        if any(units is None for units in firsts):
            return ()
        return (frozenset().union(*firsts),)  # type: ignore[arg-type]
    return ()  # NOT


def _simple_units(tree: _Node) -> frozenset[int] | None:
    """The units of a one-word rule or an OR of words (its trigger: any of them occurring makes
    it true), else None."""
    if isinstance(tree, _Unit):
        return frozenset((tree.unit,))
    if isinstance(tree, _AnyUnit):
        return tree.units
    return None


def _flatten_or(node: Or) -> list[Query]:
    """`a OR (b OR c)` → [a, b, c]."""
    out: list[Query] = []
    for op in node.operands:
        out.extend(_flatten_or(op) if isinstance(op, Or) else [op])
    return out


def match_records(
    records: Iterable[dict[str, Any]], matcher: Matcher, lemmatizer: Lemmatizer, batch_size: int = 512
) -> Iterator[dict[str, Any]]:
    """JSONL-style posts (`id`, `text`) → `{"id", "rules", "spans"}` for each post that matches.

    `spans` are merged over all matching rules, as offsets into the normalized text.
    """
    it = iter(records)
    number = 0
    while batch := list(itertools.islice(it, batch_size)):
        texts = []
        for record in batch:
            number += 1
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"post {number}: expected a JSON object with a string field 'text'")
            texts.append(text)
        for record, matches in zip(batch, matcher.match(analyze(texts, lemmatizer)), strict=True):
            if matches:
                spans = sorted({span for m in matches for span in m.spans})
                yield {
                    "id": record.get("id"),
                    "rules": [m.rule_id for m in matches],
                    "spans": [list(span) for span in spans],
                }
