"""Who is looking at a page: the API token kept in an HTTP-only cookie, and the forms' CSRF tokens.

The cookie holds the user's own API token (the pages use the same tokens and the same access rules
as the API, `serving.auth`), so nothing is stored on the server and any worker can serve any page.
A form's CSRF token is an HMAC of that session token under a key derived from the operator's
secret (`OTKLIK_ADMIN_TOKEN`): it differs per session, cannot be computed by another site, and is
checked on every POST. The login form, before any session, uses a random value that must match a
cookie of its own (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import quote

from fastapi import Request, Response

from serving.auth import Caller, resolve
from serving.settings import Settings

SESSION_COOKIE = "otklik_session"
LOGIN_COOKIE = "otklik_login"
SESSION_SECONDS = 12 * 3600
FRAGMENT_HEADER = "x-otklik-fragment"  # set by otklik.js: answer with a piece of page, not a redirect
ROLE_NAMES = {"admin": "оператор", "federal": "федеральный наблюдатель", "regional_admin": "администратор региона",
              "agency": "ведомство", "municipal": "муниципалитет", "ml": "ML-специалист"}


class LoginRequired(Exception):
    """No session, or its token is unknown or revoked: the page sends the browser to the login form."""

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


def session_caller(request: Request) -> Caller:
    """The caller of the session cookie; LoginRequired without a live one."""
    token = request.cookies.get(SESSION_COOKIE)
    caller = resolve(token, request.app.state.settings, request.app.state.sessions) if token else None
    if caller is None:
        raise LoginRequired(request.url.path)
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


def csrf_token(settings: Settings, session_token: str) -> str:
    key = hmac.new(settings.admin_token.encode(), b"otklik-web-csrf", hashlib.sha256).digest()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def request_csrf(request: Request) -> str:
    """The CSRF token the forms of this session carry."""
    return csrf_token(request.app.state.settings, request.cookies.get(SESSION_COOKIE, ""))


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a form POST whose hidden `csrf` field is missing or not this session's."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not sent or not token or not hmac.compare_digest(sent, csrf_token(request.app.state.settings, token)):
        raise PageError(403, "Форма отклонена: нет или неверен CSRF-токен. Обновите страницу и повторите.")


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def check_login_nonce(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    return bool(sent and cookie and hmac.compare_digest(sent, cookie))


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.env == "production")


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                        secure=_secure(request), path="/ui/login")


def start_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
