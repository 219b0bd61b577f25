"""Where the corpus lives: database URL resolution, engines, sessions and automatic migration.

The database is a URL (SQLite by default, PostgreSQL at scale). Precedence: an explicit
URL (the ``--db`` flag) over the ``AI4S_DB`` environment variable over a SQLite file in
the user's data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_DB = "AI4S_DB"
APP_NAME = "ai4s-monitor"


def default_db_url() -> str:
    """The default database: ``corpus.sqlite3`` in the user's data directory."""
    return f"sqlite:///{Path(user_data_dir(APP_NAME)) / 'corpus.sqlite3'}"


def resolve_db_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The database URL to use: ``explicit``, else ``$AI4S_DB`` (of ``environ``, default the
    process environment), else the default file."""
    env = os.environ if environ is None else environ
    url = explicit or env.get(ENV_DB) or default_db_url()
    if "://" not in url:  # a bare path is taken as a SQLite file
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def _set_sqlite_pragmas(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """WAL for concurrent readers and one writer, enforced foreign keys, a wait on locks, a larger cache."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of page cache: the band index is read at random
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and WAL mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema of ``engine``'s database up to the latest Alembic revision."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin otherwise, on every start
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An open corpus database: its engine and a session factory, migrated on opening."""

    def __init__(self, url: str | None = None, *, auto_migrate: bool = True) -> None:
        self.url = resolve_db_url(url)
        self.engine = make_engine(self.url)
        if auto_migrate:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """A new session; use ``with db.session() as s, s.begin():`` to own the transaction."""
        return self.sessions()

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
