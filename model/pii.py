"""Personal data in posts (152-ФЗ): people's names, phone numbers, e-mails, flat numbers, SNILS and
passport numbers, found and replaced with placeholders (`[ИМЯ]`, `[ТЕЛЕФОН]`, ...).

Numbers and e-mails are patterns. Names start from a cheap check: a capitalised word whose dictionary
parses (pymorphy3, cached per word) include a first name, surname or patronymic. A word that is only a
first name or patronymic (`Ирина`, `Петровна`) is a name, unless it follows a place word (`улица`,
`имени`, `на`). The other candidates go to natasha's NER (its models ship inside the package; loaded on
first need), which reads the context (`Ирине Петровне` is a person, `улица Ленина` a place) but runs
at ~100-200 posts/s: it gets only up to six words either side of each, batched. A word after a place
word or read as a town first (`Чайковский`) is never sent. The NER's persons are names (less a
sentence's first word that is no name), and so is a surname it did not call a place or a body, and a
candidate right beside a name (`Шилова Нина Афанасьевна`).

Measured on the project's own set (annotations/pii/posts.jsonl, tests/model/test_pii.py) and for
speed by bench/pii.py. Masking is idempotent: a placeholder is never found again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from threadpoolctl import threadpool_limits

from model.lemma import Lemmatizer

PLACEHOLDERS = {
    "name": "[ИМЯ]",
    "phone": "[ТЕЛЕФОН]",
    "email": "[EMAIL]",
    "flat": "[КВ]",
    "snils": "[СНИЛС]",
    "passport": "[ПАСПОРТ]",
}

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Zа-яА-Я]{2,}")
SNILS = re.compile(r"(?<![\d-])\d{3}[- ]\d{3}[- ]\d{3}[- ]\d{2}(?![\d-])|(?i:снилс)\D{0,12}(\d{11})(?!\d)")
PASSPORT = (
    re.compile(r"(?<![\d-])\d{2} ?\d{2} (?:№ ?)?\d{6}(?!\d)"),
    re.compile(r"(?i:паспорт)\D{0,15}(\d{10})(?!\d)"),
    re.compile(r"(?i:серия)\s*(?:паспорта\s*)?(\d{2} ?\d{2})(?!\d)"),
    re.compile(r"(?i:паспорт[а-я]*\b.{0,40}?номер)\s*(\d{6})(?!\d)", re.S),
)
FLAT = re.compile(r"(?<!\w)(?:(?i:кв)\.?|(?i:квартир)[а-я]{0,3})\s*(?:№\s*)?\d{1,4}(?:[а-я]\b)?(?!\d)")
# A run of digit groups joined by single separators: a phone is 10 or 11 of its digits (below).
DIGITS = re.compile(r"(?<![\w+])\+?\(?\d+(?:(?:[ \-]|\) ?| ?\(|\)-)\d+)*")
GROUP = re.compile(r"\d+")
DIGIT = re.compile(r"\d")
LOCAL_PHONE = re.compile(r"\d{1,3}-\d{2}-\d{2}")
# Capitalised words and initials: what may be a name.
CAPITALISED = re.compile(r"(?<![\w\[])[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?(?!\w)")
INITIALS = re.compile(r"(?<!\w)[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.\s?)?(?=[А-ЯЁ][а-яё])|(?<=[а-яё] )[А-ЯЁ]\.\s?[А-ЯЁ]\.(?!\w)")
SENTENCE = re.compile(r"[^.!?…\n]+[.!?…]*")
TOKEN = re.compile(r"\S+")
WINDOW = 6  # words either side of a doubtful word that the NER reads
NAME_TAGS = frozenset({"Name", "Surn", "Patr"})
FIRST_TAGS = frozenset({"Name", "Patr"})
# Words after which a person's name is a street's, a school's or a plant's: `улица Ленина`, `имени Вагнера`.
PLACE_WORDS = frozenset(
    ("улица", "улице", "улицу", "улицы", "ул", "проспект", "проспекте", "пр", "переулок", "переулке", "пер",
     "бульвар", "бульваре", "площадь", "площади", "шоссе", "набережная", "набережной", "имени", "им", "на",
     "по", "до", "пл", "мост", "моста", "парк", "парке", "сквер", "сквере", "памятник", "дк", "тц", "тк",
     "посёлок", "поселок", "село", "деревня", "станция", "остановка", "остановке")
)  # fmt: skip
MIN_NAME_SCORE = 0.1  # share of a word's parses that make it a name, for the cheap check
MIN_SURNAME_SCORE = 0.9  # ... that make it a name wherever the NER does not call it a place or a body
MIN_PLACE_SCORE = 0.2  # share of a word's parses that make it a place name: not a person's then


@dataclass(frozen=True)
class Span:
    start: int
    stop: int
    kind: str  # a key of PLACEHOLDERS


class Masker:
    """Finds and masks personal data in batches of texts. Build one and pass it around: the NER
    (~30 MB, a second to load) is loaded on first need, the word checks are cached."""

    def __init__(self, lemmatizer: Lemmatizer | None = None, ner: bool = True, batch_size: int = 64,
                 max_cache: int = 200_000) -> None:
        self.lemmatizer = lemmatizer
        self.ner = ner  # False: no NER (log lines): a doubtful word is a name only when it is a surname
        self.batch_size = batch_size
        self.max_cache = max_cache
        self._ner: Any = None
        self._words: dict[str, str | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"lemmatizer": self.lemmatizer, "ner": self.ner, "batch_size": self.batch_size,
                "max_cache": self.max_cache}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def mask(self, texts: Sequence[str]) -> list[str]:
        """Each text with its personal data replaced by placeholders."""
        return [replace(text, spans) for text, spans in zip(texts, self.spans(texts), strict=True)]

    def spans(self, texts: Sequence[str]) -> list[list[Span]]:
        """The personal data of each text, in text order, not overlapping."""
        found = [pattern_spans(text) for text in texts]
        words = [self._capitalised(text, spans) for text, spans in zip(texts, found, strict=True)]
        asked: list[tuple[int, int, str]] = []  # (text, offset of the sentence, sentence) for the NER
        for n, text in enumerate(texts if self.ner else ()):
            # a word after a place word is a street's or a school's name whatever the NER says
            doubtful = [(w.start, w.stop) for w in words[n] if not w.sure and not w.place and w.kind != "place"]
            for start, stop in windows_with(text, doubtful):
                asked.append((n, start, text[start:stop]))
        entities: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        for (n, offset, _), spans in zip(asked, self._entities([s for _, _, s in asked]), strict=True):
            entities[n].extend((offset + a, offset + b, kind) for a, b, kind in spans)
        for n, text in enumerate(texts):
            found[n].extend(self._names(text, words[n], entities[n]))
        return [merge(spans, text) for spans, text in zip(found, texts, strict=True)]

    def _capitalised(self, text: str, taken: list[Span]) -> list[Word]:
        """The capitalised words of `text` that may be names, outside what the patterns found."""
        words = []
        for match in CAPITALISED.finditer(text):
            start, stop = match.span()
            if any(s.start <= start < s.stop for s in taken):
                continue
            kind = self._word_kind(match.group())
            if kind is not None:
                place = after_place_word(text, start)
                words.append(Word(start, stop, kind, place, sure=kind == "first" and not place))
        return words

    def _names(self, text: str, words: list[Word], entities: list[tuple[int, int, str]]) -> list[Span]:
        """Names: sure words; the NER's persons (without the common words it took along); surnames it
        did not call a place or an organisation; a doubtful word next to a name."""
        names = [Span(w.start, w.stop, "name") for w in words if w.sure]
        elsewhere = [(a, b) for a, b, kind in entities if kind != "PER"]
        for a, b, kind in entities:
            if kind == "PER" and not after_place_word(text, a):  # `по Льва Шатрова` is a street
                names.extend(Span(a + m.start(), a + m.end(), "name") for m in CAPITALISED.finditer(text[a:b])
                             if self._word_kind(m.group()) is not None or not sentence_start(text, a + m.start()))
        named = {(s.start, s.stop) for s in names}
        for w in words:
            if w.sure or (w.start, w.stop) in named or any(a <= w.start < b for a, b in elsewhere):
                continue
            beside = any(not gap(text, s, w) for s in names if s.stop <= w.start or w.stop <= s.start)
            if (w.kind == "surname" and not w.place) or beside:
                names.append(Span(w.start, w.stop, "name"))
        if names:
            for m in INITIALS.finditer(text):
                stop = m.end() - (1 if text[m.end() - 1] == " " else 0)
                if any(abs(s.start - m.end()) <= 1 or abs(m.start() - s.stop) <= 1 for s in names):
                    names.append(Span(m.start(), stop, "name"))
        return names

    def _word_kind(self, word: str) -> str | None:
        """"first" (only a first name or patronymic), "surname" (a name in nearly every reading), "place"
        (a name, but a town's first), "maybe" (a name among other readings), or None."""
        if word in self._words:
            return self._words[word]
        kind = None
        if "-" in word:
            kinds = [self._word_kind(part) for part in word.split("-")]
            kind = "maybe" if any(kinds) else None
        else:
            parses = self._lemmatizer().morph.parse(word.lower())
            tags = [set(str(p.tag).replace(" ", ",").split(",")) for p in parses]
            name_score = sum(p.score for p, t in zip(parses, tags, strict=True) if t & NAME_TAGS)
            place_score = sum(p.score for p, t in zip(parses, tags, strict=True) if "Geox" in t)
            first_score = sum(p.score for p, t in zip(parses, tags, strict=True) if t & FIRST_TAGS)
            if name_score < MIN_NAME_SCORE:
                kind = None
            elif place_score >= MIN_PLACE_SCORE and first_score < 0.5:
                kind = "place"  # `Чайковский`, `Березников`, `Гусев`: a town first, a name only beside one
            elif all(t & FIRST_TAGS for t in tags):
                kind = "first"
            elif name_score >= MIN_SURNAME_SCORE:
                kind = "surname"
            else:
                kind = "maybe"
        if len(self._words) < self.max_cache:
            self._words[word] = kind
        return kind

    def _lemmatizer(self) -> Lemmatizer:
        if self.lemmatizer is None:
            self.lemmatizer = Lemmatizer()
        return self.lemmatizer

    def _entities(self, sentences: list[str]) -> Iterator[list[tuple[int, int, str]]]:
        """The spans (start, stop, PER | LOC | ORG) natasha's NER finds in each sentence."""
        if not sentences:
            return
        if self._ner is None:
            from natasha import NewsEmbedding, NewsNERTagger

            self._ner = NewsNERTagger(NewsEmbedding())
            self._ner.batch_size = self.batch_size
        # Batches are padded to their longest piece: sorted by length, a batch wastes little. The NER's
        # matrices are small: BLAS threads cost more than they bring (20x the CPU on 2 busy cores).
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        found: list[list[tuple[int, int, str]]] = [[] for _ in sentences]
        with threadpool_limits(1, user_api="blas"):
            for i, markup in zip(order, self._ner.map([sentences[i] for i in order]), strict=True):
                found[i] = [(span.start, span.stop, span.type) for span in markup.spans]
        yield from found


@dataclass(frozen=True)
class Word:
    """A capitalised word that may be a name: its kind (Masker._word_kind), whether it follows a place word."""

    start: int
    stop: int
    kind: str
    place: bool
    sure: bool


def pattern_spans(text: str) -> list[Span]:
    """E-mails, SNILS, passports, phones and flat numbers, earlier patterns first where they overlap."""
    spans: list[Span] = []

    def add(start: int, stop: int, kind: str) -> None:
        if not any(s.start < stop and start < s.stop for s in spans):
            spans.append(Span(start, stop, kind))

    if "@" in text:
        for m in EMAIL.finditer(text):
            add(*m.span(), "email")
    if not DIGIT.search(text):
        return spans
    for pattern, kind in ((SNILS, "snils"), *((p, "passport") for p in PASSPORT)):
        for m in pattern.finditer(text):
            group = next((g for g in range(1, (m.lastindex or 0) + 1) if m.group(g)), 0)
            add(*m.span(group), kind)
    for m in DIGITS.finditer(text):
        for start, stop in phones_in(m.group()):
            add(m.start() + start, m.start() + stop, "phone")
    for m in FLAT.finditer(text):
        add(*m.span(), "flat")
    return spans


def phones_in(run: str) -> Iterator[tuple[int, int]]:
    """Phone numbers in a run of digit groups: 11 digits from a 7 or 8, 10 from a 9 or an area code
    in brackets, or a dashed local number (`212-34-56`)."""
    if LOCAL_PHONE.fullmatch(run):
        yield 0, len(run)
        return
    groups = list(GROUP.finditer(run))
    i = 0
    while i < len(groups):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j].group()
            if len(digits) > 11:
                break
            first = groups[i].start()
            bracket = first > 0 and run[first - 1] == "("
            if (len(digits) == 11 and digits[0] in "78") or (len(digits) == 10 and (digits[0] == "9" or bracket)):
                start = first - 1 if bracket or (first > 0 and run[first - 1] == "+") else first
                end = groups[j].end()
                if j + 1 < len(groups) and len(digits + groups[j + 1].group()) == 11 and digits[0] in "78":
                    continue  # 10 digits now, 11 with the next group: the longer number
                yield start, end
                i = j
                break
        i += 1


