"""The web pages for administrators, agencies and supervisors (`/ui/...`), server-rendered.

`install(app)` adds the pages, their static files, the security headers (`headers.py`) and the two
page-level answers: the login form for a browser without a session, and an HTML error page (403,
404, 409, 422) instead of JSON.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import escape
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.web.headers import SecurityHeaders
from serving.web.pages import render, router
from serving.web.session import FRAGMENT_HEADER, LoginRequired, PageError, login_url, maybe_caller

STATIC = Path(__file__).parent / "static"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get(FRAGMENT_HEADER):  # a form sent by otklik.js: it sends the browser to the login
        return HTMLResponse('<p class="message error">Сессия истекла: войдите снова.</p>', 401)
    return RedirectResponse(login_url(exc.path), 303)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if request.headers.get(FRAGMENT_HEADER):
        return HTMLResponse(f'<p class="message error">{escape(exc.message)}</p>', exc.status)
    context = {"status": exc.status, "message": exc.message}
    return render(request, "error.html", context, exc.status, maybe_caller(request))


class CompressPages:
    """gzip for the pages only (the API's responses are left as they are): a queue page repeats the
    correction form's select boxes on every card, 390 KB of HTML for 50 cards that gzip makes 10 KB."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ui"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Add the pages to the app: one line in `serving.app.create_app`."""
    app.add_middleware(CompressPages)
    app.add_middleware(SecurityHeaders)  # outermost: also on answers the middlewares inside make
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageError, _page_error)
