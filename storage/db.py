"""Where the corpus lives: database URL resolution, engines, sessions and automatic migration.

The database is a URL (SQLite by default, PostgreSQL at scale). Precedence: an explicit
URL (the ``--db`` flag) over the ``AI4S_DB`` environment variable over a SQLite file in
the user's data directory. A value without ``://`` is a SQLite file when it reads as a path (it holds a
``/`` or ends in ``.sqlite``, ``.sqlite3`` or ``.db``); anything else is refused
(:class:`DatabaseUrlError`), so that a mistyped URL does not quietly become a new file.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from platformdirs import user_data_dir
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

ENV_DB = "AI4S_DB"
APP_NAME = "ai4s-monitor"
#: The database systems the corpus runs on (SQLAlchemy backend names).
BACKENDS = ("sqlite", "postgresql")
#: How a bare value ends when it names a SQLite file.
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
URL_FORMS = "sqlite:///FILE or postgresql://USER@HOST/NAME"


class DatabaseUrlError(ValueError):
    """A database given as something that is neither a supported URL nor a SQLite file path."""


class DatabaseUnavailable(RuntimeError):
    """A database that cannot be opened (refused, unknown, unwritable, not a database): the message says
    which and why."""


class DatabaseTooNew(DatabaseUnavailable):
    """A database whose schema a newer release made: this release does not know its revision, so it can neither
    read it nor migrate it."""


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
    if "://" not in url:
        if "/" not in url and not url.lower().endswith(SQLITE_SUFFIXES):
            raise DatabaseUrlError(
                f"database {url!r} is neither a URL ({URL_FORMS}) nor a SQLite file path "
                f"(a path holds a '/' or ends in {', '.join(SQLITE_SUFFIXES)}: ./{url} for a file here)"
            )
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    check_db_url(url)
    return url


def check_db_url(url: str) -> None:
    """Raise :class:`DatabaseUrlError` unless ``url`` is a URL of a database system the corpus runs on."""
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUrlError(f"database {url!r} is not a database URL ({URL_FORMS})") from None
    if backend not in BACKENDS:
        raise DatabaseUrlError(
            f"database {display_url(url)!r}: {backend!r} is not supported (use {' or '.join(BACKENDS)}: {URL_FORMS})"
        )


def display_url(url: str) -> str:
    """``url`` as it may be shown: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _set_sqlite_pragmas(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """WAL for concurrent readers and one writer, enforced foreign keys, a wait on locks, a larger cache."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: setting the journal mode waits for another writer too
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of page cache: the band index is read at random
    cursor.close()


#: Tries and first pause of the switch of a new SQLite file to WAL while other processes make the same switch.
WAL_SWITCH_TRIES = 40
WAL_SWITCH_PAUSE = 0.01


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (a no-op once it is). Processes that open a new file at the same moment
    all switch it, from the rollback journal it starts in, where SQLite answers "database is locked" at once
    to one of two connections that would otherwise wait for each other (its busy timeout does not apply):
    that one tries again, after a short and growing pause."""
    for attempt in range(WAL_SWITCH_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_SWITCH_TRIES - 1:
                raise
            time.sleep(WAL_SWITCH_PAUSE * min(attempt + 1, 10))


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = DEFAULT_MAX_OVERFLOW) -> Engine:
    """An engine for ``url``; SQLite files get their directory created and WAL mode, PostgreSQL connections
    the session limits of :data:`PG_SESSION_OPTIONS` and a pool of ``pool_size`` + ``max_overflow`` at most."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            if folder.exists() and not folder.is_dir():  # mkdir would say "File exists", which misleads
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
            folder.mkdir(parents=True, exist_ok=True)
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


def _quiet_alembic() -> None:
    """Keep Alembic's INFO lines (one per plugin, the context's DDL mode) out of every command's log."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


def migrate(engine: Engine) -> bool:
    """Bring the schema of ``engine``'s database up to the latest Alembic revision; whether the database
    was new (it had no schema: this created it).

    One process at a time migrates: on PostgreSQL the upgrade runs in one transaction that first takes a
    transaction-level advisory lock, so processes starting together against a fresh database wait for the
    first one, then find the schema at its head and do nothing (on a SQLite file, a file lock).

    The upgrade is one transaction on SQLite too, its schema changes included: a process killed or failing in
    the middle of it leaves the database as it was, and the next opening runs the whole upgrade again."""
    _quiet_alembic()
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    scripts = ScriptDirectory.from_config(config)
    with _one_sqlite_migration_at_a_time(engine), engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _let_tables_be_rebuilt(connection)
        try:
            with connection.begin():
                found = MigrationContext.configure(connection).get_current_revision()
                _check_known(scripts, found, engine)  # refused before the write lock is waited for
                if sqlite and found != scripts.get_current_head():
                    # Python's sqlite3 opens a transaction before data changes only: without this, each schema
                    # change of a migration was committed as it ran, and a kill in the middle left the tables
                    # changed under the old revision, whose migration then failed at every opening ("duplicate
                    # column name"). IMMEDIATE: the write lock is taken (or waited for) now, not midway; only
                    # when there is something to upgrade, so that opening an upgraded file waits for no writer.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SET LOCAL lock_timeout = 0"))  # waiting for another migration is expected
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": MIGRATION_LOCK_KEYS[0], "b": MIGRATION_LOCK_KEYS[1]},
                    )
                current = MigrationContext.configure(connection).get_current_revision()
                _check_known(scripts, current, engine)
                new = current is None
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                _enforce_foreign_keys_again(connection)
    return new


