"""What every social-network connector is: `fetch(cursor)` pages of posts in, `reply(post, text)` answers out.

A connector keeps no state between calls: the cursor it returns is a JSON object the monitoring loop
stores in the same transaction as the posts it covers, so a restart resumes exactly where it stopped.
HTTP goes through `HttpConnector.call`, which turns each network's failures into four errors and
retries the passing ones (429, 5xx, network errors) with exponential backoff and jitter, honouring
the server's Retry-After when it asks for a wait the loop can afford.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from serving.connectors.config import SourceConfig
from serving.ingest import IncomingPost
from serving.validation import MAX_AUTHOR, jsonable, post_problems, url_problem

log = logging.getLogger("otklik.connectors")

Cursor = dict[str, Any]  # JSON: stored as it is in the `sources` table
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # a page of any network is far smaller
T = TypeVar("T")


class ConnectorError(Exception):
    """A network call that did not work; the message says which source and why."""


class RateLimited(ConnectorError):
    """The network said "too many requests"; `retry_after` seconds is its own estimate, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(ConnectorError):
    """5xx, a network error or the network's "internal error": worth trying again."""


class TokenRevoked(ConnectorError):
    """The token was refused (revoked, expired, wrong signature): the source stops until it is replaced."""


class BadPayload(ConnectorError):
    """The answer is not the shape the network documents (a whole page, not one item)."""


@dataclass(frozen=True)
class Page:
    """The `(posts, next_cursor)` of one fetch, with how many items were skipped as malformed and
    whether the network has more right now (`more=False`: this round has caught up)."""

    posts: tuple[IncomingPost, ...]
    cursor: Cursor
    more: bool = False
    skipped: int = 0


class Replyable(Protocol):
    """What `reply` needs of a stored post (a `PostRow` is one)."""

    @property
    def external_id(self) -> str: ...

    @property
    def raw(self) -> dict[str, Any] | None: ...


class Connector(Protocol):
    source: SourceConfig

    def fetch(self, cursor: Cursor | None) -> Page:
        """The next page after `cursor` (None: start from now, or as far back as the source allows)."""
        ...

    def reply(self, post: Replyable, text: str) -> str:
        """Post `text` as an answer to `post`; the URL of the answer."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Retries of one call: `attempts` in all, waits growing from `initial` to `maximum` seconds with
    jitter; a Retry-After longer than `maximum` is not slept through but raised to the loop."""

    attempts: int = 5
    initial: float = 0.5
    maximum: float = 30.0


def _wait(backoff: Backoff) -> Callable[[RetryCallState], float]:
    jitter = wait_random_exponential(multiplier=backoff.initial, max=backoff.maximum)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else 0.0
        return max(asked, jitter(state))

    return wait