def gap(text: str, name: Span, word: Word) -> str:
    """What separates a name from a word before or after it, spaces stripped."""
    between = text[name.stop:word.start] if name.stop <= word.start else text[word.stop:name.start]
    return between.strip(" ")


def after_place_word(text: str, start: int) -> bool:
    """Whether the word at `start` follows a place word (`улица Ленина`, `ул. Мира`, `им. Вагнера`)."""
    before = text[max(0, start - 20):start].rstrip(" .")
    word = re.search(r"(\w+)$", before)
    return bool(word and word.group(1).lower() in PLACE_WORDS)


def sentence_start(text: str, start: int) -> bool:
    """Whether the word at `start` begins a sentence (its capital letter says nothing then)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?…\n"


def windows_with(text: str, words: list[tuple[int, int]], radius: int = WINDOW) -> list[tuple[int, int]]:
    """The pieces (start, stop) of `text` the NER reads for `words`: up to `radius` words either side of
    each, inside its sentence, overlapping pieces joined."""
    if not words:
        return []
    pieces: list[tuple[int, int]] = []
    for sentence in SENTENCE.finditer(text):
        inside = [(a, b) for a, b in words if sentence.start() <= a < sentence.end()]
        if not inside:
            continue
        tokens = [m.span() for m in TOKEN.finditer(text, sentence.start(), sentence.end())]
        for a, _ in inside:
            at = next(i for i, (x, y) in enumerate(tokens) if x <= a < y)
            start, stop = tokens[max(0, at - radius)][0], tokens[min(len(tokens) - 1, at + radius)][1]
            if pieces and start <= pieces[-1][1]:
                pieces[-1] = (pieces[-1][0], max(stop, pieces[-1][1]))
            else:
                pieces.append((start, stop))
    return pieces


def merge(spans: list[Span], text: str) -> list[Span]:
    """In text order, overlaps dropped (the first found wins), and the words of one person's name
    (separated only by spaces) made one span."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.stop)):
        if kept and span.start < kept[-1].stop:
            last = kept[-1]
            if span.kind == last.kind == "name" and span.stop > last.stop:
                kept[-1] = Span(last.start, span.stop, "name")
            continue
        if kept and span.kind == kept[-1].kind == "name" and not text[kept[-1].stop:span.start].strip():
            kept[-1] = Span(kept[-1].start, span.stop, "name")
            continue
        kept.append(span)
    return kept


def replace(text: str, spans: list[Span]) -> str:
    """`text` with each span replaced by its placeholder."""
    if not spans:
        return text
    out, last = [], 0
    for span in spans:
        out.append(text[last:span.start])
        out.append(PLACEHOLDERS[span.kind])
        last = span.stop
    out.append(text[last:])
    return "".join(out)
