"""Structured JSON logs with a request id, and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from starlette.requests import Request
from starlette.responses import Response

from model.pii import Masker

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A client's X-Request-ID is kept only when it is 1 to 128 visible ASCII characters (0x21-0x7E: letters,
# digits, punctuation; no spaces, control or non-ASCII characters), so that it is safe to log and to send
# back; any other value is replaced by a new id (32 hex digits).
CLIENT_REQUEST_ID = re.compile(r"[!-~]{1,128}")
log = logging.getLogger("otklik.http")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; personal data in the message and the traceback masked (`model.pii`,
    without its NER: a log line must not wait for a model to load)."""

    STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def __init__(self) -> None:
        super().__init__()
        self.masker = Masker(ner=False)

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.masker.mask([record.getMessage()])[0],
            "request_id": request_id.get(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in self.STANDARD})
        if record.exc_info:
            out["exc"] = self.masker.mask([self.formatException(record.exc_info)])[0]
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Called by the app factory and the CLI, never at import time."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("otklik")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Metrics:
    """One registry per app, so tests and several apps in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "otklik_http_requests", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "otklik_http_request_seconds", "HTTP request latency", ["route", "method"], registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
        )
        self.predictions = Counter(
            "otklik_predictions", "Predictions by topic and relevance", ["topic", "relevant"], registry=self.registry
        )
        self.bundle = Info("otklik_bundle", "The model bundle in use", registry=self.registry)


def route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def choose_request_id(client_id: str | None) -> str:
    """The client's id when it keeps CLIENT_REQUEST_ID's rule, else a new one."""
    if client_id is not None and CLIENT_REQUEST_ID.fullmatch(client_id):
        return client_id
    return uuid.uuid4().hex


CallNext = Callable[[Request], Awaitable[Response]]


def internal_error(exc: BaseException, path: str) -> Response:
    """The 500 answer to an unexpected exception: no traceback to the client, one JSON log line with it."""
    log.error("unhandled %s", type(exc).__name__, exc_info=exc, extra={"path": path})
    body = {"detail": "internal error; quote the request id to the operator", "request_id": request_id.get()}
    return Response(json.dumps(body), status_code=500, media_type="application/json")


def request_middleware(metrics: Metrics) -> Callable[[Request, CallNext], Awaitable[Response]]:
    async def middleware(request: Request, call_next: CallNext) -> Response:
        rid = choose_request_id(request.headers.get("x-request-id"))
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500
        try:
            try:
                response = await call_next(request)
            except Exception as exc:  # a bug: the client gets the request id, the log gets the traceback
                response = internal_error(exc, request.url.path)
            status = response.status_code
            response.headers["X-Request-ID"] = rid
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = route_of(request)
            metrics.requests.labels(route, request.method, str(status)).inc()
            metrics.latency.labels(route, request.method).observe(elapsed)
            log.info(
                "request",
                extra={"method": request.method, "path": request.url.path, "status": status,
                       "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id.reset(token)

    return middleware
