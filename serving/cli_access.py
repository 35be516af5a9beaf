"""`otklik token ...`: users and their API tokens (issue 7). A token is printed once, alone on the
last line of the output, so scripts can take it with `tail -n 1`; the store keeps only its hash.

What the commands share comes from `serving.cli_common`; `serving.cli` registers them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from serving.cli_common import fail, settings

token_app = typer.Typer(no_args_is_help=True, help="API tokens of users: create, revoke, list.")

RoleOpt = Annotated[str, typer.Option("--role", help="federal, regional_admin, agency, municipal or ml")]
NameOpt = Annotated[str | None, typer.Option("--name", help="the user's name (default: made from role and scope)")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="region code, e.g. perm-krai")]
AgencyOpt = Annotated[str | None, typer.Option("--agency", help="agency code, e.g. health_ministry")]
MunicipalityOpt = Annotated[str | None, typer.Option("--municipality", help="OKTMO code of the municipality")]


@contextmanager
def store() -> Iterator[Session]:
    """A session on the configured database, migrated to the newest schema first."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.database import make_engine, make_sessions
    from serving.store import upgrade

    engine = make_engine(settings().database_url)
    try:
        upgrade(engine)
        with make_sessions(engine)() as session:
            yield session
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()


def scope_text(region: str | None, agency: str | None, municipality: str | None) -> str:
    return "/".join(part for part in (region, agency, municipality) if part) or "all regions"


@token_app.command("create")
def create(
    role: RoleOpt,
    name: NameOpt = None,
    region: RegionOpt = None,
    agency: AgencyOpt = None,
    municipality: MunicipalityOpt = None,
) -> None:
    """Issue a token (creating the user when the name is new); the token is the last line."""
    from model.region import RegionError, load_regions
    from model.taxonomy import load_taxonomy
    from serving.store import SystemClock, UserExists, create_user, get_user, issue_token

    annotations = settings().annotations_dir
    try:
        taxonomy = load_taxonomy(annotations / "taxonomy.yaml")
        regions = load_regions(annotations / "regions", taxonomy)
    except (OSError, RegionError, ValueError) as exc:
        fail(f"cannot read the directory in {annotations}: {exc}")
    scope = "/".join(part for part in (region, agency, municipality) if part)
    name = name or (f"{role}:{scope}" if scope else role)
    clock = SystemClock()
    with store() as session:
        user = get_user(session, name)
        if user is None:
            try:
                user = create_user(session, name, role, clock, region, agency, municipality, regions, taxonomy)
            except UserExists:  # created by someone else in the meantime
                user = get_user(session, name)
            except ValueError as exc:
                fail(str(exc))
            else:
                typer.echo(f"user {user.name!r} created: {user.role}, {scope_text(region, agency, municipality)}")
        assert user is not None
        asked = (role, region, agency, municipality)
        if (user.role, user.region, user.agency, user.municipality) != asked:
            fail(f"user {user.name!r} exists as {user.role}, "
                 f"{scope_text(user.region, user.agency, user.municipality)}; "
                 "give another --name, or the same role and scope to issue it one more token")
        token = issue_token(session, user.id, clock)
    typer.echo(f"token for {user.name!r} (shown once; store it now, only its hash is kept):")
    typer.echo(token)


@token_app.command("revoke")
def revoke(token: Annotated[str, typer.Argument(help="the token to revoke")]) -> None:
    """Revoke a token: it stops working at once, on every worker."""
    from serving.store import SystemClock, revoke_token

    with store() as session:
        if not revoke_token(session, token.strip(), SystemClock()):
            fail("no live token like that: unknown or revoked already")
    typer.echo("token revoked")


@token_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per user")] = False,
) -> None:
    """Users, their roles and scopes and how many live tokens each has (never the tokens)."""
    import json

    from serving.store.users import list_users

    with store() as session:
        users = list_users(session)
    for user, live in users:
        if as_json:
            typer.echo(json.dumps({"name": user.name, "role": user.role, "region": user.region, "agency": user.agency,
                                   "municipality": user.municipality, "live_tokens": live,
                                   "created_at": user.created_at.isoformat()}, ensure_ascii=False))
        else:
            typer.echo(f"{user.name}\t{user.role}\t{scope_text(user.region, user.agency, user.municipality)}\t"
                       f"{live} live token{'s' if live != 1 else ''}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(token_app, name="token")
