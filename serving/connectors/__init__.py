"""Social-network connectors: one interface (`fetch(cursor) -> Page`, `reply(post, text) -> url`) and one
module per network. `connector_for(source)` builds the one a configured source needs."""

from collections.abc import Callable

from serving.connectors.base import (
    Backoff,
    BadPayload,
    Connector,
    ConnectorError,
    Cursor,
    Page,
    RateLimited,
    Replyable,
    TokenRevoked,
    TransientError,
)
from serving.connectors.config import SourceConfig, SourcesError, load_sources
from serving.connectors.facebook import FacebookConnector
from serving.connectors.instagram import InstagramConnector
from serving.connectors.jsonl import JsonlConnector
from serving.connectors.ok import OkConnector
from serving.connectors.telegram import TelegramConnector
from serving.connectors.vk import VkConnector
from serving.connectors.x import XConnector

HTTP_CONNECTORS: dict[str, Callable[[SourceConfig, Backoff | None], Connector]] = {
    "vk": VkConnector,
    "ok": OkConnector,
    "telegram": TelegramConnector,
    "x": XConnector,
    "facebook": FacebookConnector,
    "instagram": InstagramConnector,
}


def connector_for(source: SourceConfig, backoff: Backoff | None = None) -> Connector:
    """The connector of `source.network`, configured from the source."""
    if source.network == "jsonl":
        return JsonlConnector(source)
    return HTTP_CONNECTORS[source.network](source, backoff)


__all__ = [
    "Backoff",
    "BadPayload",
    "Connector",
    "ConnectorError",
    "Cursor",
    "FacebookConnector",
    "InstagramConnector",
    "JsonlConnector",
    "OkConnector",
    "Page",
    "RateLimited",
    "Replyable",
    "SourceConfig",
    "SourcesError",
    "TelegramConnector",
    "TokenRevoked",
    "TransientError",
    "VkConnector",
    "XConnector",
    "connector_for",
    "load_sources",
]
