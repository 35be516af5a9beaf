"""Instagram Graph API: recent media of hashtags (`/ig_hashtag_search`, then `/{hashtag-id}/recent_media`,
newest first, `paging.cursors.after`), answers by `POST /{media-id}/comments`. `account` is the
Instagram business account the API acts as; `queries` are hashtags without '#'."""

from __future__ import annotations

from typing import Any

from serving.connectors.base import BadPayload, Cursor, Page, Replyable, StreamPage, Sweep, mapping, sweep_fetch
from serving.connectors.facebook import GraphConnector
from serving.ingest import IncomingPost


class InstagramConnector(GraphConnector):
    network = "instagram"

    def fetch(self, cursor: Cursor | None) -> Page:
        return sweep_fetch(cursor, list(self.source.queries), self._read)

    def reply(self, post: Replyable, text: str) -> str:
        comment = self.comment(post.external_id, text)
        permalink = (post.raw or {}).get("permalink")
        return f"{permalink}#comment-{comment}" if permalink else f"https://www.instagram.com/#comment-{comment}"

    def _read(self, hashtag: str, sweep: Sweep) -> StreamPage:
        found = self.graph("GET", "/ig_hashtag_search", {"user_id": self.source.account, "q": hashtag.lstrip("#")})
        data = found.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "id" not in data[0]:
            raise BadPayload(f"{self.source.id}: no hashtag id for #{hashtag}")
        params: dict[str, Any] = {"user_id": self.source.account, "fields": "id,caption,timestamp,permalink",
                                  "limit": min(self.source.page_size, 50)}
        if sweep.token:
            params["after"] = sweep.token
        body = self.graph("GET", f"/{data[0]['id']}/recent_media", params)
        posts, skipped = self.parse_items(body.get("data", []), self._post, f"#{hashtag}")
        # The API has no `since`: the sweep ends at the first media older than the last sweep's newest.
        fresh = [p for p in posts if not sweep.since or int(p.published_at.timestamp()) >= sweep.since]
        paging = mapping(body.get("paging"))
        after = mapping(paging.get("cursors")).get("after") if paging.get("next") else None
        if len(fresh) < len(posts):
            after = None
        newest = max((int(p.published_at.timestamp()) for p in fresh), default=None)
        return StreamPage(fresh, after, newest, skipped)

    def _post(self, item: dict[str, Any]) -> IncomingPost:
        return self.post_of(str(item["id"]), item.get("caption"), item["timestamp"], url=item.get("permalink"),
                            raw=item)
