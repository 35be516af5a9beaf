"""Small fake servers of the networks' APIs: real HTTP on 127.0.0.1 (a thread of the test process),
speaking each network's JSON shapes, paging, errors, rate limits and revoked tokens.

A test scripts trouble with `fail_next(reply, times, when)` (the next matching requests get `reply`
instead of an answer) and `hold(match)` (the request waits until released: a process can be killed meanwhile),
and reads what the client sent in `requests` and what it posted in `replies`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as it is instead of JSON (a broken answer)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, Any]  # query string, form and JSON body merged
    headers: dict[str, str]


@dataclass
class Hold:
    match: Callable[[Request], bool]
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FakeServer:
    """Override `answer(request) -> Reply`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: list[dict[str, Any]] = []
        self._script: list[list[Any]] = []  # [when, reply, times left]
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- test controls --
    def fail_next(self, reply: Reply, times: int = 1, when: Callable[[Request], bool] | None = None) -> None:
        """The next `times` requests (that `when` matches) get `reply` instead of an answer."""
        with self._lock:
            self._script.append([when or (lambda _: True), reply, times])

    def heal(self) -> None:
        """Forget the scripted failures that are left."""
        with self._lock:
            self._script.clear()

    def hold(self, match: Callable[[Request], bool]) -> Hold:
        hold = Hold(match)
        self._holds.append(hold)
        return hold

    def calls(self, path_part: str) -> list[Request]:
        return [r for r in self.requests if path_part in r.path]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for hold in self._holds:
            hold.release.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- the HTTP side --
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params: dict[str, Any] = dict(parse_qsl(parts.query))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if body:
            if "json" in (handler.headers.get("Content-Type") or ""):
                params.update(json.loads(body))
            else:
                params.update(parse_qsl(body.decode()))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(handler.command, unquote(parts.path), params, headers)
        with self._lock:
            self.requests.append(request)
            scripted = None
            for entry in self._script:
                if entry[0](request):
                    scripted = entry[1]
                    entry[2] -= 1
                    if not entry[2]:
                        self._script.remove(entry)
                    break
        for hold in self._holds:
            if not hold.release.is_set() and hold.match(request):
                hold.reached.set()
                hold.release.wait(60)
        reply = scripted or self.answer(request)
        data = reply.raw if reply.raw is not None else json.dumps(reply.body, ensure_ascii=False).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in reply.headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError


def pages(items: list[Any], start: int, count: int) -> tuple[list[Any], int | None]:
    """A slice and the start of the next one (None: the last page)."""
    chunk = items[start : start + count]
    return chunk, (start + count if start + count < len(items) else None)


# ---- VKontakte ------------------------------------------------------------------------------------

class FakeVk(FakeServer):
    """newsfeed.search (newest first, start_time, start_from/next_from), wall.get, wall.getComments,
    wall.createComment; errors in VK's shape (HTTP 200, `error.error_code`)."""

    def __init__(self, token: str, posts: list[dict[str, Any]] | None = None,
                 walls: dict[str, list[dict[str, Any]]] | None = None,
                 comments: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__()
        self.token = token
        self.posts = posts or []  # newsfeed posts: owner_id, id, date, text
        self.walls = walls or {}
        self.comments = comments or {}  # "owner_post" -> comments
        self.revoked = False
        self._next_comment = 1000

    @staticmethod
    def error(code: int, message: str) -> Reply:
        return Reply(body={"error": {"error_code": code, "error_msg": message, "request_params": []}})

    def answer(self, request: Request) -> Reply:
        p = request.params
        if p.get("access_token") != self.token or self.revoked:
            return self.error(5, "User authorization failed: access_token has expired.")
        method = request.path.rsplit("/", 1)[-1]
        if method == "newsfeed.search":
            since = int(p.get("start_time", 0))
            found = sorted((x for x in self.posts if x["date"] >= since), key=lambda x: -x["date"])
            chunk, after = pages(found, int(p.get("start_from", 0)), int(p.get("count", 30)))
            body: dict[str, Any] = {"items": chunk, "count": len(chunk), "total_count": len(found)}
            if after is not None:
                body["next_from"] = str(after)
            return Reply(body={"response": body})
        if method == "wall.get":
            wall = sorted(self.walls.get(p["owner_id"], []), key=lambda x: -x["date"])
            chunk, _ = pages(wall, int(p.get("offset", 0)), int(p.get("count", 20)))
            return Reply(body={"response": {"count": len(wall), "items": chunk}})
        if method == "wall.getComments":
            items = sorted(self.comments.get(f"{p['owner_id']}_{p['post_id']}", []), key=lambda x: -x["date"])
            return Reply(body={"response": {"count": len(items), "items": items[: int(p.get("count", 10))]}})
        if method == "wall.createComment":
            if not p.get("message"):
                return self.error(100, "One of the parameters specified was missing or invalid: message")
            self._next_comment += 1
            self.replies.append({**p, "comment_id": self._next_comment})
            return Reply(body={"response": {"comment_id": self._next_comment, "parents_stack": []}})
        return self.error(3, f"Unknown method passed: {method}")


# ---- Odnoklassniki --------------------------------------------------------------------------------

class FakeOk(FakeServer):
    """fb.do with signed requests: mediatopic.getTopics (anchor paging), discussions.comment."""

    def __init__(self, app_key: str, app_secret: str, token: str, topics: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.app_key, self.app_secret, self.token = app_key, app_secret, token
        self.topics = topics
        self.revoked = False

    def expected_sig(self, params: dict[str, Any]) -> str:
        secret = hashlib.md5((self.token + self.app_secret).encode()).hexdigest()
        signed = "".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sig", "access_token"))
        return hashlib.md5((signed + secret).encode()).hexdigest()

    @staticmethod
    def error(code: int, message: str) -> Reply:
        return Reply(body={"error_code": code, "error_msg": message, "error_data": None})

    def answer(self, request: Request) -> Reply:
        p = request.params
        if self.revoked or p.get("access_token") != self.token:
            return self.error(102, "PARAM_SESSION_EXPIRED : Session expired")
        if p.get("application_key") != self.app_key or p.get("sig") != self.expected_sig(p):
            return self.error(104, "PARAM_SIGNATURE : Invalid signature")
        if p.get("method") == "mediatopic.getTopics":
            topics = sorted(self.topics.get(p["gid"], []), key=lambda t: -t["created_ms"])
            chunk, after = pages(topics, int(p.get("anchor", 0)), int(p.get("count", 20)))
            body = {"media_topics": chunk, "anchor": str(after or len(topics)), "has_more": after is not None}
            return Reply(body=body)
        if p.get("method") == "discussions.comment":
            self.replies.append(p)
            return Reply(body=f"{len(self.replies)}")
        return self.error(3, "METHOD : Method not found")


# ---- Telegram Bot API -----------------------------------------------------------------------------

class FakeTelegram(FakeServer):
    """/bot<token>/getUpdates (offset confirms earlier updates) and /bot<token>/sendMessage."""

    def __init__(self, token: str, updates: list[dict[str, Any]]) -> None:
        super().__init__()
        self.token = token
        self.updates = updates
        self.revoked = False

    def answer(self, request: Request) -> Reply:
        token, _, method = request.path.removeprefix("/bot").partition("/")
        if token != self.token or self.revoked:
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        p = request.params
        if method == "getUpdates":
            offset = int(p.get("offset", 0))
            self.updates = [u for u in self.updates if u.get("update_id", offset) >= offset]  # confirmed ones go
            return Reply(body={"ok": True, "result": self.updates[: int(p.get("limit", 100))]})
        if method == "sendMessage":
            self.replies.append(p)
            return Reply(body={"ok": True, "result": {"message_id": 9000 + len(self.replies), "date": 1,
                                                      "chat": {"id": int(p["chat_id"]), "type": "channel",
                                                               "username": "perm_news"}, "text": p["text"]}})
        return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})


