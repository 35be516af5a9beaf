"""How every failure reaches a client: a JSON problem that always serializes, never a traceback.

- a 4xx (HTTPException, a request that fails validation) is `{"detail": ...}` made JSON-safe: the
  rejected input is never echoed (it may be what cannot be encoded: NaN, a lone surrogate);
- the database unreachable or read-only is 503 with `Retry-After` and says so; the next request
  tries again (the pool reconnects by itself), so the service recovers without a restart;
- anything else is 500 `{"detail": "internal error…", "request_id": ...}` (`observability.internal_error`);
  the traceback goes to the JSON log line of that request id, not to the client.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from serving.observability import internal_error
from serving.validation import jsonable

log = logging.getLogger("otklik.problems")
RETRY_AFTER = 5  # seconds: how soon a client may try again while the database is away
# PostgreSQL SQLSTATE classes that mean "the database is not there or does not take writes now":
# connection exceptions, read-only transaction, operator intervention (shutdown), insufficient resources.
_UNAVAILABLE_STATES = ("08", "25006", "57P", "53")


def problem_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """`{"detail": detail}` that is always valid JSON and UTF-8, whatever `detail` holds."""
    body = json.dumps({"detail": jsonable(detail)}, ensure_ascii=False, allow_nan=False)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def unavailable(exc: BaseException) -> bool:
    """Whether a database error means "unreachable or read-only now" (503) rather than a bug (500)."""
    if isinstance(exc, DisconnectionError | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_UNAVAILABLE_STATES)
    # SQLite (and a driver that could not connect): OperationalError covers a read-only or missing
    # file, a full disk, a lock held too long; InterfaceError a connection that is gone.
    return type(exc).__name__ in ("OperationalError", "InterfaceError")


def _database_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return f"the database is unavailable ({type(orig).__name__}: {first}); try again in {RETRY_AFTER} s"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem_response(exc.status_code, exc.detail, dict(exc.headers or {}))


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": e.get("loc", ()), "msg": e.get("msg", ""), "type": e.get("type", "value_error")}
              for e in exc.errors()]
    return problem_response(422, errors)


async def _database_error(request: Request, exc: Exception) -> Response:
    if not unavailable(exc):
        return internal_error(exc, request.url.path)
    message = _database_message(exc)
    log.warning("database unavailable: %s", message, extra={"path": request.url.path})
    headers = {"Retry-After": str(RETRY_AFTER)}
    if request.url.path.startswith("/ui"):
        page = ("<!doctype html><meta charset=utf-8><title>Сервис временно недоступен</title>"
                "<h1>Сервис временно недоступен (503)</h1><p>База данных не отвечает. "
                f"Обновите страницу через {RETRY_AFTER} секунд.</p>")
        return HTMLResponse(page, 503, headers=headers)
    return problem_response(503, message, headers)


def install(app: FastAPI) -> None:
    """The handlers above, for every route of the app (the web pages add their own HTML ones for pages)."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(DisconnectionError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
