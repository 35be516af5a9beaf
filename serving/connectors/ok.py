"""Odnoklassniki REST API: the topics of monitored groups (`mediatopic.getTopics`, newest first, paged by
`anchor`), answers by `discussions.comment`. Every request is signed: sig = md5 of the parameters
sorted by name and joined as key=value (without access_token), followed by the session secret key
md5(access_token + application secret key). Errors are HTTP 200 with `error_code` and `error_msg`."""

from __future__ import annotations

import hashlib
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

TOKEN_CODES = {102, 103, 104}  # PARAM_SESSION_EXPIRED, PARAM_SESSION_KEY, PARAM_SIGNATURE
RATE_CODES = {8}  # FLOOD_BLOCKED
TRANSIENT_CODES = {1, 2}  # UNKNOWN, SERVICE


def signature(params: dict[str, Any], access_token: str, application_secret: str) -> str:
    """The `sig` of a request made in a session."""
    session_secret = hashlib.md5((access_token + application_secret).encode()).hexdigest().lower()
    signed = "".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sig", "access_token", "session_key"))
    return hashlib.md5((signed + session_secret).encode()).hexdigest().lower()


class OkConnector(HttpConnector):
    network = "ok"

    def fetch(self, cursor: Cursor | None) -> Page:
        return sweep_fetch(cursor, list(self.source.communities), self._read)

    def reply(self, post: Replyable, text: str) -> str:
        group, _, topic = post.external_id.partition("_")
        if not group or not topic:
            raise ConnectorError(f"ok: {post.external_id!r} is not group_topic")
        self.method("discussions.comment", {"entityId": topic, "entityType": "GROUP_TOPIC", "comment": text})
        return f"https://ok.ru/group/{group}/topic/{topic}"

    def method(self, name: str, params: dict[str, Any]) -> Any:
        full = {**{k: str(v) for k, v in params.items()}, "application_key": self.source.app_key,
                "format": "json", "method": name}
        full["sig"] = signature(full, self.source.token, self.source.secret)
        full["access_token"] = self.source.token

        def attempt() -> Any:
            body = self.json_of(self.send("POST", "", data=full))
            if isinstance(body, dict) and "error_code" in body:
                code = body["error_code"]
                text = f"{self.source.id}: {name}: OK error {code}: {str(body.get('error_msg', ''))[:300]}"
                if code in TOKEN_CODES:
                    raise TokenRevoked(text)
                if code in RATE_CODES:
                    raise RateLimited(text)
                if code in TRANSIENT_CODES:
                    raise TransientError(text)
                raise ConnectorError(text)
            return body

        return self.call(attempt)

    def _read(self, group: str, sweep: Sweep) -> StreamPage:
        params: dict[str, Any] = {"gid": group, "count": min(self.source.page_size, 100), "direction": "AROUND",
                                  "fields": "media_topic.*"}
        if sweep.token:
            params["anchor"] = sweep.token
            params["direction"] = "BACKWARD"
        body = self.method("mediatopic.getTopics", params)
        if not isinstance(body, dict):
            raise BadPayload(f"{self.source.id}: mediatopic.getTopics answered {type(body).__name__}")
        posts, skipped = self.parse_items(body.get("media_topics", []), lambda t: self._post(group, t),
                                          f"group {group}")
        fresh = [p for p in posts if not sweep.since or p.published_at.timestamp() * 1000 >= sweep.since]
        anchor = body.get("anchor") if body.get("has_more") and len(fresh) == len(posts) else None
        newest = max((int(p.published_at.timestamp() * 1000) for p in fresh), default=None)
        return StreamPage(fresh, anchor, newest, skipped)

    def _post(self, group: str, topic: dict[str, Any]) -> IncomingPost:
        media = topic.get("media", [])
        text = "\n".join(m["text"] for m in media if isinstance(m, dict) and m.get("type") == "text"
                         and isinstance(m.get("text"), str))
        topic_id = str(int(topic["id"]))
        return self.post_of(f"{group}_{topic_id}", text, int(topic["created_ms"]) / 1000,
                            url=f"https://ok.ru/group/{group}/topic/{topic_id}", author=topic.get("author_ref"),
                            raw=topic)
