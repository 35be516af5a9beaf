"""The initial schema: posts, predictions, incidents, reposts, the decisions audit log, responses,
users and tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in tables.py: a migration must not change when the code does.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)
APPEND_ONLY = "decisions is an append-only audit log: rows cannot be updated or deleted"


def key() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True)


def one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=op.f(name))


def upgrade() -> None:
    op.create_table(
        "posts",
        key(),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("author", sa.String(256)),
        sa.Column("url", sa.String(2048)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", TIME, nullable=False),
        sa.Column("raw", JSON),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("network", "external_id", name=op.f("uq_posts_network_external_id")),
    )
    op.create_index(op.f("ix_posts_text_hash"), "posts", ["text_hash"])

    op.create_table(
        "predictions",
        key(),
        sa.Column("post_id", ID, sa.ForeignKey("posts.id", name=op.f("fk_predictions_post_id_posts")),
                  nullable=False),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("prediction", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    op.create_index(op.f("ix_predictions_post_id"), "predictions", ["post_id"])

    op.create_table(
        "incidents",
        key(),
        sa.Column("post_id", ID, sa.ForeignKey("posts.id", name=op.f("fk_incidents_post_id_posts")),
                  nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("registered_at", TIME, nullable=False),
        sa.Column("deadline", TIME, nullable=False),
        sa.Column("suggested_relevant", sa.Boolean(), nullable=False),
        sa.Column("suggested_topic", sa.String(32), nullable=False),
        sa.Column("suggested_agency", sa.String(32), nullable=False),
        sa.Column("suggested_body", sa.Text(), nullable=False),
        sa.Column("suggested_municipality", sa.String(16)),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("final_topic", sa.String(32)),
        sa.Column("final_agency", sa.String(32)),
        sa.Column("final_municipality", sa.String(16)),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("agency", sa.String(32), nullable=False),
        sa.Column("municipality", sa.String(16)),
        sa.Column("answered_at", TIME),
        sa.Column("sla_met", sa.Boolean()),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("post_id", name=op.f("uq_incidents_post_id")),
        one_of("status", ("new", "routed", "answered", "dismissed"), "ck_incidents_status"),
    )
    for columns in (
        ["status", "deadline", "id"],
        ["region", "status", "deadline", "id"],
        ["deadline", "id"],
        ["status", "uncertainty", "id"],
        ["topic", "deadline", "id"],
        ["agency", "deadline", "id"],
        ["municipality", "deadline", "id"],
    ):
        op.create_index(op.f(f"ix_incidents_{'_'.join(columns)}"), "incidents", columns)

    op.create_table(
        "reposts",
        sa.Column("post_id", ID, sa.ForeignKey("posts.id", name=op.f("fk_reposts_post_id_posts")),
                  nullable=False),
        sa.Column("incident_id", ID,
                  sa.ForeignKey("incidents.id", name=op.f("fk_reposts_incident_id_incidents")), nullable=False),
        sa.Column("attached_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_reposts")),
    )
    op.create_index(op.f("ix_reposts_incident_id"), "reposts", ["incident_id"])

    op.create_table(
        "decisions",
        key(),
        sa.Column("incident_id", ID,
                  sa.ForeignKey("incidents.id", name=op.f("fk_decisions_incident_id_incidents")), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old_labels", JSON, nullable=False),
        sa.Column("new_labels", JSON, nullable=False),
        sa.Column("corrected", JSON, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        one_of("action", ("accept", "correct", "dismiss", "reassign", "respond"), "ck_decisions_action"),
    )
    op.create_index(op.f("ix_decisions_incident_id"), "decisions", ["incident_id"])
    forbid_changes("decisions")

    op.create_table(
        "responses",
        key(),
        sa.Column("incident_id", ID,
                  sa.ForeignKey("incidents.id", name=op.f("fk_responses_incident_id_incidents")), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(2048)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("postback_status", sa.String(16), nullable=False),
        sa.Column("postback_at", TIME),
        sa.Column("postback_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        one_of("postback_status", ("pending", "posted", "failed", "skipped"), "ck_responses_postback_status"),
    )
    op.create_index(op.f("ix_responses_incident_id"), "responses", ["incident_id"])

    op.create_table(
        "users",
        key(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64)),
        sa.Column("agency", sa.String(32)),
        sa.Column("municipality", sa.String(16)),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        one_of("role", ("admin", "agency", "supervisor", "ml"), "ck_users_role"),
    )

    op.create_table(
        "tokens",
        key(),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", name=op.f("fk_tokens_user_id_users")), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_index(op.f("ix_tokens_user_id"), "tokens", ["user_id"])


def forbid_changes(table: str) -> None:
    """Triggers that refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of `table`."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER decisions_no_truncate ON decisions")
        op.execute("DROP TRIGGER decisions_append_only ON decisions")
        op.execute("DROP FUNCTION decisions_append_only()")
    for table in ("tokens", "users", "responses", "decisions", "reposts", "incidents", "predictions", "posts"):
        op.drop_table(table)
