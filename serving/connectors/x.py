"""X (Twitter) API v2: recent search (`/2/tweets/search/recent`, newest first, `since_id` + `next_token`),
answers by `POST /2/tweets` as a reply. Rate limits are 429 with `x-rate-limit-reset` (unix time)."""

from __future__ import annotations

from typing import Any

from serving.connectors.base import (
    BadPayload,
    ConnectorError,
    Cursor,
    HttpConnector,
    Page,
    Replyable,
    StreamPage,
    Sweep,
    mapping,
    sweep_fetch,
)
from serving.ingest import IncomingPost


class XConnector(HttpConnector):
    network = "x"

    def fetch(self, cursor: Cursor | None) -> Page:
        return sweep_fetch(cursor, list(self.source.queries), self._read, later=lambda a, b: max(a, b, key=int))

    def reply(self, post: Replyable, text: str) -> str:
        body = self.request("POST", "/2/tweets", json={"text": text,
                                                       "reply": {"in_reply_to_tweet_id": post.external_id}})
        data = body.get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise BadPayload(f"{self.source.id}: POST /2/tweets answered {body!r}"[:300])
        return f"https://x.com/i/web/status/{data['id']}"

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.source.token}"}

        def attempt() -> dict[str, Any]:
            response = self.send(method, path, headers=headers, **kwargs)
            body = self.json_of(response)
            if response.status_code >= 400 or not isinstance(body, dict):
                detail = body.get("detail") or body.get("title") if isinstance(body, dict) else body
                raise ConnectorError(f"{self.source.id}: {method} {path}: HTTP {response.status_code}: {detail}")
            return body

        return self.call(attempt)

    def _read(self, query: str, sweep: Sweep) -> StreamPage:
        params: dict[str, Any] = {"query": query, "max_results": max(10, min(self.source.page_size, 100)),
                                  "tweet.fields": "created_at,author_id,lang,geo"}
        if sweep.since:
            params["since_id"] = sweep.since
        if sweep.token:
            params["next_token"] = sweep.token
        body = self.request("GET", "/2/tweets/search/recent", params=params)
        meta = mapping(body.get("meta"))
        posts, skipped = self.parse_items(body.get("data", []), self._post, "search/recent")
        return StreamPage(posts, meta.get("next_token"), meta.get("newest_id"), skipped)

    def _post(self, item: dict[str, Any]) -> IncomingPost:
        tweet_id = str(int(item["id"]))
        return self.post_of(tweet_id, item.get("text"), item["created_at"],
                            url=f"https://x.com/i/web/status/{tweet_id}", author=item.get("author_id"), raw=item)
