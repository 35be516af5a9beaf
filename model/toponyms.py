"""Toponyms → municipality: which municipality of a region directory a post is about.

The gazetteer is compiled once per region into a dict from every surface form of every place name
(`березниках`, `чусового`, `усолью`, `пермяки`, `кунгурские`) to the municipality it names, so
finding places in a post is one dict lookup per token; no NER on the hot path. Forms come from
pymorphy3 (the place-name parse of each name) and, for names the dictionary does not know
(`Полазна`, `Кын`), from the regular Russian endings.

Names that are also common words or surnames (`Оса` the wasp, `Садовый`, `Чайковский`) are *weak*:
they count only with evidence that a place is meant — a place word around them (`г. Оса`,
`администрация Чайковского`, `Чайковского округа`), a preposition (`в Осе`), a heading
(`Оса. На рынке...`), and, when the original text is given and its author uses capitals, a capital
letter that does not just open a sentence. Names of the region itself (`Пермский край`, `Прикамье`)
and look-alikes (`Пермский район`) are matched first and swallow their words, so `пермского края`
never counts as `пермский` → Пермь.

When a post names several municipalities, the most mentioned wins; a demonym, a hashtag and a
destination (`везут в Пермь`) count half; on a tie a settlement beats a name, then the first wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from model.doc import Doc
from model.lemma import Lemmatizer
from model.normalize import normalize
from model.region import Region
from model.tokens import Token, tokenize

# What a mention is worth, and how specific it is (ties go to the more specific kind).
_NAME, _SETTLEMENT, _DEMONYM = "name", "settlement", "demonym"
_WEIGHT = {_NAME: 1.0, _SETTLEMENT: 1.0, _DEMONYM: 0.5}
_SPECIFICITY = {_SETTLEMENT: 1, _NAME: 0, _DEMONYM: 0}
_HASHTAG_FACTOR = 0.5  # #Пермь often tags the feed, not the place of the problem
_DIRECTION_FACTOR = 0.5  # `везут в Пермь`, `ездим в Губаху`: where people go, not where the problem is

# How much evidence a name needs: none; a common word (`Оса`, `Садовый`); a surname (`Чайковский`);
# an adjective that is also a surname (`добрянский`): fine unless capitalized mid-sentence.
_STRONG, _COMMON, _PERSON, _SURNAME_LIKE = 0, 1, 2, 3

_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "loc2", "gen2")
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad"})
_PERSON_TAGS = frozenset({"Name", "Surn", "Patr"})

# Words that announce a place name right after them (lemmas or abbreviations as written).
_PLACE_WORDS = frozenset(
    "г гор город городок пос поселок п пгт рп с село д дер деревня мкр мкрн микрорайон район р-н "  # noqa: SIM905
    "ст станция округ жилмассив массив администрация центр окраина житель жительница".split()
)
_TOWARDS = frozenset(("в", "во", "на"))
_HEADING_END = frozenset(".,:;!?-—–()")
# Words right after a name that say it is a place (`Чайковского округа`, `Осинский район`).
_PLACE_AFTER = frozenset(("округ", "район", "городской", "муниципальный", "город", "поселок"))
# Nouns that make a common adjective the name of a street, square or building (`в Октябрьском сквере`).
_FEATURE_AFTER = frozenset(
    "сквер парк сад мост проспект переулок бульвар тракт рынок стадион кинотеатр микрорайон".split()  # noqa: SIM905
)
_PREPOSITIONS = frozenset(
    "в во из на по до под около возле у с со за через от к ко между близ напротив".split()  # noqa: SIM905
)
_ORIGINAL_WORD = re.compile(r"\w+(?:[-']\w+)*")
_SENTENCE_END = frozenset(".!?…\n")


@dataclass(frozen=True)
class Place:
    """The municipality a post is about; `spans` are its mentions in `Doc.text`; `others` are the
    OKTMO codes of other municipalities the post names, most mentioned first."""

    oktmo: str
    name: str
    spans: tuple[tuple[int, int], ...]
    others: tuple[str, ...]


@dataclass(frozen=True)
class _Target:
    oktmo: str | None  # None: a name of the region itself or a look-alike; it only blocks
    kind: str
    strength: int
    towards: frozenset[str] = frozenset()  # accusative-only forms: `в Пермь` is a direction


class Gazetteer:
    """Finds the municipality of a post in one region's directory. Build once; picklable."""

    def __init__(self, region: Region, lemmatizer: Lemmatizer) -> None:
        self.region = region
        self._names = {m.oktmo: m.name for m in region.municipalities}
        self._targets: list[_Target] = []
        # first token's form -> [(forms of the following tokens, target index)], longest first
        self._first: dict[str, list[tuple[tuple[frozenset[str], ...], int]]] = {}
        # lemma of a strong one-word name -> target index (for forms the generator missed)
        self._lemma: dict[str, int] = {}
        forms = _Forms(lemmatizer.morph)
        for alias in (*region.aliases, *region.non_municipal_names):
            self._add(alias, _Target(None, _NAME, _STRONG), forms)
        for m in region.municipalities:
            for kind, names in ((_NAME, m.variants), (_SETTLEMENT, m.settlements), (_DEMONYM, m.demonyms)):
                for name in names:
                    demonym = kind == _DEMONYM
                    towards = frozenset() if demonym else forms.towards(name)
                    self._add(name, _Target(m.oktmo, kind, forms.strength(name, demonym), towards), forms)
        for candidates in self._first.values():
            candidates.sort(key=lambda c: -len(c[0]))

    def _add(self, name: str, target: _Target, forms: _Forms) -> None:
        words = [t.text for t in tokenize(normalize(name)) if t.kind in ("word", "number")]
        if not words:
            return
        index = len(self._targets)
        self._targets.append(target)
        demonym = target.kind == _DEMONYM
        per_word = [forms.of(w, demonym) for w in words]
        if target.strength == _SURNAME_LIKE:
            # Only the forms a surname shares (`добрянский`, `добрянском`) need evidence;
            # `добрянская`, `добрянские` are the town's adjective whatever the case.
            shared = forms.surname_forms(words[0])
            strong = _Target(target.oktmo, target.kind, _STRONG, target.towards)
            self._add_forms(per_word[0] - shared, (), strong)
            per_word = [per_word[0] & shared]
        tail = tuple(frozenset(f) for f in per_word[1:])
        for first in per_word[0]:
            self._first.setdefault(first, []).append((tail, index))
        if len(words) == 1 and target.strength == _STRONG and target.oktmo is not None:
            self._lemma.setdefault(words[0], index)
        if len(words) == 1 and "-" in words[0]:
            # `Вышка-2` is also written `Вышка 2`: the parts as separate tokens name it too.
            parts = [p for p in words[0].split("-") if p]
            part_forms = [forms.of(p, demonym) for p in parts]
            split_tail = tuple(frozenset(f) for f in part_forms[1:])
            for first in part_forms[0]:
                self._first.setdefault(first, []).append((split_tail, index))

    def _add_forms(self, firsts: Iterable[str], tail: tuple[frozenset[str], ...], target: _Target) -> None:
        index = len(self._targets)
        self._targets.append(target)
        for first in firsts:
            self._first.setdefault(first, []).append((tail, index))

    def find(self, doc: Doc, original: str | None = None) -> Place | None:
        """The municipality `doc` is about, or None. `original` (the raw post) lets capital letters
        tell the town `Оса` from the wasp; without it, weak names need a preposition or place word."""
        mentions = self._mentions(doc, original)
        if not mentions:
            return None
        score: dict[str, float] = {}
        rank: dict[str, tuple[int, int]] = {}
        spans: dict[str, list[tuple[int, int]]] = {}
        for order, (oktmo, kind, weight, span) in enumerate(mentions):
            score[oktmo] = score.get(oktmo, 0.0) + weight
            specific, first = rank.get(oktmo, (-1, order))
            rank[oktmo] = (max(specific, _SPECIFICITY[kind]), first)
            spans.setdefault(oktmo, []).append(span)
        ranked = sorted(score, key=lambda o: (-score[o], -rank[o][0], rank[o][1]))
        best = ranked[0]
        return Place(best, self._names[best], tuple(spans[best]), tuple(ranked[1:]))

    def find_all(
        self, docs: Sequence[Doc], originals: Sequence[str | None] | None = None
    ) -> list[Place | None]:
        """`find` for a batch; `originals[i]` is the raw text of `docs[i]` when known."""
        if originals is None:
            return [self.find(doc) for doc in docs]
        return [self.find(doc, original) for doc, original in zip(docs, originals, strict=True)]

    def _mentions(self, doc: Doc, original: str | None) -> list[tuple[str, str, float, tuple[int, int]]]:
        tokens = doc.tokens
        first = self._first
        out: list[tuple[str, str, float, tuple[int, int]]] = []
        case: _Capitals | None = None
        seen: dict[str, int] = {}  # occurrences of each word so far, to align with the original
        i, n = 0, len(tokens)
        while i < n:
            token = tokens[i]
            text = token.text
            if token.kind in ("word", "hashtag"):
                seen[text] = seen.get(text, 0) + 1
            candidates = first.get(text)
            matched = 0
            target: _Target | None = None
            if candidates is not None and token.kind in ("word", "hashtag", "number"):
                # Longest name first; of equally long ones (`Чайковский` the town and the
                # adjective), the first whose evidence holds.
                for tail, index in candidates:
                    if matched > len(tail) + 1 or not _follows(tokens, i, tail):
                        continue
                    target, matched = self._targets[index], len(tail) + 1
                    if target.oktmo is None or target.strength == _STRONG or token.kind == "hashtag":
                        break
                    if case is None and original is not None:
                        case = _Capitals(original)
                    if _evidence(doc, i, matched, target.strength, case, seen.get(text, 1)):
                        break
            elif token.kind == "word":
                for lemma in doc.lemmas[i]:
                    index = self._lemma.get(lemma, -1)
                    if index >= 0:
                        target, matched = self._targets[index], 1
                        break
                if target is None and "-" in text:
                    out.extend(self._hyphen_parts(token))
            if target is None:
                i += 1
                continue
            if target.oktmo is not None:
                hashtag = token.kind == "hashtag"
                ok = target.strength == _STRONG or hashtag
                if not ok:
                    if case is None and original is not None:
                        case = _Capitals(original)
                    ok = _evidence(doc, i, matched, target.strength, case, seen.get(text, 1))
                if ok:
                    weight = _WEIGHT[target.kind]
                    if hashtag:
                        weight *= _HASHTAG_FACTOR
                    elif text in target.towards and i > 0 and tokens[i - 1].text in _TOWARDS:
                        weight *= _DIRECTION_FACTOR
                    out.append(
                        (target.oktmo, target.kind, weight, (token.start, tokens[i + matched - 1].end))
                    )
            i += matched
        return out

    def _hyphen_parts(self, token: Token) -> Iterable[tuple[str, str, float, tuple[int, int]]]:
        # `пермь-березники` (a road) names both towns in one token.
        offset = token.start
        for part in token.text.split("-"):
            for tail, index in self._first.get(part, ()):
                target = self._targets[index]
                if not tail and target.oktmo is not None and target.strength == _STRONG:
                    yield target.oktmo, target.kind, _WEIGHT[target.kind], (offset, offset + len(part))
                    break
            offset += len(part) + 1


