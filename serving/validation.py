"""The input rules of every door, written once: the API, the pages, the CLI and the connectors ask here.

Each rule is a function that says what is wrong (a message naming no more than the field needs) or
None. The pydantic schemas of the HTTP edge attach the context-free ones as validators (`Clean`,
`Link`), so FastAPI answers 422 naming the field; the rules that need the settings or the clock
(the text's length, `published_at`) are asked by the door itself, through `text_problem` and
`post_problems`. A message never repeats the rejected value: it may be what broke the answer.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime

MAX_ID = 2**63 - 1  # the store's ids are 64-bit signed integers
MAX_EXTERNAL_ID = 128
MAX_URL = 2048
MAX_AUTHOR = 256
MAX_COMMENT = 2000  # a dismissal reason, a "not ours" comment
MAX_CODE = 64  # a region, topic, agency or OKTMO code
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no social network post is older
AHEAD = timedelta(days=1)  # clocks of networks and of the host may disagree by this much
LINK_SCHEMES = ("http", "https")
_VISIBLE = frozenset("LNPS")  # letters, digits, punctuation, symbols (emoji are symbols)


def unicode_problem(value: str) -> str | None:
    """A lone surrogate (not Unicode, cannot be stored or sent as UTF-8) or a NUL (PostgreSQL refuses it)."""
    for i, char in enumerate(value):
        if char == "\x00":
            return f"contains a NUL character at position {i}"
        if "\ud800" <= char <= "\udfff":
            return f"contains a lone surrogate (U+{ord(char):04X}) at position {i}: not valid Unicode"
    return None


def visible(text: str) -> bool:
    """Whether the text has a character one can see (not only spaces, controls, zero-width marks)."""
    return any(unicodedata.category(char)[0] in _VISIBLE for char in text)


def text_problem(text: str, limit: int) -> str | None:
    """What is wrong with a post's or an answer's text; `limit` is `Settings.max_text_chars`."""
    if (wrong := unicode_problem(text)) is not None:
        return f"text {wrong}"
    if not text.strip():
        return "text is empty or only whitespace"
    if len(text) > limit:
        return f"text has {len(text)} characters; the limit is {limit}"
    if not visible(text):
        return "text has no visible character (only spaces, control or zero-width characters)"
    return None


def url_problem(url: str) -> str | None:
    """A link must be http(s) with a host: anything else (javascript:, data:) is never shown as a link."""
    if (wrong := unicode_problem(url)) is not None:
        return f"url {wrong}"
    if len(url) > MAX_URL:
        return f"url has {len(url)} characters; the limit is {MAX_URL}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "url is not a valid URL"
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return "url must be an http:// or https:// link"
    return None


def link(url: str | None) -> str | None:
    """`url` when it may be rendered as a link, else None (stored before the rule, or from elsewhere)."""
    return url if url is not None and url_problem(url) is None else None


def utc_problem(moment: datetime) -> str | None:
    """A moment without a time zone, or one that has no UTC equivalent (9999-12-31T23:59:59-12:00)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "has no time zone; give an offset, e.g. 2026-11-28T10:00:00+05:00"
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return "is out of range: it has no UTC equivalent"
    return None


def published_problem(moment: datetime, now: datetime) -> str | None:
    """`published_at` must be a real moment between 2000-01-01 and a day after `now`."""
    if (wrong := utc_problem(moment)) is not None:
        return f"published_at {wrong}"
    latest = now + AHEAD
    if not EARLIEST <= moment <= latest:
        return (f"published_at must be between {EARLIEST:%Y-%m-%d} and {latest.astimezone(UTC):%Y-%m-%dT%H:%M}Z "
                "(now + 1 day)")
    return None


def id_in_range(value: int) -> bool:
    """An incident id the store can hold: anything else names no incident (404, never an overflow)."""
    return 1 <= value <= MAX_ID


class PostFields(Protocol):
    """What `post_problems` reads of a post (`serving.ingest.IncomingPost` is one)."""

    @property
    def external_id(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def published_at(self) -> datetime: ...

    @property
    def url(self) -> str | None: ...

    @property
    def author(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...


def post_problems(post: PostFields, max_chars: int, now: datetime) -> list[tuple[str, str]]:
    """(field, message) for every rule an incoming post breaks: the API, `otklik ingest` and the connectors."""
    out: list[tuple[str, str]] = []
    if not post.external_id or len(post.external_id) > MAX_EXTERNAL_ID:
        out.append(("external_id", f"external_id must have 1 to {MAX_EXTERNAL_ID} characters"))
    elif (wrong := unicode_problem(post.external_id)) is not None:
        out.append(("external_id", f"external_id {wrong}"))
    if (wrong := text_problem(post.text, max_chars)) is not None:
        out.append(("text", wrong))
    if (wrong := published_problem(post.published_at, now)) is not None:
        out.append(("published_at", wrong))
    if post.url is not None and (wrong := url_problem(post.url)) is not None:
        out.append(("url", wrong))
    if post.author is not None:
        if len(post.author) > MAX_AUTHOR:
            out.append(("author", f"author has {len(post.author)} characters; the limit is {MAX_AUTHOR}"))
        elif (wrong := unicode_problem(post.author)) is not None:
            out.append(("author", f"author {wrong}"))
    if post.region is not None and (wrong := unicode_problem(post.region)) is not None:
        out.append(("region", f"region {wrong}"))
    return out


# ---- the same rules as pydantic validators, for the schemas of the HTTP edge -------------------

def _clean(value: str) -> str:
    if (wrong := unicode_problem(value)) is not None:
        raise ValueError(wrong)
    return value


def _link(value: str) -> str:
    if (wrong := url_problem(value)) is not None:
        raise ValueError(wrong)
    return value


def _moment(value: datetime) -> datetime:
    if (wrong := utc_problem(value)) is not None:
        raise ValueError(wrong)
    return value


Clean = Annotated[str, AfterValidator(_clean)]  # valid Unicode without NUL
Link = Annotated[str, AfterValidator(_link)]  # an http(s) URL
Instant = Annotated[AwareDatetime, AfterValidator(_moment)]  # with a time zone, and a UTC equivalent


def jsonable(value: Any) -> Any:
    """`value` made safe to send as JSON: lone surrogates escaped, non-finite numbers named, not echoed."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8") if unicode_problem(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else "non-finite number"
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, dict):
        return {str(jsonable(str(k))): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return jsonable(str(value))
