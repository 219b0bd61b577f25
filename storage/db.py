"""Where the corpus lives: database URL resolution, engines, sessions and automatic migration.

The database is a URL (SQLite by default, PostgreSQL at scale). Precedence: an explicit
URL (the ``--db`` flag) over the ``AI4S_DB`` environment variable over a SQLite file in
the user's data directory.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

ENV_DB = "AI4S_DB"
APP_NAME = "ai4s-monitor"

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

#: Set on every PostgreSQL connection of the project's engines. A process stalled inside a transaction (stopped,
#: swapping, stuck in a loop) is cut off after a minute, so it cannot hold the story lock or row locks for long;
#: a statement waits at most a minute for a lock (the story lock included) and fails instead, to be tried again.
PG_SESSION_OPTIONS = "-c idle_in_transaction_session_timeout=60s -c lock_timeout=60s"

#: The advisory-lock keys that let one process at a time migrate a PostgreSQL database ("AI4S", 3).
MIGRATION_LOCK_KEYS = (0x41493453, 3)

#: The connection budget of a process by default (the daemon, the CLI): pooled connections kept, and extra ones
#: opened for a burst; a process never has more than their sum open on the engine.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 5

#: SQLSTATEs of a transaction PostgreSQL rolled back because of another one, which succeeds when run again:
#: a deadlock, a serialization failure, and a lock not granted within ``lock_timeout``.
RETRIABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


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


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = DEFAULT_MAX_OVERFLOW) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and WAL mode, PostgreSQL connections
    the session limits of :data:`PG_SESSION_OPTIONS` and a pool of ``pool_size`` + ``max_overflow`` at most."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # the URL's own ?options=... come after ours, so an operator's setting wins
        connect_args={"options": f"{PG_SESSION_OPTIONS} {parsed.query.get('options', '')}".strip()},
    )


def migrate(engine: Engine) -> None:
    """Bring the schema of ``engine``'s database up to the latest Alembic revision.

    On PostgreSQL one process at a time migrates: the upgrade runs in one transaction that first takes a
    transaction-level advisory lock, so processes starting together against a fresh database wait for the
    first one, then find the schema at its head and do nothing."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin otherwise, on every start
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _one_sqlite_migration_at_a_time(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL lock_timeout = 0"))  # waiting for another migration is expected
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": MIGRATION_LOCK_KEYS[0], "b": MIGRATION_LOCK_KEYS[1]}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _one_sqlite_migration_at_a_time(engine: Engine) -> Iterator[None]:
    """On a SQLite file, hold an exclusive ``fcntl`` lock on ``FILE.migrate.lock`` (waiting for it) while
    migrating: two processes opening one fresh file at once would both create its tables otherwise."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{Path(database).expanduser()}.migrate.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_retriable(error: BaseException) -> bool:
    """Whether ``error`` is a transaction the database rolled back because of another one (see
    :data:`RETRIABLE_SQLSTATES`): the same work, run again, succeeds."""
    if not isinstance(error, DBAPIError):
        return False
    return getattr(error.orig, "sqlstate", None) in RETRIABLE_SQLSTATES


class Database:
    """An open corpus database: its engine and a session factory, migrated on opening."""

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        self.url = resolve_db_url(url)
        self.engine = make_engine(self.url, pool_size, max_overflow)
        if auto_migrate:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """A new session; use ``with db.session() as s, s.begin():`` to own the transaction."""
        return self.sessions()

    def transaction(self, work: Callable[[Session], Result], attempts: int = 5) -> Result:
        """``work(session)`` in one transaction, committed; run again (after a short random pause) when the
        database rolled it back for a deadlock, a serialization failure or a lock timeout, up to ``attempts``
        times. ``work`` must be safe to run again: what it did to the database was rolled back."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session, session.begin():
                    return work(session)
            except DBAPIError as error:
                if attempt == attempts or not is_retriable(error):
                    raise
                pause = random.uniform(0.05, 0.2) * 2 ** (attempt - 1)  # apart, so the two do not meet again
                logger.warning("Transaction rolled back (%s); trying again in %.2f s", error.orig, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
