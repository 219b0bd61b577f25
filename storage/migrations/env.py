"""Alembic environment: runs migrations on the connection handed in by :func:`storage.db.migrate`,
or on ``sqlalchemy.url`` / ``$AI4S_DB`` when Alembic is run from the command line."""

from __future__ import annotations

from alembic import context

from storage.db import make_engine, resolve_db_url
from storage.models import Base
from storage.search import include_in_schema_comparison

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the migrations on a live connection (batch mode, so SQLite can alter tables)."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(resolve_db_url(config.get_main_option("sqlalchemy.url")))
        with engine.begin() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_in_schema_comparison,  # the search index is the migrations' own
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
