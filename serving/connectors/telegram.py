"""Telegram through the Bot API (getUpdates with `offset`; channel posts and group messages the bot sees),
answers by sendMessage as a reply. The bot must be a member (an administrator, for channels) of each
watched chat. The Bot API is plain HTTPS JSON, so the client is httpx and the fake server is small;
MTProto (a user account) would also read public channels the account has not joined, at the price of
a session file, phone login and a much larger protocol.
"""

from __future__ import annotations

from typing import Any

from serving.connectors.base import BadPayload, ConnectorError, Cursor, HttpConnector, Page, Replyable, TokenRevoked
from serving.ingest import IncomingPost

KINDS = ("message", "channel_post")


class TelegramConnector(HttpConnector):
    network = "telegram"

    def fetch(self, cursor: Cursor | None) -> Page:
        offset = (cursor or {}).get("offset")
        params: dict[str, Any] = {"limit": min(self.source.page_size, 100), "timeout": 0,
                                  "allowed_updates": list(KINDS)}
        if isinstance(offset, int):
            params["offset"] = offset
        updates = self.method("getUpdates", params)
        if not isinstance(updates, list):
            raise BadPayload(f"{self.source.id}: getUpdates: 'result' is not a list")
        ids = [u["update_id"] for u in updates if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        watched = [u for u in updates if not isinstance(u, dict) or self._watched(u)]
        posts, skipped = self.parse_items(watched, self._post, "getUpdates")
        next_offset = max(ids) + 1 if ids else offset
        return Page(tuple(posts), {"offset": next_offset}, more=len(updates) >= params["limit"], skipped=skipped)

    def reply(self, post: Replyable, text: str) -> str:
        chat, message_id = _ids(post.external_id)
        sent = self.method("sendMessage", {"chat_id": chat, "text": text,
                                           "reply_parameters": {"message_id": message_id}})
        if not isinstance(sent, dict) or not isinstance(sent.get("message_id"), int):
            raise BadPayload(f"{self.source.id}: sendMessage answered {sent!r}")
        return _link(sent.get("chat") or {"id": chat}, sent["message_id"])

    def method(self, name: str, params: dict[str, Any]) -> Any:
        def attempt() -> Any:
            response = self.send("POST", f"/bot{self.source.token}/{name}", json=params)
            body = self.json_of(response)
            if not isinstance(body, dict) or "ok" not in body:
                raise BadPayload(f"{self.source.id}: {name}: not a Bot API answer")
            if body["ok"] is not True:
                text = f"{self.source.id}: {name}: {body.get('error_code')} {body.get('description')}"
                if response.status_code in (401, 404):  # a revoked token's URL no longer exists
                    raise TokenRevoked(text)
                raise ConnectorError(text)
            return body.get("result")

        return self.call(attempt)

    def _watched(self, update: dict[str, Any]) -> bool:
        """A post of a watched chat; a malformed one too, so that the parser counts it."""
        kind = next((k for k in KINDS if k in update), None)
        if kind is None:
            return False  # another kind of update (a member joined, a poll): not a post
        message = update[kind]
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(chat, dict) or not self.source.communities:
            return True
        names = {str(chat.get("id")), f"@{chat.get('username')}", str(chat.get("username"))}
        return bool(names & set(self.source.communities))

    def _post(self, update: dict[str, Any]) -> IncomingPost:
        message = next(update[k] for k in KINDS if k in update)
        if not isinstance(message, dict):
            raise ValueError("the message is not an object")
        chat = message["chat"]
        message_id = int(message["message_id"])
        sender = message.get("from", {}).get("id") if isinstance(message.get("from"), dict) else None
        return self.post_of(f"{int(chat['id'])}_{message_id}", message.get("text") or message.get("caption"),
                            message["date"], url=_link(chat, message_id), author=sender or chat.get("title"),
                            raw=message)


def _link(chat: dict[str, Any], message_id: int) -> str:
    if chat.get("username"):
        return f"https://t.me/{chat['username']}/{message_id}"
    chat_id = str(chat.get("id", ""))
    return f"https://t.me/c/{chat_id.removeprefix('-100')}/{message_id}"


def _ids(external_id: str) -> tuple[int, int]:
    chat, _, message = external_id.rpartition("_")
    try:
        return int(chat), int(message)
    except ValueError:
        raise ConnectorError(f"telegram: {external_id!r} is not chat_message") from None
