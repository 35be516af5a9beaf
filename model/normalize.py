"""Social-network text normalization: one lower-cased form that matching, lemmas and features share.

Steps, in an order chosen so that `normalize(normalize(x)) == normalize(x)` (a property test holds
it to that on any Unicode): NFKC; HTML entities and tags (`&quot;`, `<br>`) until nothing is left to
decode; invisible characters and leftover combining accents (stress marks: `за́мок`) dropped and `ё`
spelled `е`; Latin look-alike letters inside Cyrillic words mapped to Cyrillic (`пpивет` with a
Latin `p`), and the reverse inside Latin words; lower case; a letter repeated three or more times
squeezed to one (`ужаааас` → `ужас`, but the word `ооо` stays); typographic quotes and hyphens
unified; VK links `[id1|Имя]`, e-mails, URLs and @mentions replaced by `<mention>`, `<email>`, `<url>`
(a community link keeps its name: it names the addressee); whitespace collapsed, a line break
surviving as one `\n`. Emoji are kept (the tokenizer makes them tokens). Hashtags keep their `#`;
the tokenizer takes the word after it (`#ЖКХ` → `жкх`)."""

from __future__ import annotations

import html
import re
import unicodedata

URL = "<url>"
MENTION = "<mention>"
EMAIL = "<email>"
PLACEHOLDERS = (URL, MENTION, EMAIL)

# Block-level tags become a line break, inline ones vanish (`<b>при</b>вет` is one word).
_BLOCK_TAGS = "br|p|div|li|ul|ol|tr|table|h[1-6]|hr|blockquote"
_INLINE_TAGS = "a|abbr|b|i|u|s|em|strong|span|font|img|sub|sup|small|big|td|th|code|pre|mark|del|ins"
_TAG = re.compile(rf"<\s*/?\s*(?:(?P<block>{_BLOCK_TAGS})|{_INLINE_TAGS})\b[^<>]*>", re.IGNORECASE)

# Soft hyphen, zero-width and directional marks, variation selectors, BOM, C0 controls except
# whitespace, and the combining accents NFKC could not attach to a letter: in Russian text these are
# stress marks (`за́мок`) and stray diaereses and breves.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufe00-\ufe0f\ufeff\u0300-\u036f]"
)

_CYR = "а-яёА-ЯЁ"
_LAT = "a-zA-Z"
# A Cyrillic letter next to a Latin one: the cheap test that a text has a mixed-script word.
_SWITCH = re.compile(f"[{_CYR}][{_LAT}]|[{_LAT}][{_CYR}]")
_LETTERS = re.compile(r"[^\W\d_]+")
_LAT_TO_CYR = str.maketrans("AaBCcEeHKkMOoPpTXxYy", "АаВСсЕеНКкМОоРрТХхУу")
_CYR_TO_LAT = str.maketrans("АаВСсЕеНКкМОоРрТХхУу", "AaBCcEeHKkMOoPpTXxYy")
# Letters that have no look-alike in the other script decide which script a mixed word is in.
_CYR_ONLY = re.compile("[бвгдёжзийлмнптфцчшщъыьэюяБГДЁЖЗИЙЛПФЦЧШЩЪЫЬЭЮЯ]")
_LAT_ONLY = re.compile("[bdfghijlmnqrstuvwzDFGIJLNQRSUVWZ]")
_CYR_LETTER = re.compile(f"[{_CYR}]")
_LAT_LETTER = re.compile(f"[{_LAT}]")

_RUN = re.compile(r"(\w)\1{2,}")
_REPEAT = re.compile(r"(.)\1\1")  # a cheaper test for _RUN (also true for `!!!`)

# Text made only of these needs no step but lower case, `ё`, guillemets, squeezing and whitespace.
_UNUSUAL = re.compile("[^ а-яА-ЯёЁ0-9.,!?\n:;()%+=№/*\"'«»—–-]")

_TYPOGRAPHY = {
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "`": "'",
    "‐": "-",
}

_TYPOGRAPHIC = re.compile("[«»“”„‟″‘’‚‛`‐]")

_TLD = "ru|рф|su|com|org|net|info|biz|io|me|ly|gl|be|cc|tv|co|рус|online|site|pro|gov|edu|us|uk|de|ua|by|kz"
_LABEL = r"[a-zа-я0-9](?:[a-zа-я0-9-]*[a-zа-я0-9])?"
_PATH = r"(?:[/?#][^\s<>\"]*[^\s<>\".,!?;:)\]'])?/?"
_DOMAIN = re.compile(rf"\.(?:{_TLD})\b")
_VK_LINK = re.compile(r"\[(id|club|public|event)\d+\|([^\[\]|]*)\]")
_EMAIL_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[\w-]+\.)+[\w-]+")
_SCHEME_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,!?;:)\]']")
_BARE_URL = re.compile(rf"(?<![\w@.-])(?:{_LABEL}\.)+(?:{_TLD})\b{_PATH}")
_AT_MENTION = re.compile(r"@\w(?:[\w.]*\w)?")


def normalize(text: str) -> str:
    """The lower-cased, cleaned form of a social-network post; idempotent and total on any string."""
    return normalize_split(text)[0]