def _evidence(doc: Doc, i: int, length: int, strength: int, case: _Capitals | None, occurrence: int) -> bool:
    """Whether the weak name at tokens[i : i + length] is meant as a place."""
    tokens = doc.tokens
    before = _previous_word(doc, i)
    if before is not None and (
        tokens[before].text in _PLACE_WORDS or any(lem in _PLACE_WORDS for lem in doc.lemmas[before])
    ):
        return True  # `г. Оса`, `поселок Майский`, `администрация Чайковского`
    after = i + length
    if after < len(tokens) and any(lem in _PLACE_AFTER for lem in doc.lemmas[after]):
        return True
    if strength != _SURNAME_LIKE and after < len(tokens) and any(lem in _FEATURE_AFTER for lem in doc.lemmas[after]):
        return False  # `в Октябрьском сквере`, `у Октябрьского моста`
    after_preposition = before == i - 1 and tokens[before].text in _PREPOSITIONS
    capital, initial = (None, False) if case is None or not case.used else case.of(tokens[i].text, occurrence)
    if strength == _SURNAME_LIKE:
        # `в добрянском ДК` is the town's adjective; `Добрянский сказал` is a person. Posts name
        # the town far more often than the person, so only a capital mid-sentence says "person".
        return capital is None or not capital or initial or after_preposition
    if _heading(doc, i, length):
        return True  # `Оса. На рынке нет воды`, `Парковый, поликлиника`, `(Индустриальный)`
    if strength == _PERSON and not after_preposition:
        return False  # `музыка Чайковского`
    if capital is None:  # no original, an author without capitals, or the word was not found there
        return after_preposition
    return capital and (after_preposition or not initial)