def _check_known(scripts: ScriptDirectory, revision: str | None, engine: Engine) -> None:
    """Raise :class:`DatabaseTooNew` when ``revision``, the schema revision of ``engine``'s database, is none of
    this release's migrations (``scripts``)."""
    if revision is not None and revision not in {script.revision for script in scripts.walk_revisions()}:
        raise DatabaseTooNew(
            f"cannot open the database {display_url(engine.url.render_as_string(hide_password=False))}: its schema"
            f" (revision {revision}) was made by a newer release of ai4s-monitor than this one (which knows revisions"
            f" up to {scripts.get_current_head()}); run that release or a newer one on it"
        )


def _let_tables_be_rebuilt(connection: Connection) -> None:
    """On a SQLite connection, let migrations rebuild tables that others point at (batch mode copies a table,
    drops it and renames the copy): foreign keys are not enforced until :func:`_enforce_foreign_keys_again`. A
    copy left by a migration that failed or was killed midway (SQLite commits a table's creation at once) is
    dropped, so that the migration can run again."""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or SQLite ignores it
    tables = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars().all()
    for name in tables:
        if name.startswith("_alembic_tmp_"):
            logger.warning("dropping %s, left by a migration that did not finish", name)
            connection.exec_driver_sql(f'DROP TABLE "{name}"')
    connection.commit()


def _enforce_foreign_keys_again(connection: Connection) -> None:
    """Enforce foreign keys on the SQLite connection again, and say where the migrations left rows pointing
    nowhere."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    connection.commit()
    if broken:
        logger.warning("after migrating, %d rows point at rows that do not exist, such as %s", len(broken), broken[0])


@contextmanager
def _one_sqlite_migration_at_a_time(engine: Engine) -> Iterator[None]:
    """On a SQLite file, hold an exclusive ``fcntl`` lock on ``FILE.migrate.lock`` (waiting for it) while
    migrating: two processes opening one fresh file at once would both create its tables otherwise."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{Path(database).expanduser().resolve()}.migrate.lock").open("a") as handle:  # by any path or link
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
    """An open corpus database: its engine and a session factory, migrated on opening.

    :attr:`created` says whether this opening made its schema (a new, empty corpus). Raises
    :class:`DatabaseUrlError` for a malformed URL and :class:`DatabaseUnavailable` for a database
    that cannot be reached, created or read.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ) -> None:
        self.url = resolve_db_url(url)
        self.created = False
        with _unavailable(self.url):  # a driver that is not installed, an unwritable folder
            self.engine = make_engine(self.url, pool_size, max_overflow)
        if auto_migrate:
            with _unavailable(self.url, self.engine):  # refused, unknown, unwritable, not a database
                self.created = migrate(self.engine)
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


def probe_database(url: str | None = None) -> tuple[str, bool]:
    """The resolved URL of the database at ``url`` and whether it is new (it has no schema yet), found by
    connecting to it without migrating or changing it; raises as :class:`Database` does."""
    _quiet_alembic()
    from alembic.runtime.migration import MigrationContext

    database = Database(url, auto_migrate=False)
    try:
        with _unavailable(database.url), database.engine.connect() as connection:
            return database.url, MigrationContext.configure(connection).get_current_revision() is None
    finally:
        database.close()


@contextmanager
def _unavailable(url: str, engine: Engine | None = None) -> Iterator[None]:
    """Within the block, a database or system error is a :class:`DatabaseUnavailable` naming ``url`` (and
    ``engine`` is released)."""
    try:
        yield
    except DatabaseUnavailable:  # said already (a database a newer release made)
        if engine is not None:
            engine.dispose()
        raise
    except (DBAPIError, NoSuchModuleError, OSError) as exc:
        if engine is not None:
            engine.dispose()
        raise DatabaseUnavailable(f"cannot open the database {display_url(url)}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """The first line of what the driver or the system said about ``exc``."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        said = str(exc.orig)
    elif isinstance(exc, OSError) and exc.strerror:
        said = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        said = str(exc)
    return said.strip().splitlines()[0] if said.strip() else type(exc).__name__
