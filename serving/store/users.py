"""People who use the store: administrators, agency staff, supervisors, ML staff."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from model.region import Region
from model.taxonomy import Taxonomy
from serving.store.clock import Clock
from serving.store.tables import ROLES, TokenRow, UserRow


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    region: str | None
    agency: str | None
    municipality: str | None
    created_at: datetime


class UserExists(ValueError):
    pass


def create_user(
    session: Session,
    name: str,
    role: str,
    clock: Clock,
    region: str | None = None,
    agency: str | None = None,
    municipality: str | None = None,
    regions: Mapping[str, Region] | None = None,
    taxonomy: Taxonomy | None = None,
) -> User:
    """A new user; the scope fields narrow what an agency or municipal user sees. With `regions` and
    `taxonomy` the codes must be known ones (a typo would make a user who sees nothing). Commits."""
    if not name.strip():
        raise ValueError("a user needs a name")
    if role not in ROLES:
        raise ValueError(f"role {role!r}; one of {', '.join(ROLES)}")
    _check_scope(role, region, agency, municipality)
    _check_codes(region, agency, municipality, regions, taxonomy)
    row = UserRow(name=name.strip(), role=role, region=region, agency=agency, municipality=municipality,
                  created_at=clock.now())
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise UserExists(f"a user named {name.strip()!r} exists already") from None
    return user_of(row)


def get_user(session: Session, name: str) -> User | None:
    row = session.scalars(select(UserRow).where(UserRow.name == name)).one_or_none()
    return user_of(row) if row else None


def list_users(session: Session) -> list[tuple[User, int]]:
    """Every user with the number of its live tokens, by name."""
    live = (
        select(TokenRow.user_id, func.count().label("n"))
        .where(TokenRow.revoked_at.is_(None))
        .group_by(TokenRow.user_id)
        .subquery()
    )
    rows = session.execute(
        select(UserRow, func.coalesce(live.c.n, 0)).outerjoin(live, live.c.user_id == UserRow.id).order_by(UserRow.name)
    )
    return [(user_of(row), int(n)) for row, n in rows]


def user_of(row: UserRow) -> User:
    return User(row.id, row.name, row.role, row.region, row.agency, row.municipality, row.created_at)


# What each role's scope is made of: the fields it needs, the fields it may not have.
SCOPE_FIELDS: dict[str, tuple[str, ...]] = {
    "federal": (),
    "ml": (),
    "regional_admin": ("region",),
    "agency": ("region", "agency"),
    "municipal": ("region", "municipality"),
}


def _check_scope(role: str, region: str | None, agency: str | None, municipality: str | None) -> None:
    given = {"region": region, "agency": agency, "municipality": municipality}
    needed = SCOPE_FIELDS[role]
    for name in needed:
        if not given[name]:
            raise ValueError(f"{_a(role)} {role} user needs {_a(name)} {name}")
    extra = [name for name, value in given.items() if value and name not in needed]
    if extra:
        if role in ("federal", "ml"):
            raise ValueError(f"{role} users see every region; do not give them {', '.join(extra)}")
        raise ValueError(f"{_a(role)} {role} user has no {', '.join(extra)}")


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _check_codes(
    region: str | None,
    agency: str | None,
    municipality: str | None,
    regions: Mapping[str, Region] | None,
    taxonomy: Taxonomy | None,
) -> None:
    if taxonomy is not None and agency is not None:
        taxonomy.check_agency(agency, "agency")
    if regions is None or region is None:
        return
    if region not in regions:
        raise ValueError(f"region: unknown region {region!r}; known regions: {', '.join(regions)}")
    if municipality is not None:
        try:
            regions[region].municipality(municipality)
        except KeyError as exc:
            raise ValueError(f"municipality: {exc.args[0]}") from None
