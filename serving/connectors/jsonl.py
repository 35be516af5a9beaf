"""File import, always available: a JSONL file of posts in the `POST /v1/posts` shape (network,
external_id, text, published_at, url?, author?, region?), read from where the last run stopped.
The cursor is the byte offset after the last line read (and the file's size then, to notice a
file that was replaced by a shorter one)."""

from __future__ import annotations

import json
import logging
from typing import Any

from model.records import NETWORKS
from serving.connectors.base import ConnectorError, Cursor, Page, Replyable, make_post
from serving.connectors.config import SourceConfig
from serving.ingest import IncomingPost

log = logging.getLogger("otklik.connectors")


class JsonlConnector:
    network = "jsonl"

    def __init__(self, source: SourceConfig) -> None:
        assert source.path is not None
        self.source = source
        self.path = source.path

    def fetch(self, cursor: Cursor | None) -> Page:
        offset = (cursor or {}).get("offset", 0)
        try:
            size = self.path.stat().st_size
            if not isinstance(offset, int) or offset > size:
                log.warning("%s: %s is shorter than at the last run: read from the start", self.source.id, self.path)
                offset = 0
            with self.path.open("rb") as f:
                f.seek(offset)
                lines = [f.readline() for _ in range(self.source.page_size)]
                end = f.tell()
        except OSError as exc:
            raise ConnectorError(f"{self.source.id}: cannot read {self.path}: {exc.strerror or exc}") from exc
        lines = [line for line in lines if line]
        if lines and not lines[-1].endswith(b"\n"):  # a line still being written: read it next time
            end -= len(lines.pop())
        posts: list[IncomingPost] = []
        skipped = 0
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                posts.append(self._post(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                skipped += 1
                log.warning("%s: %s at byte %d, line %d of this page skipped: %s", self.source.id, self.path,
                            offset, n + 1, exc, extra={"source": self.source.id})
        return Page(tuple(posts), {"offset": end}, more=len(lines) == self.source.page_size and end < size,
                    skipped=skipped)

    def reply(self, post: Replyable, text: str) -> str:
        raise ConnectorError(f"{self.source.id}: a file import cannot answer posts")

    def close(self) -> None:
        """Nothing is held open between pages."""

    def _post(self, obj: Any) -> IncomingPost:
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        network = obj.get("network")
        if network not in NETWORKS:
            raise ValueError(f"'network' must be one of {', '.join(NETWORKS)}")
        external_id = obj.get("external_id")
        if not isinstance(external_id, str):
            raise ValueError("'external_id' must be a string")
        post = make_post(self.source, network, external_id, obj.get("text"), obj.get("published_at"),
                         url=obj.get("url"), author=obj.get("author"), raw=obj)
        region = obj.get("region", self.source.region)
        if region is not None and not isinstance(region, str):
            raise ValueError("'region' must be a string")
        return IncomingPost(post.network, post.external_id, post.text, post.published_at, post.url, post.author,
                            region, post.raw)