def _heading(doc: Doc, i: int, length: int) -> bool:
    """A name that opens the post or a line and is cut off by punctuation, or stands in brackets."""
    tokens = doc.tokens
    end = i + length
    closed = end == len(tokens) or tokens[end].text in _HEADING_END
    if not closed:
        return False
    if i == 0 or tokens[i - 1].text in _SENTENCE_END or "\n" in doc.text[tokens[i - 1].end : tokens[i].start]:
        return True
    return tokens[i - 1].text == "(" and end < len(tokens) and tokens[end].text == ")"


def _follows(tokens: Sequence[Token], i: int, tail: tuple[frozenset[str], ...]) -> bool:
    """Whether the tokens after i are, one by one, forms of the rest of a multi-word name."""
    if i + len(tail) >= len(tokens):
        return False
    return all(tokens[i + k].text in forms for k, forms in enumerate(tail, start=1))


def _previous_word(doc: Doc, i: int) -> int | None:
    """Index of the word before token i, stepping over the dot of an abbreviation (`г. Оса`)."""
    j = i - 1
    if j >= 0 and doc.tokens[j].text == ".":
        j -= 1
    if j >= 0 and doc.tokens[j].kind == "word":
        return j
    return None


class _Capitals:
    """Capitalization of the words of the original text, to tell `Оса` from `оса`."""

    def __init__(self, original: str) -> None:
        text = unicodedata.normalize("NFKC", original)
        letters = [c for c in text if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        # An author who never uses capitals, or writes in CAPS, tells us nothing by them.
        self.used = 0 < upper < 0.5 * len(letters)
        self.words: dict[str, list[tuple[bool, bool]]] = {}
        for m in _ORIGINAL_WORD.finditer(text):
            word = m.group()
            key = word.lower().replace("ё", "е")
            j = m.start() - 1
            while j >= 0 and text[j] in " \t\r":
                j -= 1
            initial = j < 0 or text[j] in _SENTENCE_END
            self.words.setdefault(key, []).append((word[0].isupper(), initial))

    def of(self, word: str, occurrence: int) -> tuple[bool | None, bool]:
        """(capitalized, sentence-initial) of the `occurrence`-th `word` (1-based); None if unknown."""
        found = self.words.get(word)
        if not found:
            return None, False
        return found[min(occurrence, len(found)) - 1]


class _Forms:
    """Surface forms of place names, and how much evidence each name needs."""

    def __init__(self, morph: Any) -> None:
        self.morph = morph

    def of(self, word: str, demonym: bool) -> set[str]:
        """Every form posts write `word` in (lower case, `е` for `ё`)."""
        if "-" in word and not word.replace("-", "").isdigit():
            parts = [self.of(p, demonym) if p and not p.isdigit() else {p} for p in word.split("-")]
            return {"-".join(combo) for combo in product(*parts)}
        if word.isdigit():
            return {word}
        parses = self.morph.parse(word)
        forms = {word}
        if demonym:
            chosen = [p for p in parses if _plain(p.normal_form) == word] or parses[:1]
            for p in chosen:
                forms.update(_plain(f.word) for f in p.lexeme)
        else:
            nominative = [p for p in parses if "nomn" in p.tag]
            geo = [p for p in nominative if "Geox" in p.tag]
            for p in geo or nominative:
                for case in _CASES:
                    inflected = p.inflect({case})
                    if inflected is not None:
                        forms.add(_plain(inflected.word))
        if not any(p.is_known for p in parses) or not (demonym or any("nomn" in p.tag for p in parses)):
            forms.update(_regular_forms(word))
        return forms

    def towards(self, name: str) -> frozenset[str]:
        """Forms of a one-word name that can only be accusative (`Пермь`, `Губаху`, not `Перми`)."""
        words = [t.text for t in tokenize(normalize(name)) if t.kind == "word"]
        if len(words) != 1:
            return frozenset()
        accusative: set[str] = set()
        other: set[str] = set()
        for p in self.morph.parse(words[0]):
            if "nomn" not in p.tag:
                continue
            for case in _CASES:
                inflected = p.inflect({case})
                if inflected is not None:
                    (accusative if case == "accs" else other).add(_plain(inflected.word))
        return frozenset(accusative - (other - {words[0]}))

    def surname_forms(self, word: str) -> set[str]:
        """Forms of `word` that a surname also has."""
        return {
            _plain(f.word) for p in self.morph.parse(word) if _PERSON_TAGS & p.tag.grammemes for f in p.lexeme
        }

    def strength(self, name: str, demonym: bool) -> int:
        """How much evidence a one-word name needs; longer names are always strong."""
        words = [t.text for t in tokenize(normalize(name)) if t.kind == "word"]
        if len(words) != 1:
            return _STRONG
        parses = [p for p in self.morph.parse(words[0]) if p.is_known and p.score >= 0.05]
        person = any(_PERSON_TAGS & p.tag.grammemes for p in parses)
        if demonym:
            return _SURNAME_LIKE if person else _STRONG
        if person:
            return _PERSON
        if any(not (_PROPER & p.tag.grammemes) for p in parses):
            return _COMMON
        return _STRONG


def _plain(word: str) -> str:
    return word.replace("ё", "е")


def _regular_forms(word: str) -> set[str]:
    """Case forms by the regular endings, for names pymorphy3 does not know."""
    for ending, replacements in _ENDINGS:
        if word.endswith(ending):
            stem = word[: len(word) - len(ending)]
            return {stem + r for r in replacements}
    if word[-1] in "бвгджзклмнпрстфхцчшщ":
        return {word + r for r in ("", "а", "у", "ом", "е", "ем")}
    return {word}


_ENDINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ский", ("ский", "ского", "скому", "ским", "ском")),
    ("ий", ("ий", "его", "ему", "им", "ем")),
    ("ый", ("ый", "ого", "ому", "ым", "ом")),
    ("ой", ("ой", "ого", "ому", "ым", "им", "ом")),
    ("ая", ("ая", "ой", "ую")),
    ("яя", ("яя", "ей", "юю")),
    ("ие", ("ие", "их", "им", "ими")),
    ("ые", ("ые", "ых", "ым", "ыми")),
    ("ье", ("ье", "ья", "ью", "ьем", "ье")),
    ("а", ("а", "ы", "и", "е", "у", "ой", "ою")),
    ("я", ("я", "и", "е", "ю", "ей")),
    ("ь", ("ь", "и", "ью", "я", "ю", "ем", "е")),
    ("о", ("о", "а", "у", "ом", "е")),
    ("е", ("е",)),
    ("и", ("и", "ов", "ей", "ам", "ами", "ах")),
    ("ы", ("ы", "ов", "ам", "ами", "ах")),
)