# ---- X API v2 --------------------------------------------------------------------------------------

class FakeX(FakeServer):
    """/2/tweets/search/recent (newest first, since_id, next_token, meta) and POST /2/tweets."""

    def __init__(self, token: str, tweets: list[dict[str, Any]]) -> None:
        super().__init__()
        self.token = token
        self.tweets = tweets
        self.revoked = False

    def answer(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}" or self.revoked:
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        p = request.params
        if request.path == "/2/tweets/search/recent":
            since = int(p.get("since_id", 0))
            found = sorted((t for t in self.tweets if int(t["id"]) > since), key=lambda t: -int(t["id"]))
            chunk, after = pages(found, int(p.get("next_token", "0")), int(p.get("max_results", 10)))
            meta: dict[str, Any] = {"result_count": len(chunk)}
            if chunk:
                meta.update(newest_id=chunk[0]["id"], oldest_id=chunk[-1]["id"])
            if after is not None:
                meta["next_token"] = str(after)
            return Reply(body={"data": chunk, "meta": meta} if chunk else {"meta": meta})
        if request.path == "/2/tweets" and request.method == "POST":
            self.replies.append(p)
            return Reply(201, {"data": {"id": str(10**18 + len(self.replies)), "text": p["text"]}})
        return Reply(404, {"title": "Not Found"})


# ---- Facebook and Instagram Graph API ---------------------------------------------------------------

class FakeGraph(FakeServer):
    """/{page-id}/feed (since, paging.cursors.after), /ig_hashtag_search, /{hashtag-id}/recent_media,
    POST /{id}/comments; errors as `{"error": {"code", "message", "type"}}`."""

    def __init__(self, token: str, feeds: dict[str, list[dict[str, Any]]] | None = None,
                 hashtags: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__()
        self.token = token
        self.feeds = feeds or {}
        self.hashtags = hashtags or {}
        self.revoked = False

    @staticmethod
    def error(status: int, code: int, message: str) -> Reply:
        return Reply(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                        "fbtrace_id": "AbC"}})

    def answer(self, request: Request) -> Reply:
        p = request.params
        if p.get("access_token") != self.token or self.revoked:
            return self.error(400, 190, "Error validating access token: The session has been invalidated")
        path = request.path.strip("/").split("/")
        if request.method == "POST" and path[-1] == "comments":
            self.replies.append({"object": path[0], **p})
            return Reply(body={"id": f"{path[0]}_{len(self.replies)}"})
        if path == ["ig_hashtag_search"]:
            return Reply(body={"data": [{"id": f"h-{p['q']}"}]})
        if len(path) == 2 and path[1] in ("feed", "recent_media"):
            if path[1] == "feed":
                since = int(p.get("since", 0))
                items = [x for x in self.feeds.get(path[0], []) if _unix(x["created_time"]) >= since]
            else:
                items = self.hashtags.get(path[0].removeprefix("h-"), [])
            items = sorted(items, key=lambda x: -_unix(x.get("created_time") or x["timestamp"]))
            chunk, after = pages(items, int(p.get("after", 0)), int(p.get("limit", 25)))
            paging: dict[str, Any] = {"cursors": {"before": "0", "after": str(after or 0)}}
            if after is not None:
                paging["next"] = f"{self.url}{request.path}?after={after}"
            return Reply(body={"data": chunk, "paging": paging})
        return self.error(400, 100, "Unsupported get request")



def _unix(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("+0000", "+00:00")).timestamp())
