"""Likely typos of a Russian word: the misspellings people make, one at a time.

Social posts are written fast and often misspelled; pymorphy3 then guesses a lemma from the ending
(`дароге` → `дарог`), and a monitoring rule for `дорога` or a model that learned `дорога` never sees
it. A word the dictionary does not know is looked up again as each of its likely corrections; the
edits are the common ones, not every letter for every letter: an unstressed vowel written for
another (`дароге`, `вечиром`), a voiced consonant for a voiceless one or back (`згорел`, `терапефту`),
a key's neighbour on the keyboard (`дорлга`), a soft or hard sign missing or extra (`подезде`), a
letter missing, doubled or swapped with its neighbour. Fewer candidates than all one-letter edits:
fewer accidental dictionary words, fewer lookups.
"""

from __future__ import annotations

# Letters written for one another: by sound (unstressed vowels, voiced and voiceless consonants,
# the two signs) and by the finger (neighbours in a row of the ЙЦУКЕН keyboard).
_SOUND = ("ао", "еи", "ея", "иы", "юу", "эе", "бп", "вф", "гк", "дт", "жш", "зс", "ьъ")
_ROWS = ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю")
_PAIRS = _SOUND + tuple(row[i : i + 2] for row in _ROWS for i in range(len(row) - 1))
_CONFUSED = {c: "".join(dict.fromkeys(p.replace(c, "") for p in _PAIRS if c in p)) for c in set("".join(_PAIRS))}
_SIGNS = "ьъ"


def likely_typos(word: str) -> set[str]:
    """The words `word` may be a misspelling of (by one common edit), `word` itself excluded."""
    out: set[str] = set()
    n = len(word)
    for i, c in enumerate(word):
        head, tail = word[:i], word[i + 1 :]
        out.add(head + tail)  # a letter too many
        out.add(head + c + c + tail)  # a double letter written once (`калектив`, `касса` as `каса`)
        out.update(head + other + tail for other in _CONFUSED.get(c, ""))
        if i + 1 < n:
            out.add(head + word[i + 1] + c + word[i + 2 :])
    out.update(word[:i] + sign + word[i:] for i in range(1, n) for sign in _SIGNS)
    out.discard(word)
    return out