class HttpConnector(ABC):
    """The HTTP half shared by the connectors: one httpx client, error mapping, retries."""

    network = ""

    def __init__(self, source: SourceConfig, backoff: Backoff | None = None, timeout: float = 30.0) -> None:
        self.source = source
        self.backoff = backoff or Backoff()
        self.http = httpx.Client(base_url=source.base_url, timeout=timeout, headers={"User-Agent": "otklik-monitor"})

    @abstractmethod
    def fetch(self, cursor: Cursor | None) -> Page: ...

    @abstractmethod
    def reply(self, post: Replyable, text: str) -> str: ...

    def close(self) -> None:
        self.http.close()

    def call(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` (one HTTP exchange that raises this module's errors), retrying the passing ones;
        a Retry-After longer than the backoff's maximum is raised at once (the loop comes back next round)."""
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: self._passing(exc)),
            stop=stop_after_attempt(self.backoff.attempts),
            wait=_wait(self.backoff),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _passing(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimited):
            return exc.retry_after is None or exc.retry_after <= self.backoff.maximum
        return isinstance(exc, TransientError)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: %s; retry %d in %.1f s", self.source.id, exc, state.attempt_number,
                    state.next_action.sleep if state.next_action else 0.0,
                    extra={"source": self.source.id, "attempt": state.attempt_number})

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; network errors, 429 and 5xx become this module's errors, other statuses are returned.
        An answer over MAX_RESPONSE_BYTES is refused while it streams in, before it fills the memory."""
        try:
            with self.http.stream(method, url, **kwargs) as streamed:
                body = bytearray()
                for chunk in streamed.iter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise BadPayload(f"{self.source.id}: an answer of more than {MAX_RESPONSE_BYTES} bytes")
                # the body is decoded already: the new response must not decode it again
                headers = [(k, v) for k, v in streamed.headers.multi_items()
                           if k.lower() not in ("content-encoding", "content-length")]
                response = httpx.Response(streamed.status_code, headers=headers, content=bytes(body),
                                          request=streamed.request)
        except httpx.TransportError as exc:
            raise TransientError(f"{self.source.id}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:  # a redirect loop, an undecodable body: not worth retrying
            raise ConnectorError(f"{self.source.id}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            raise RateLimited(f"{self.source.id}: HTTP 429 too many requests",
                              retry_after_of(response.headers, response.text))
        if response.status_code >= 500:
            raise TransientError(f"{self.source.id}: HTTP {response.status_code}")
        if response.status_code == 401:
            raise TokenRevoked(f"{self.source.id}: HTTP 401: {short(response.text)}")
        return response

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise BadPayload(f"{self.source.id}: HTTP {response.status_code}, not JSON: "
                             f"{short(response.text)}") from exc

    def post_of(self, external_id: str, text: Any, published_at: Any, url: str | None = None,
                author: Any = None, raw: dict[str, Any] | None = None) -> IncomingPost:
        return make_post(self.source, self.network, external_id, text, published_at, url, author, raw)

    def parse_items(self, items: Any, parse: Callable[[dict[str, Any]], IncomingPost | None],
                    where: str) -> tuple[list[IncomingPost], int]:
        """Each item through `parse`; a malformed item is logged, counted and skipped, never the page."""
        if not isinstance(items, list):
            raise BadPayload(f"{self.source.id}: {where}: expected a list of items, got {type(items).__name__}")
        posts: list[IncomingPost] = []
        skipped = 0
        for n, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise ValueError(f"expected an object, got {type(item).__name__}")
                post = parse(item)
            except (ValueError, KeyError, TypeError) as exc:
                skipped += 1
                log.warning("%s: %s item %d skipped: %s", self.source.id, where, n, exc,
                            extra={"source": self.source.id})
                continue
            if post is not None:
                posts.append(post)
        return posts, skipped


def make_post(source: SourceConfig, network: str, external_id: str, text: Any, published_at: Any,
              url: str | None = None, author: Any = None, raw: dict[str, Any] | None = None) -> IncomingPost:
    """The common post record, checked by the rules of `POST /v1/posts` (`serving.validation`); raises
    ValueError (the item is skipped) when a field is unusable. A link that is not http(s) is dropped,
    not the post: the complaint still counts, it is only not shown as a link."""
    if not isinstance(text, str):
        raise ValueError("no text")
    if url is not None and (not isinstance(url, str) or url_problem(url) is not None):
        log.warning("%s: post %s: url dropped: %s", source.id, jsonable(external_id),
                    url_problem(url) if isinstance(url, str) else "not a string", extra={"source": source.id})
        url = None
    post = IncomingPost(network=network, external_id=external_id, text=text, published_at=timestamp(published_at),
                        url=url, author=None if author is None else str(author)[:MAX_AUTHOR], region=source.region,
                        raw=raw)
    problems = post_problems(post, source.max_text_chars, datetime.now(UTC))
    if problems:
        raise ValueError("; ".join(wrong for _, wrong in problems))
    return post


def timestamp(value: Any) -> datetime:
    """Unix seconds (int or numeric string) or ISO 8601 with an offset, as an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueError("bad timestamp: true or false")
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("timestamp has no time zone")
            return moment.astimezone(UTC)
    except (OverflowError, OSError):  # beyond what a datetime holds: 1e400, year 9999 west of UTC
        raise ValueError("timestamp out of range") from None
    raise ValueError(f"bad timestamp of type {type(value).__name__}")


def retry_after_of(headers: Mapping[str, str], body: str = "") -> float | None:
    """Seconds from Retry-After (seconds form), X's x-rate-limit-reset (unix time) or the Telegram Bot API's
    `parameters.retry_after` in the body."""
    if (value := headers.get("retry-after")) is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    if (reset := headers.get("x-rate-limit-reset")) is not None:
        try:
            return max(0.0, float(reset) - datetime.now(UTC).timestamp())
        except ValueError:
            return None
    try:
        value = json.loads(body).get("parameters", {}).get("retry_after") if body else None
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one: optional parts of an answer."""
    return value if isinstance(value, dict) else {}


def short(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


# ---- sweeps: the cursor of networks whose search pages go from the newest item backwards -----------

@dataclass
class Sweep:
    """One stream (a query, a community) read newest-first: `since` is where the last full sweep
    stopped, `token` the page token inside the current sweep, `newest` the newest mark it has seen."""

    since: Any = None
    token: Any = None
    newest: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "token": self.token, "newest": self.newest}


@dataclass(frozen=True)
class StreamPage:
    posts: list[IncomingPost]
    token: Any  # the next page's token inside this sweep; None: the sweep is done
    newest: Any  # the newest mark on this page (a time or an id), None when the page was empty
    skipped: int = 0


@dataclass
class Sweeps:
    """The cursor of a sweeping connector: one `Sweep` per stream and the stream being read."""

    streams: dict[str, Sweep] = field(default_factory=dict)
    at: int = 0

    @classmethod
    def of(cls, cursor: Cursor | None, keys: Sequence[str]) -> Sweeps:
        saved = (cursor or {}).get("streams", {})
        streams = {k: Sweep(**saved[k]) if isinstance(saved.get(k), dict) else Sweep() for k in keys}
        at = (cursor or {}).get("at", 0)
        return cls(streams, at if isinstance(at, int) and 0 <= at < len(keys) else 0)

    def to_json(self) -> Cursor:
        return {"streams": {k: s.to_json() for k, s in self.streams.items()}, "at": self.at}


def sweep_fetch(cursor: Cursor | None, keys: Sequence[str], read: Callable[[str, Sweep], StreamPage],
                later: Callable[[Any, Any], Any] = max) -> Page:
    """One page of the stream the cursor is at; after a stream's last page its `since` moves to the
    newest mark seen and the next stream's turn comes. One round over all streams ends with more=False."""
    if not keys:
        return Page((), cursor or {}, more=False)
    state = Sweeps.of(cursor, keys)
    key = list(state.streams)[state.at]
    sweep = state.streams[key]
    page = read(key, sweep)
    if page.newest is not None:
        sweep.newest = page.newest if sweep.newest is None else later(sweep.newest, page.newest)
    if page.token is not None:
        sweep.token = page.token
        return Page(tuple(page.posts), state.to_json(), more=True, skipped=page.skipped)
    if sweep.newest is not None:
        sweep.since = sweep.newest
    sweep.token = None
    state.at += 1
    more = state.at < len(keys)
    if not more:
        state.at = 0
    return Page(tuple(page.posts), state.to_json(), more=more, skipped=page.skipped)

