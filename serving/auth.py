"""Who is calling and what they may do: every route's access rule lives here, in one table.

A route names one permission (`Depends(allow("decide"))`); the dependency resolves the bearer token
to a `Caller`, refuses a missing or unknown token (401) and a role without that permission (403),
and hands the caller to the route, which narrows what it reads to `caller.scope` and answers 404
for an incident outside it (so that existence does not leak).

Roles (issue 7): `federal` reads everything; `regional_admin` runs one region's queue; `agency`
sees the incidents routed to its body in its region; `municipal` reads its municipality; `ml`
exports training data and manages models. The configured `OTKLIK_ADMIN_TOKEN` is the operator's
token: role `admin`, every permission, every region (it bootstraps a fresh installation).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from serving.settings import Settings
from serving.store import Incident, User, WebSession, user_for_token
from serving.store.queue import QueueFilter
from serving.store.tokens import token_hash

ADMIN = "admin"

# permission -> roles that hold it (the operator's `admin` holds all of them).
PERMISSIONS: dict[str, frozenset[str]] = {
    "predict": frozenset({"federal", "regional_admin", "agency", "municipal", "ml"}),
    "ingest": frozenset({"regional_admin"}),
    "read_incidents": frozenset({"federal", "regional_admin", "agency", "municipal"}),
    "decide": frozenset({"regional_admin"}),  # accept, correct, dismiss
    "reassign": frozenset({"regional_admin", "agency"}),
    "respond": frozenset({"agency"}),
    "read_stats": frozenset({"federal", "regional_admin", "agency", "municipal"}),
    "read_model": frozenset({"federal", "regional_admin", "agency", "municipal", "ml"}),
    "manage_model": frozenset({"regional_admin", "ml"}),
    "export_feedback": frozenset({"ml"}),
}

bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


SCOPE_FIELDS = ("region", "agency", "municipality")
ROUTED = ("routed", "answered")  # an agency sees an incident once an administrator routed it there


@dataclass(frozen=True)
class Scope:
    """The incidents a caller may see; None: no condition on that field. `routed_only`: only incidents
    an administrator has routed (an agency does not see the model's unconfirmed suggestions)."""

    region: str | None = None
    agency: str | None = None
    municipality: str | None = None
    routed_only: bool = False

    def contains(self, incident: Incident) -> bool:
        route = incident.final if self.routed_only else (incident.final or incident.suggested)
        return (
            route is not None
            and (self.region is None or incident.region == self.region)
            and (self.agency is None or route.agency == self.agency)
            and (self.municipality is None or route.municipality == self.municipality)
        )

    def narrow(self, wanted: QueueFilter) -> QueueFilter | None:
        """The caller's filter inside this scope; None when it asks for something outside (empty answer)."""
        fields = self._fields({name: getattr(wanted, name) for name in SCOPE_FIELDS})
        if fields is None:
            return None
        status = wanted.status
        if self.routed_only:
            status = tuple(s for s in (status or ROUTED) if s in ROUTED)
            if not status:
                return None
        return replace(wanted, status=status, region=fields["region"], agency=fields["agency"],
                       municipality=fields["municipality"])

    def narrow_stats(self, region: str | None, agency: str | None, municipality: str | None) -> dict[str, Any] | None:
        """The filters of `serving.store.stats.compute_stats` inside this scope; None: outside (empty answer)."""
        fields = self._fields({"region": region, "agency": agency, "municipality": municipality})
        if fields is None:
            return None
        return {**fields, "statuses": ROUTED if self.routed_only else None}

    def _fields(self, asked: dict[str, str | None]) -> dict[str, str | None] | None:
        fields: dict[str, str | None] = {}
        for name in SCOPE_FIELDS:
            mine = getattr(self, name)
            if mine is not None and asked[name] is not None and asked[name] != mine:
                return None
            fields[name] = asked[name] if asked[name] is not None else mine
        return fields


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    region: str | None = None
    agency: str | None = None
    municipality: str | None = None

    def may(self, permission: str) -> bool:
        return self.role == ADMIN or self.role in PERMISSIONS[permission]

    @property
    def scope(self) -> Scope:
        if self.role in (ADMIN, "federal", "ml"):
            return Scope()
        if self.role == "agency":
            return Scope(region=self.region, agency=self.agency, routed_only=True)
        if self.role == "municipal":
            return Scope(region=self.region, municipality=self.municipality)
        return Scope(region=self.region)


def resolve(token: str, settings: Settings, sessions: sessionmaker[Session]) -> Caller | None:
    """The caller a token belongs to: the operator's configured token, or a user's live token."""
    if hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return Caller(name=ADMIN, role=ADMIN)
    with sessions() as session:
        user = user_for_token(session, token)
    return caller_of(user) if user is not None else None


def session_owner(web: WebSession, settings: Settings) -> Caller | None:
    """The caller of a live web session: its token's user while that token is live, or the operator
    while the session's token is still the configured one."""
    if web.user is not None:
        return caller_of(web.user)
    if hmac.compare_digest(web.token_hash, token_hash(settings.admin_token)):
        return Caller(name=ADMIN, role=ADMIN)
    return None


def caller_of(user: User) -> Caller:
    return Caller(user.name, user.role, user.region, user.agency, user.municipality)


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def allow(permission: str, what: str | None = None) -> Callable[..., Caller]:
    """The dependency of a route that needs `permission`: the caller, or 401/403. The 403 says the role
    may not `what` (default: the permission's name), for a route whose actions need more than one."""
    what = what or permission.replace("_", " ")
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; add it to serving.auth.PERMISSIONS")

    def dependency(request: Request, credentials: Credentials) -> Caller:
        if credentials is None:
            raise unauthorized("missing token: send `Authorization: Bearer <token>`")
        caller = resolve(credentials.credentials, request.app.state.settings, request.app.state.sessions)
        if caller is None:
            raise unauthorized("unknown or revoked token")
        if not caller.may(permission):
            raise HTTPException(403, f"role {caller.role!r} may not {what}")
        return caller

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return dependency


def allow_predict(request: Request, credentials: Credentials) -> Caller | None:
    """`/v1/predict` is open in development and needs a token (any role) when OTKLIK_ENV=production."""
    if request.app.state.settings.env != "production":
        return None
    return _predict(request, credentials)


_predict = allow("predict")
allow_predict.permission = "predict"  # type: ignore[attr-defined]
