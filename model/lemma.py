"""Lemmas: one pymorphy3 analyzer behind a dict cache, every plausible lemma of a word kept.

pymorphy3 has no context, and its first parse is sometimes the wrong one (`ямы` → `ям`, the old
post station, before `яма`). Monitoring must not lose such words, so a word keeps every lemma its
dictionary parses give it, ordered by summed parse score (`ямы` → `яма`, `ям`). Lemmas below 1% of
the score mass (`при` → `переть`) are dropped. A word the dictionary does not know gets its
predicted lemmas only when they are likely (share >= 20%, at most two); when it is long enough to be
a misspelling (six letters or more) and one or two dictionary words are a likely typo away
(model/spelling.py: `дароге` → дороге), their lemmas come first (`дароге` → `дорога`, `дарог`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.spelling import likely_typos

_ONE_LETTER_WORDS = frozenset("вксуоиая")
_FUNCTION_WORDS = frozenset(
    ("в", "во", "на", "по", "за", "из", "от", "до", "без", "для", "при", "про", "под", "над", "об",
     "со", "ко", "но", "не", "ни")
)  # fmt: skip
_RARE_IN_HASHTAGS = ("ADJS", "Abbr", "Name", "Surn", "Patr", "Init")
_MAX_SPLIT = 40
_MIN_SHARE_KNOWN = 0.01
_MIN_SHARE_PREDICTED = 0.2
_MAX_PREDICTED = 2
_MIN_TYPO_LENGTH = 6  # shorter unknown words are more often slang or names than misspellings
_MAX_CORRECTIONS = 2  # more dictionary words a typo away: no telling which was meant


class Lemmatizer:
    """Word (normalized: lower case, `е` for `ё`) → its plausible lemmas, most probable first.

    Build one and pass it around: the analyzer takes ~20 MB and a second to load, and it is
    created on first use (also after unpickling, which drops it together with the cache).
    """

    def __init__(self, max_cache: int = 500_000) -> None:
        self.max_cache = max_cache
        self._cache: dict[str, tuple[str, ...]] = {}
        self._splits: dict[str, tuple[str, ...]] = {}
        self._morph: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"max_cache": self.max_cache}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @property
    def morph(self) -> Any:
        """The pymorphy3 MorphAnalyzer, loaded on first use."""
        if self._morph is None:
            import pymorphy3

            self._morph = pymorphy3.MorphAnalyzer()
        return self._morph

    def lemmas(self, word: str) -> tuple[str, ...]:
        """All plausible lemmas of `word`, most probable first; never empty."""
        found = self._cache.get(word)
        if found is None:
            found = self._remember(word)
        return found

    def lemma(self, word: str) -> str:
        """The most probable lemma of `word`."""
        return self.lemmas(word)[0]

    def lemmas_of(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """`lemmas` of each word: the hot path of `analyze`, one dict lookup per cached word."""
        try:
            return list(map(self._cache.__getitem__, words))
        except KeyError:  # a word not seen yet
            return [self.lemmas(w) for w in words]

    def known(self, word: str) -> bool:
        """Whether the dictionary has `word` (not just a guess from its ending)."""
        return bool(self.morph.word_is_known(word))

    def split(self, word: str) -> tuple[str, ...]:
        """A run-together word split into dictionary words (`ямынадорогах` → ямы, на, дорогах),
        fewest and longest words first; `(word,)` when it is a word itself or cannot be split."""
        found = self._splits.get(word)
        if found is None:
            if len(self._splits) >= self.max_cache:
                self._splits.clear()
            found = self._splits[word] = self._split(word)
        return found

    def _split(self, word: str) -> tuple[str, ...]:
        n = len(word)
        if n < 4 or n > _MAX_SPLIT or not word.isalpha() or self.known(word):
            return (word,)
        # best[end][f]: the cheapest split of word[:end] whose last piece is (f=1) or is not (f=0)
        # a function word, as ((cost, -function words), pieces). A content word costs 1 (1.5 when
        # it is rare in hashtags: a short adjective, a name, an abbreviation), a function word 0.5;
        # two function words in a row are not allowed (`в|о|на`).
        Best = tuple[tuple[float, int], tuple[str, ...]] | None
        best: list[list[Best]] = [[None, None] for _ in range(n + 1)]
        best[0][0] = ((0.0, 0), ())
        for end in range(1, n + 1):
            for start in range(end):
                piece = word[start:end]
                function = piece in _FUNCTION_WORDS or piece in _ONE_LETTER_WORDS
                options = [b for f, b in enumerate(best[start]) if b is not None and not (f and function)]
                if not options:
                    continue
                cost = 0.5 if function else self._piece_cost(piece)
                if cost is None:
                    continue
                (total, functions), pieces = min(options)
                score = (total + cost, functions - function)
                current = best[end][function]
                if current is None or score < current[0]:
                    best[end][function] = (score, (*pieces, piece))
        found = [b for b in best[n] if b is not None and len(b[1]) > 1]
        return min(found)[1] if found else (word,)

    def _piece_cost(self, piece: str) -> float | None:
        if len(piece) < 3 or not self.morph.word_is_known(piece):
            return None
        tag = self.morph.parse(piece)[0].tag
        return 1.5 if any(g in tag for g in _RARE_IN_HASHTAGS) else 1.0

    def _remember(self, word: str) -> tuple[str, ...]:
        if len(self._cache) >= self.max_cache:
            # Keep the newer half: dicts remember insertion order, so this drops the oldest entries.
            items = list(self._cache.items())
            self._cache = dict(items[len(items) // 2 :])
        found = self._compute(word)
        self._cache[word] = found
        return found

    def _compute(self, word: str) -> tuple[str, ...]:
        found = self._parse(word)
        if len(word) < _MIN_TYPO_LENGTH or not word.isalpha() or self.known(word):
            return found
        corrections = [w for w in sorted(likely_typos(word)) if self.morph.word_is_known(w)]
        if not 1 <= len(corrections) <= _MAX_CORRECTIONS:
            return found
        return tuple(dict.fromkeys([lemma for w in corrections for lemma in self._parse(w)] + list(found)))

    def _parse(self, word: str) -> tuple[str, ...]:
        if not any(c.isalpha() for c in word) or word[0] == "<":
            return (word,)  # numbers, punctuation, emoji, placeholders
        scores: dict[str, float] = {}
        known = False
        try:
            parses = self.morph.parse(word)
        except Exception:  # pymorphy3 fails on some code points (unnamed ones, e.g. U+17000)
            return (word,)
        for parse in parses:
            lemma = parse.normal_form.replace("ё", "е")
            scores[lemma] = scores.get(lemma, 0.0) + parse.score
            known = known or parse.is_known
        if not scores:
            return (word,)
        total = sum(scores.values()) or 1.0
        ranked = sorted(scores, key=lambda lemma: -scores[lemma])  # stable: ties keep parse order
        if known:
            kept = [lemma for lemma in ranked if scores[lemma] / total >= _MIN_SHARE_KNOWN]
        else:
            kept = [lemma for lemma in ranked if scores[lemma] / total >= _MIN_SHARE_PREDICTED]
            kept = kept[:_MAX_PREDICTED]
        return tuple(kept) or (ranked[0],)
