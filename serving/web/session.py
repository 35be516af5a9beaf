"""Who is looking at a page: a server-side session behind an HTTP-only cookie, and the forms' CSRF tokens.

Logging in with an API token opens a session in the store (`serving.store.web_sessions`): the cookie
holds only a random session id, never the token, and the store only the id's hash. The session ends
at logout, after `SESSION_SECONDS`, and when its token is revoked, so a copied cookie stops working
then; any worker can serve any page, since the session is in the database. The pages use the same
access rules as the API (`serving.auth`). Each session has its own random CSRF token, which every
form carries and every POST must send back; a login opens a new session, so it rotates the CSRF token.
The login form, before any session, uses a random value that must match a cookie of its own (double
submit).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

from fastapi import Request, Response

from serving.auth import Caller, session_owner
from serving.deps import get_clock
from serving.store import Clock, WebSession, end_web_session, open_web_session, web_session

SESSION_COOKIE = "otklik_session"
LOGIN_COOKIE = "otklik_login"
SESSION_SECONDS = 12 * 3600
FRAGMENT_HEADER = "x-otklik-fragment"  # set by otklik.js: answer with a piece of page, not a redirect
ROLE_NAMES = {"admin": "оператор", "federal": "федеральный наблюдатель", "regional_admin": "администратор региона",
              "agency": "ведомство", "municipal": "муниципалитет", "ml": "ML-специалист"}


class LoginRequired(Exception):
    """No session, or it ended (logout, expiry, its token revoked): the page sends the browser to the login form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class PageError(Exception):
    """A page that cannot be shown: the status (401 for a feed, 403, 404, 409, 422) and a message in Russian."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def login_url(path: str) -> str:
    return f"/ui/login?next={quote(path, safe='/')}" if path.startswith("/ui/") else "/ui/login"


def clock_of(request: Request) -> Clock:
    """The clock the routes are given (tests override `get_clock`), also for the error pages."""
    clock: Clock = request.app.dependency_overrides.get(get_clock, get_clock)()
    return clock


def session_caller(request: Request) -> Caller:
    """The caller of the session cookie; LoginRequired without a live session. The session is kept on
    `request.state` for the CSRF checks and the forms."""
    session_id = request.cookies.get(SESSION_COOKIE)
    found: WebSession | None = None
    if session_id:
        with request.app.state.sessions() as session:
            found = web_session(session, session_id, clock_of(request))
    caller = session_owner(found, request.app.state.settings) if found else None
    if caller is None:
        raise LoginRequired(request.url.path)
    request.state.web_session = found
    return caller


def maybe_caller(request: Request) -> Caller | None:
    """The session's caller, if any: error pages keep their navigation."""
    try:
        return session_caller(request)
    except LoginRequired:
        return None


def need(permission: str, feed: bool = False) -> Callable[[Request], Caller]:
    """A page's dependency: the session's caller, who must hold `permission` (else the 403 page).

    A `feed` (an EventSource) answers 401 without a live session: it cannot follow a redirect to the
    login form, and the page that opened it goes there itself."""

    def dependency(request: Request) -> Caller:
        try:
            caller = session_caller(request)
        except LoginRequired:
            if not feed:
                raise
            raise PageError(401, "Сессии нет или она истекла: войдите снова.") from None
        if not caller.may(permission):
            raise PageError(403, f"Роли «{ROLE_NAMES.get(caller.role, caller.role)}» эта страница недоступна.")
        return caller

    dependency.permission = permission  # type: ignore[attr-defined]  # read by tests/serving/test_access.py
    return dependency


def request_csrf(request: Request) -> str:
    """The CSRF token the forms of this session carry ("" without a session: no form needs one)."""
    found: WebSession | None = getattr(request.state, "web_session", None)
    return found.csrf if found else ""


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a form POST whose hidden `csrf` field is missing or not this session's."""
    expected = request_csrf(request)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PageError(403, "Форма отклонена: нет или неверен CSRF-токен. Обновите страницу и повторите.")


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def check_login_nonce(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    return bool(sent and cookie and hmac.compare_digest(sent.encode(), cookie.encode()))


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.env == "production")


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(request), path="/ui/login")


def start_session(request: Request, response: Response, token: str) -> None:
    """Open a session for `token` (already checked) with a new CSRF token; a session the browser had ends."""
    with request.app.state.sessions() as session:
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            end_web_session(session, previous)
        session_id, _ = open_web_session(session, token, clock_of(request), timedelta(seconds=SESSION_SECONDS))
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")


def end_session(request: Request, response: Response) -> None:
    """End the session in the store (a copy of the cookie no longer opens anything) and drop the cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        with request.app.state.sessions() as session:
            end_web_session(session, session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
