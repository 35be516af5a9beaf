"""People who use the store: administrators, agency staff, supervisors, ML staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.tables import ROLES, UserRow


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
) -> User:
    """A new user; the scope fields narrow what an agency or municipal user sees. Commits."""
    if not name.strip():
        raise ValueError("a user needs a name")
    if role not in ROLES:
        raise ValueError(f"role {role!r}; one of {', '.join(ROLES)}")
    _check_scope(role, region, agency, municipality)
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
            article = "an" if name[0] in "aeiou" else "a"
            raise ValueError(f"a {role} user needs {article} {name}")
    extra = [name for name, value in given.items() if value and name not in needed]
    if extra:
        if role in ("federal", "ml"):
            raise ValueError(f"{role} users see every region; do not give them {', '.join(extra)}")
        raise ValueError(f"a {role} user has no {', '.join(extra)}")