def normalize_split(text: str) -> tuple[str, list[str]]:
    """`normalize(text)` and its whitespace-separated chunks (`.split()` of it), which the last
    step computes anyway and the tokenizer starts from."""
    # Each step is guarded by a cheap test: most posts need few of them, and the firehose is
    # tens of thousands of posts a second.
    s = unicodedata.normalize("NFKC", text)
    unusual = _UNUSUAL.search(s) is not None
    if unusual:
        if "&" in s or "<" in s:
            s = _strip_html(s)
        s = _drop_marks(s)  # before look-alikes: `ё` has none, `е` has one
        if _LAT_LETTER.search(s) and _SWITCH.search(s):
            s = _LETTERS.sub(_fix_lookalikes, s)
        s = s.lower()
        if not unicodedata.is_normalized("NFKC", s) or _INVISIBLE.search(s):
            s = _drop_marks(unicodedata.normalize("NFKC", s))  # `İ`.lower() is `i` + a dot above
            if _LAT_LETTER.search(s) and _SWITCH.search(s):
                s = _LETTERS.sub(_fix_lookalikes, s)
        if _TYPOGRAPHIC.search(s):
            s = _TYPOGRAPHIC.sub(_typography, s)
    else:
        s = s.lower()  # plain Cyrillic, digits and punctuation: nothing else to do before this
        if "ё" in s:
            s = s.replace("ё", "е")
        if "«" in s or "»" in s:
            s = s.replace("«", '"').replace("»", '"')  # as _TYPOGRAPHY does
    if _has_run(s):
        s = _RUN.sub(_squeeze, s)
    if unusual:
        if "[" in s:
            s = _VK_LINK.sub(_vk_link, s)
        if "@" in s:
            s = _EMAIL_ADDRESS.sub(f" {EMAIL} ", s)
        if "http" in s or "www" in s:
            s = _SCHEME_URL.sub(f" {URL} ", s)
    if _DOMAIN.search(s):
        s = _BARE_URL.sub(f" {URL} ", s)
        unusual = True  # spaces around the placeholder
    if unusual and "@" in s:
        s = _AT_MENTION.sub(f" {MENTION} ", s)
    if "\n" not in s:
        chunks = s.split()
        if not unusual and "  " not in s and s[:1] != " " and s[-1:] != " ":
            return s, chunks  # the only whitespace is single spaces already
        return " ".join(chunks), chunks
    lines = (" ".join(line.split()) for line in s.split("\n"))
    s = "\n".join(line for line in lines if line)
    return s, s.split()


def _drop_marks(s: str) -> str:
    """Invisible characters and leftover combining accents dropped, `ё` spelled `е`."""
    if _INVISIBLE.search(s):
        s = unicodedata.normalize("NFKC", _INVISIBLE.sub("", s))
    if "ё" in s or "Ё" in s:
        s = s.replace("ё", "е").replace("Ё", "Е")
    return s


def _strip_html(s: str) -> str:
    # Scraped posts are often escaped twice (`&amp;quot;`); decoding can reveal tags, and removing
    # tags or invisible characters (`&lt;\u0301b>`) can reveal entities and tags, so repeat until
    # the text stops changing (each round shrinks it).
    while True:
        decoded = unicodedata.normalize("NFKC", _INVISIBLE.sub("", _TAG.sub(_tag, html.unescape(s))))
        if decoded == s:
            return s
        s = decoded


def _typography(m: re.Match[str]) -> str:
    return _TYPOGRAPHY[m.group()]


def _tag(m: re.Match[str]) -> str:
    return "\n" if m.group("block") else ""


def _fix_lookalikes(m: re.Match[str]) -> str:
    word = m.group()
    cyrillic = len(_CYR_LETTER.findall(word))
    latin = len(_LAT_LETTER.findall(word))
    if not (cyrillic and latin):
        return word
    if _CYR_ONLY.search(word):
        return word.translate(_LAT_TO_CYR)
    if _LAT_ONLY.search(word):
        return word.translate(_CYR_TO_LAT)
    return word.translate(_LAT_TO_CYR if cyrillic >= latin else _CYR_TO_LAT)


def _squeeze(m: re.Match[str]) -> str:
    run = m.group()
    if not run[0].isalpha():
        return run  # digits (`1000`) and underscores are not letters to squeeze
    s = m.string
    start, end = m.span()
    whole_word = (start == 0 or not s[start - 1].isalpha()) and (end == len(s) or not s[end].isalpha())
    if whole_word and len(run) == 3:
        return run  # `ооо` (the company form), `ммм`
    return run[0]


def _vk_link(m: re.Match[str]) -> str:
    # A community link names the addressee (`[club1|Администрация Перми]`): keep its text.
    # A person's name is kept out of the text.
    return f" {MENTION} " if m.group(1) == "id" else f" {MENTION} {m.group(2)} "


def _has_run(s: str) -> bool:
    """Whether a letter repeats three times in a row (`!!!` and `000` do not count)."""
    m = _REPEAT.search(s)
    while m is not None:
        if m.group(1).isalpha():
            return True
        m = _REPEAT.search(s, m.end())
    return False
