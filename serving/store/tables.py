"""The store's tables. The schema itself is created by the Alembic migrations in `migrations/`;
`tests/serving/store/test_schema.py` checks that they agree with these classes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from serving.store.clock import aware

STATUSES = ("new", "routed", "answered", "dismissed")
ACTIONS = ("accept", "correct", "dismiss", "reassign", "respond")
POSTBACK = ("pending", "posted", "failed", "skipped")
ROLES = ("federal", "regional_admin", "agency", "municipal", "ml")

# Named constraints, so that later migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit key on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: `timestamptz` on PostgreSQL, naive UTC text on SQLite
    (same width, so text order is time order and keyset cursors compare correctly)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = aware(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: Json, list[Any]: Json}


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


class PostRow(Base):
    """Every post ever received, once per (network, external_id)."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("network", "external_id"),
        Index(None, "text_hash"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    author: Mapped[str | None] = mapped_column(String(256))
    url: Mapped[str | None] = mapped_column(String(2048))
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime]
    raw: Mapped[dict[str, Any] | None]
    region: Mapped[str] = mapped_column(String(64))
    text_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the normalized words: near-duplicates
    created_at: Mapped[datetime]
    # Set by `otklik purge`: `text` is then the masked text, and author and raw are gone.
    masked_at: Mapped[datetime | None]


class PredictionRow(Base):
    """What a bundle said about a post that matched the monitoring rules (all heads, as on the wire)."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id"), index=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    prediction: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


# The statistics (stats.py) read every incident of a window: one index per grouping holds every
# column they use, so that the database scans it in group order and never visits the table.
STATS_LEADS = ("region", "municipality", "agency", "topic", "registered_at", "registered_day")
STATS_COLUMNS = ("registered_at", "status", "deadline", "sla_met", "answered_at", "region", "agency", "municipality",
                 "final_topic", "final_agency", "final_municipality",
                 "suggested_topic", "suggested_agency", "suggested_municipality", "registered_day")


def stats_columns(lead: str) -> tuple[str, ...]:
    return (lead, *(column for column in STATS_COLUMNS if column != lead))


class IncidentRow(Base):
    """A complaint in the workflow. `topic`, `agency`, `municipality` are its current route (the
    final labels once decided, the suggested ones before) so that queue filters use one index each."""

    __tablename__ = "incidents"
    __table_args__ = (
        _one_of("status", STATUSES, "status"),
        # Each serves a filter and the queue order at once, `id` being the order's tie-break.
        Index(None, "status", "deadline", "id"),
        Index(None, "region", "status", "deadline", "id"),
        Index(None, "deadline", "id"),
        Index(None, "status", "uncertainty", "id"),
        Index(None, "topic", "deadline", "id"),
        Index(None, "agency", "deadline", "id"),
        Index(None, "municipality", "deadline", "id"),
        *(Index(f"ix_incidents_stats_{lead}", *stats_columns(lead)) for lead in STATS_LEADS),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]
    # The calendar day of `registered_at` in the region's time zone, what statistics group by. Always
    # set; nullable only because SQLite cannot make an existing column NOT NULL (migration 0005).
    registered_day: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[datetime]
    suggested_relevant: Mapped[bool] = mapped_column(Boolean)
    suggested_topic: Mapped[str] = mapped_column(String(32))
    suggested_agency: Mapped[str] = mapped_column(String(32))
    suggested_body: Mapped[str] = mapped_column(Text)
    suggested_municipality: Mapped[str | None] = mapped_column(String(16))
    scores: Mapped[dict[str, Any]]
    needs_review: Mapped[bool] = mapped_column(Boolean)
    uncertainty: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]]
    final_topic: Mapped[str | None] = mapped_column(String(32))
    final_agency: Mapped[str | None] = mapped_column(String(32))
    final_municipality: Mapped[str | None] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str] = mapped_column(String(32))
    municipality: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    sla_met: Mapped[bool | None] = mapped_column(Boolean)
    bundle_id: Mapped[str] = mapped_column(String(64))


class RepostRow(Base):
    """A near-duplicate post attached to an existing incident instead of opening a new one."""

    __tablename__ = "reposts"

    post_id: Mapped[int] = mapped_column(Id, ForeignKey("posts.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"), index=True)
    attached_at: Mapped[datetime]


class DecisionRow(Base):
    """The audit log: append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "decisions"
    __table_args__ = (_one_of("action", ACTIONS, "action"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))
    old_labels: Mapped[dict[str, Any]]
    new_labels: Mapped[dict[str, Any]]
    corrected: Mapped[list[Any]]  # the model heads whose suggestion the final labels differ from
    model_version: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)  # the incident's version this decision produced


class ResponseRow(Base):
    """The agency's answer; `postback_status` tracks posting it back to the network."""

    __tablename__ = "responses"
    __table_args__ = (_one_of("postback_status", POSTBACK, "postback_status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    postback_status: Mapped[str] = mapped_column(String(16))
    postback_at: Mapped[datetime | None]
    postback_error: Mapped[str | None] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (_one_of("role", ROLES, "role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    agency: Mapped[str | None] = mapped_column(String(32))
    municipality: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


class TokenRow(Base):
    """A bearer token, stored only as its sha256."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A session of the web pages: the browser holds a random id, this row only its sha256; the token
    that opened it (its sha256: a user's token, or the operator's configured one) and the CSRF token
    of its forms. Deleted at logout and when the token is revoked."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


SOURCE_STATUSES = ("ok", "failing", "stopped")


class SourceRow(Base):
    """A monitored source's progress and health. Its cursor is written in the transaction of the posts
    it covers, so that a restart resumes where the last committed page ended."""

    __tablename__ = "sources"
    __table_args__ = (_one_of("status", SOURCE_STATUSES, "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    cursor: Mapped[dict[str, Any] | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    stopped_token: Mapped[str | None] = mapped_column(String(64))  # sha256 of the token the network refused
    fetched: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[int] = mapped_column(BigInteger)
    incidents: Mapped[int] = mapped_column(BigInteger)
    skipped: Mapped[int] = mapped_column(BigInteger)  # malformed items left out
    failures: Mapped[int] = mapped_column(Integer)  # failed runs in a row


class PostbackRow(Base):
    """Attempts at posting a response back to the post's network; `next_at` spaces the retries out."""

    __tablename__ = "postbacks"

    response_id: Mapped[int] = mapped_column(Id, ForeignKey("responses.id"), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime]
    url: Mapped[str | None] = mapped_column(String(2048))  # the answer in the network, once posted


class LeaseRow(Base):
    """A job that only one process may do at a time (the monitoring loop): who does it, until when.
    The holder renews it well before `expires_at`; a holder that died leaves it to expire."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)  # host name, pid and a random suffix of the process
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
