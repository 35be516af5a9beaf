"""Facebook Graph API: the feeds of monitored pages (`/{page-id}/feed`, newest first, `since` and
`paging.cursors.after`), answers by `POST /{post-id}/comments`. The version is part of `base_url`
(e.g. https://graph.facebook.com/v19.0)."""

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
    mapping,
    sweep_fetch,
)
from serving.ingest import IncomingPost

TOKEN_CODES = {102, 190}  # session / access token invalid, expired or revoked
RATE_CODES = {4, 17, 32, 613}  # application, user, page and custom rate limits
TRANSIENT_CODES = {1, 2}  # unknown error, service temporarily unavailable


class GraphConnector(HttpConnector):
    """The Graph API's calls and errors, shared with Instagram."""

    def graph(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        full = {**params, "access_token": self.source.token}

        def attempt() -> dict[str, Any]:
            response = self.send(method, path, **{"params" if method == "GET" else "data": full})
            body = self.json_of(response)
            if not isinstance(body, dict):
                raise BadPayload(f"{self.source.id}: {path}: not a JSON object")
            if "error" in body:
                raise graph_error(self.source.id, path, body["error"])
            if response.status_code >= 400:
                raise ConnectorError(f"{self.source.id}: {path}: HTTP {response.status_code}")
            return body

        return self.call(attempt)

    def comment(self, object_id: str, text: str) -> str:
        """Comment on a post or media; the new comment's id."""
        answer = self.graph("POST", f"/{object_id}/comments", {"message": text})
        if not isinstance(answer.get("id"), str):
            raise BadPayload(f"{self.source.id}: /{object_id}/comments answered {answer!r}"[:300])
        return answer["id"]


class FacebookConnector(GraphConnector):
    network = "facebook"

    def fetch(self, cursor: Cursor | None) -> Page:
        return sweep_fetch(cursor, list(self.source.communities), self._read)

    def reply(self, post: Replyable, text: str) -> str:
        return f"https://www.facebook.com/{self.comment(post.external_id, text)}"

    def _read(self, page_id: str, sweep: Sweep) -> StreamPage:
        params: dict[str, Any] = {"fields": "id,message,created_time,permalink_url,from",
                                  "limit": min(self.source.page_size, 100)}
        if sweep.since:
            params["since"] = sweep.since
        if sweep.token:
            params["after"] = sweep.token
        body = self.graph("GET", f"/{page_id}/feed", params)
        items = body.get("data", [])
        posts, skipped = self.parse_items(items, self._post, f"{page_id}/feed")
        paging = mapping(body.get("paging"))
        after = mapping(paging.get("cursors")).get("after") if paging.get("next") else None
        newest = max((int(p.published_at.timestamp()) for p in posts), default=None)
        return StreamPage(posts, after, newest, skipped)

    def _post(self, item: dict[str, Any]) -> IncomingPost:
        sender = item.get("from", {}).get("id") if isinstance(item.get("from"), dict) else None
        return self.post_of(str(item["id"]), item.get("message"), item["created_time"],
                            url=item.get("permalink_url"), author=sender, raw=item)


def graph_error(source: str, path: str, error: Any) -> ConnectorError:
    if not isinstance(error, dict):
        return BadPayload(f"{source}: {path}: malformed error {error!r}")
    code = error.get("code")
    text = f"{source}: {path}: Graph API error {code}: {str(error.get('message', ''))[:300]}"
    if code in TOKEN_CODES:
        return TokenRevoked(text)
    if code in RATE_CODES:
        return RateLimited(text)
    if code in TRANSIENT_CODES or error.get("is_transient"):
        return TransientError(text)
    return ConnectorError(text)

