"""Guards at the HTTP edge for JSON request bodies: content type, size, encoding, JSON itself.

A pure ASGI middleware: the body is read once, bounded by the size limit, checked, and replayed
to the app, so a rejected request never reaches a route (nothing is half-processed). The JSON is
parsed here strictly (no NaN, Infinity or numbers beyond a double, a bounded depth) so that a body
the routes would choke on is refused with what is wrong and where, and never echoed back.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def _reply(send: Send, status: int, detail: str | list[dict[str, Any]]) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False, allow_nan=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class JsonBodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, f"request body is {declared} bytes; the limit is {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reply(send, 413, f"request body is over the limit of {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                await _reply(send, 415, f"Content-Type must be application/json, got {ctype or 'none'!r}")
                return
            try:
                decoded = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _reply(send, 400, f"request body is not valid UTF-8 (bad byte at offset {exc.start})")
                return
            if (wrong := json_problem(decoded)) is not None:
                await _reply(send, 422, [wrong])
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class BadJson(ValueError):
    """A JSON document refused by `strict_json`; the message says what is wrong and where, `pos` the character."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.pos = pos


class _NotFinite(ValueError):
    pass


def _constant(name: str) -> float:
    raise _NotFinite(name)


def _number(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NotFinite(literal)
    return value


def strict_json(text: str) -> Any:
    """`json.loads` without NaN, Infinity, numbers beyond a double or unbounded nesting: the API's
    bodies and the CLI's input lines. Raises BadJson naming what is wrong and where (never the value)."""
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_number)
    except json.JSONDecodeError as exc:
        raise BadJson(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (character {exc.pos})",
                      exc.pos) from None
    except _NotFinite:
        raise BadJson("not valid JSON: a number is not finite or too large for a double; numbers must be finite") \
            from None
    except RecursionError:
        where = _too_deep(text)
        raise BadJson(f"not valid JSON: arrays or objects nested more than {MAX_DEPTH} levels deep (at character "
                      f"{where})", where) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BadJson(f"not valid JSON: {str(exc).split(';')[0]}") from None


def json_problem(text: str) -> dict[str, Any] | None:
    """What is wrong with a JSON request body and where (a 422 entry), or None when it parses strictly."""
    try:
        strict_json(text)
    except BadJson as exc:
        return problem(["body"] if exc.pos is None else ["body", exc.pos], str(exc), "json_invalid")
    return None


MAX_DEPTH = 500  # no request of this API nests more than a few levels


def _too_deep(text: str) -> int:
    """Where the nesting first goes past MAX_DEPTH (brackets inside strings do not count); the parser
    gave up deeper than that, so the place exists."""
    depth = 0
    in_string = escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif char in "]}":
            depth -= 1
    return len(text)


def problem(loc: list[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 `detail` list, in FastAPI's own shape."""
    return {"loc": loc, "msg": msg, "type": kind}
