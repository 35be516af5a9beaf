"""VKontakte: public posts found by newsfeed.search (paged by start_from/next_from), posts and comments
on the walls of monitored communities (wall.get, wall.getComments), answers by wall.createComment.

Every method answers HTTP 200 with either `{"response": ...}` or `{"error": {"error_code", "error_msg"}}`.
"""

from __future__ import annotations

from typing import Any

from serving.connectors.base import (
    BadPayload,
    ConnectorError,
    Cursor,
    HttpConnector,
    Page,
    RateLimited,
    Replyable,
    StreamPage,
    Sweep,
    TokenRevoked,
    TransientError,
    sweep_fetch,
)
from serving.ingest import IncomingPost

API_VERSION = "5.199"
AUTH_FAILED, TOO_MANY_PER_SECOND, FLOOD, INTERNAL, QUOTA = 5, 6, 9, 10, 29
QUOTA_WAIT = 3600.0  # the daily quota: longer than any in-call retry, so the loop comes back later


class VkConnector(HttpConnector):
    network = "vk"

    def fetch(self, cursor: Cursor | None) -> Page:
        keys = [f"q:{q}" for q in self.source.queries] + [f"wall:{c}" for c in self.source.communities]
        return sweep_fetch(cursor, keys, self._read)

    def reply(self, post: Replyable, text: str) -> str:
        owner, post_id, comment = _wall_ids(post.external_id)
        params: dict[str, Any] = {"owner_id": owner, "post_id": post_id, "message": text}
        if comment:
            params["reply_to_comment"] = comment
        answer = self.method("wall.createComment", params, post=True)
        if not isinstance(answer, dict) or "comment_id" not in answer:
            raise BadPayload(f"{self.source.id}: wall.createComment answered {answer!r}")
        return f"https://vk.com/wall{owner}_{post_id}?reply={answer['comment_id']}"

    def method(self, name: str, params: dict[str, Any], post: bool = False) -> Any:
        """Call one API method with retries; its `response`, or the error mapped."""
        full = {**params, "access_token": self.source.token, "v": self.source.api_version or API_VERSION}

        def attempt() -> Any:
            response = self.send("POST", f"/{name}", data=full) if post else self.send("GET", f"/{name}", params=full)
            body = self.json_of(response)
            if not isinstance(body, dict):
                raise BadPayload(f"{self.source.id}: {name} answered {type(body).__name__}")
            if "error" in body:
                raise _error(self.source.id, name, body["error"])
            if "response" not in body:
                raise BadPayload(f"{self.source.id}: {name}: no 'response' in the answer")
            return body["response"]

        return self.call(attempt)

    def _read(self, key: str, sweep: Sweep) -> StreamPage:
        kind, _, value = key.partition(":")
        since = sweep.since - self.source.lookback if isinstance(sweep.since, int) else None
        if kind == "q":
            return self._search(value, since, sweep.token)
        return self._wall(value, since, sweep.token)

    def _search(self, query: str, since: int | None, token: Any) -> StreamPage:
        params: dict[str, Any] = {"q": query, "count": min(self.source.page_size, 200), "extended": 0}
        if since is not None:
            params["start_time"] = since
        if token:
            params["start_from"] = token
        answer = self.method("newsfeed.search", params)
        if not isinstance(answer, dict):
            raise BadPayload(f"{self.source.id}: newsfeed.search answered {type(answer).__name__}")
        items = answer.get("items", [])
        posts, skipped = self.parse_items(items, self._post, "newsfeed.search")
        return StreamPage(posts, answer.get("next_from") or None, _newest(items), skipped)

    def _wall(self, owner: str, since: int | None, token: Any) -> StreamPage:
        count = min(self.source.page_size, 100)
        offset = token if isinstance(token, int) else 0
        answer = self.method("wall.get", {"owner_id": owner, "count": count, "offset": offset})
        if not isinstance(answer, dict):
            raise BadPayload(f"{self.source.id}: wall.get answered {type(answer).__name__}")
        items = answer.get("items", [])
        if not isinstance(items, list):
            raise BadPayload(f"{self.source.id}: wall.get: 'items' is not a list")
        fresh = [i for i in items if not (since and isinstance(i, dict) and _date(i) < since)]
        posts, skipped = self.parse_items(fresh, self._post, f"wall.get {owner}")
        dates = [_newest(fresh)]
        for item in fresh:
            if (isinstance(item, dict) and isinstance(item.get("id"), int) and isinstance(item.get("comments"), dict)
                    and item["comments"].get("count")):
                found, bad, newest = self._comments(owner, item.get("id"), since)
                posts += found
                skipped += bad
                dates.append(newest)
        older = any(isinstance(i, dict) and not i.get("is_pinned") and since and _date(i) < since for i in items)
        more = len(items) == count and not older
        return StreamPage(posts, offset + count if more else None, max((d for d in dates if d), default=None),
                          skipped)

    def _comments(self, owner: str, post_id: Any, since: int | None) -> tuple[list[IncomingPost], int, int | None]:
        answer = self.method("wall.getComments", {"owner_id": owner, "post_id": post_id, "count": 100,
                                                  "sort": "desc"})
        items = answer.get("items", []) if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise BadPayload(f"{self.source.id}: wall.getComments: no list of items")
        fresh = [c for c in items if not (since and isinstance(c, dict) and _date(c) < since)]

        def comment(item: dict[str, Any]) -> IncomingPost:
            external_id = f"{owner}_{int(post_id)}_{int(item['id'])}"
            return self.post_of(external_id, item.get("text"), item["date"],
                                url=f"https://vk.com/wall{owner}_{int(post_id)}?reply={int(item['id'])}",
                                author=item.get("from_id"), raw=item)

        posts, skipped = self.parse_items(fresh, comment, f"wall.getComments {owner}_{post_id}")
        return posts, skipped, _newest(fresh)

    def _post(self, item: dict[str, Any]) -> IncomingPost:
        owner, post_id = int(item["owner_id"]), int(item["id"])
        return self.post_of(f"{owner}_{post_id}", item.get("text"), item["date"],
                            url=f"https://vk.com/wall{owner}_{post_id}", author=item.get("from_id"), raw=item)


def _date(item: dict[str, Any]) -> int:
    value = item.get("date")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _newest(items: list[Any]) -> int | None:
    dates = [_date(i) for i in items if isinstance(i, dict) and _date(i)]
    return max(dates) if dates else None


def _wall_ids(external_id: str) -> tuple[int, int, int | None]:
    """`-123_456` (a post) or `-123_456_789` (a comment on it)."""
    parts = external_id.split("_")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3):
        raise ConnectorError(f"vk: {external_id!r} is not a wall post id (owner_post or owner_post_comment)")
    return numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else None


def _error(source: str, method: str, error: Any) -> ConnectorError:
    if not isinstance(error, dict):
        return BadPayload(f"{source}: {method}: malformed error {error!r}")
    code, message = error.get("error_code"), str(error.get("error_msg", ""))[:300]
    text = f"{source}: {method}: VK error {code}: {message}"
    if code == AUTH_FAILED:
        return TokenRevoked(text)
    if code in (TOO_MANY_PER_SECOND, FLOOD):
        return RateLimited(text)
    if code == QUOTA:
        return RateLimited(text, retry_after=QUOTA_WAIT)
    if code in (INTERNAL, 1):
        return TransientError(text)
    return ConnectorError(text)
