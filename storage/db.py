"""Where the corpus lives: database URL resolution, engines, sessions and automatic migration.

The database is a URL (SQLite by default, PostgreSQL at scale). Precedence: an explicit
URL (the ``--db`` flag) over the ``AI4S_DB`` environment variable over a SQLite file in
the user's data directory. A value without ``://`` is a SQLite file when it reads as a path (it holds a
``/`` or ends in ``.sqlite``, ``.sqlite3`` or ``.db``); anything else is refused
(:class:`DatabaseUrlError`), so that a mistyped URL does not quietly become a new file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

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
            folder = Path(parsed.database).expanduser().parent
            if folder.exists() and not folder.is_dir():  # mkdir would say "File exists", which misleads
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
            folder.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> bool:
    """Bring the schema of ``engine``'s database up to the latest Alembic revision; whether the database
    was new (it had no schema: this created it)."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per plugin otherwise, on every start
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        new = MigrationContext.configure(connection).get_current_revision() is None
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return new


class Database:
    """An open corpus database: its engine and a session factory, migrated on opening.

    :attr:`created` says whether this opening made its schema (a new, empty corpus). Raises
    :class:`DatabaseUrlError` for a malformed URL and :class:`DatabaseUnavailable` for a database
    that cannot be reached, created or read.
    """

    def __init__(self, url: str | None = None, *, auto_migrate: bool = True) -> None:
        self.url = resolve_db_url(url)
        self.created = False
        with _unavailable(self.url):  # a driver that is not installed, an unwritable folder
            self.engine = make_engine(self.url)
        if auto_migrate:
            with _unavailable(self.url, self.engine):  # refused, unknown, unwritable, not a database
                self.created = migrate(self.engine)
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


def probe_database(url: str | None = None) -> tuple[str, bool]:
    """The resolved URL of the database at ``url`` and whether it is new (it has no schema yet), found by
    connecting to it without migrating or changing it; raises as :class:`Database` does."""
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
