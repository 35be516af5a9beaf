"""Alembic environment: run by `serving.store.schema.upgrade` with an open connection (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from serving.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through serving.store.schema.upgrade (or `otklik db upgrade`)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
