"""Opening a corpus database: URL resolution, automatic migration, SQLite settings."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
import warnings
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from storage import Database, resolve_db_url
from storage.db import (
    DatabaseTooNew,
    DatabaseUnavailable,
    DatabaseUrlError,
    default_db_url,
    make_engine,
    probe_database,
)
from storage.searchtext import indexed_body


def test_flag_overrides_environment_which_overrides_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI4S_DB", "sqlite:////tmp/from-env.sqlite3")
    assert resolve_db_url("sqlite:////tmp/from-flag.sqlite3") == "sqlite:////tmp/from-flag.sqlite3"
    assert resolve_db_url(None) == "sqlite:////tmp/from-env.sqlite3"
    monkeypatch.delenv("AI4S_DB")
    assert resolve_db_url(None) == default_db_url()
    assert default_db_url().startswith("sqlite:///") and default_db_url().endswith("corpus.sqlite3")


def test_bare_path_is_a_sqlite_file(tmp_path: Path) -> None:
    assert resolve_db_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-a-url", r"'not-a-url' is neither a URL .* nor a SQLite file path .*\./not-a-url for a file here"),
        ("foo://x", r"'foo://x': 'foo' is not supported \(use sqlite or postgresql"),
        ("mysql://user:secret@host/db", r"'mysql://user:\*\*\*@host/db': 'mysql' is not supported"),
        ("postgresql://host:port/db", r"'postgresql://host:port/db' is not a database URL"),
        ("://x", r"'://x' is not a database URL"),
    ],
)
def test_a_value_that_is_no_database_url_nor_a_file_path_is_refused(value: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        resolve_db_url(value)


def test_a_path_without_a_folder_is_a_file_when_it_ends_like_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url("corpus.sqlite3") == f"sqlite:///{tmp_path / 'corpus.sqlite3'}"


def test_opening_says_whether_it_created_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    with Database(url) as first:
        assert first.created
    with Database(url) as again:
        assert not again.created


def test_a_probe_says_whether_the_database_is_new_without_migrating_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'probed.sqlite3'}"
    assert probe_database(url) == (url, True)
    assert probe_database(url) == (url, True)  # the probe made no schema
    Database(url).close()
    assert probe_database(url) == (url, False)
    with pytest.raises(DatabaseUnavailable, match="Connection refused"):
        probe_database("postgresql://postgres@127.0.0.1:1/nothing")


def test_a_database_that_cannot_be_opened_is_named_with_the_reason(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("Notes, neither a folder nor a SQLite database.\n" * 4, encoding="utf-8")
    with pytest.raises(
        DatabaseUnavailable, match=rf"cannot open the database sqlite:///{not_a_folder}/c.db: Not a dir"
    ):
        Database(f"sqlite:///{not_a_folder}/c.db")
    with pytest.raises(DatabaseUnavailable, match=rf"cannot open the database sqlite:///{not_a_folder}: file is not a"):
        Database(f"sqlite:///{not_a_folder}")
    with pytest.raises(DatabaseUnavailable, match="Connection refused"):
        Database("postgresql://postgres@127.0.0.1:1/nothing")


def test_a_database_a_newer_release_made_is_refused_with_what_to_do(db_url_any: str) -> None:
    """A corpus whose schema is at a revision this release does not know (a newer release migrated it) is refused
    with a message, and left as it is. Alembic's "Can't locate revision identified by '0099'" went up to every
    command as a traceback."""
    Database(db_url_any).close()
    engine = make_engine(db_url_any)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(DatabaseTooNew, match=r"\(revision 0099\) was made by a newer release of ai4s-monitor"):
        Database(db_url_any)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0099"
    engine.dispose()


def test_opening_an_upgraded_sqlite_file_waits_for_no_writer(tmp_path: Path) -> None:
    """The upgrade takes the file's write lock, and only when there is something to upgrade: opening a corpus at
    the latest revision while a crawl holds the lock (a long transaction) goes on at once."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    Database(url).close()
    writer = sqlite3.connect(tmp_path / "corpus.sqlite3", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        Database(url).close()
        assert time.monotonic() - started < 10  # the busy timeout is 30 s
    finally:
        writer.close()


def test_a_sqlite_file_a_newer_release_made_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """The upgrade waited for the write lock before it looked at the revision: an older release opening a file a
    newer one migrated, while a crawl of the newer one wrote, said "database is locked" after 30 s."""
    url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    Database(url).close()
    writer = sqlite3.connect(tmp_path / "corpus.sqlite3", isolation_level=None)
    try:
        writer.execute("UPDATE alembic_version SET version_num = '0099'")
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(DatabaseTooNew):
            Database(url)
        assert time.monotonic() - started < 10  # the busy timeout is 30 s
    finally:
        writer.close()


def test_first_use_creates_the_schema_at_the_latest_migration(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert {"sources", "articles", "fetched_urls", "crawl_runs", "crawl_run_sources", "alembic_version"} <= tables
    with database.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__import__("storage").__file__).parent / "migrations"))
    assert version == ScriptDirectory.from_config(config).get_current_head()


def test_reopening_a_migrated_database_keeps_its_rows(db_url_any: str) -> None:
    from storage.repository import ensure_source

    with Database(db_url_any) as first, first.session() as session, session.begin():
        ensure_source(session, "kept")
    with Database(db_url_any) as second, second.session() as session:
        assert session.execute(text("SELECT name FROM sources")).scalars().all() == ["kept"]


def test_sqlite_file_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'sub' / 'c.sqlite3'}") as db, db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert (tmp_path / "sub" / "c.sqlite3").is_file()


def test_a_database_made_by_an_older_release_is_upgraded_with_its_rows(db_url_any: str) -> None:
    """A corpus at the first schema revision keeps its articles when a newer release opens it."""
    from alembic import command
    from alembic.config import Config

    from storage.db import make_engine

    engine = make_engine(db_url_any)
    config = Config()
    config.set_main_option("script_location", str(Path(__import__("storage").__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text("INSERT INTO sources (name, created_at) VALUES ('old', CURRENT_TIMESTAMP)"))
        connection.execute(
            text(
                "INSERT INTO articles (source_id, url, canonical_url, url_hash, title, text, content_hash, "
                "first_seen, last_seen) VALUES (1, 'http://a/1', 'http://a/1', 'h1', 't', 'body', 'c1', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    with Database(db_url_any) as upgraded, upgraded.engine.connect() as connection:
        row = connection.execute(text("SELECT url, text, relevance, relevant FROM articles")).one()
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert (row.url, row.text, row.relevance, bool(row.relevant)) == ("http://a/1", "body", None, True)
    assert version != "0001"
    with Database(db_url_any) as upgraded, upgraded.engine.connect() as connection:
        indexed = connection.execute(text("SELECT article_id, title, body FROM article_search")).all()
    assert [tuple(row) for row in indexed] == [(1, *indexed_body("t", "body"))]  # the old article is searchable


def _connect_at_once(url: str, barrier: Barrier, errors: Queue[str]) -> None:
    """Connect to ``url`` when every process of ``barrier`` is ready, and put any error on ``errors``."""
    engine = make_engine(url)
    barrier.wait()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - the test reports whatever the connection raised
        errors.put(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def test_processes_opening_a_new_sqlite_file_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    """Two crawls started together on a new file both switch it to WAL: SQLite refuses one of two at once
    ("database is locked", with no busy wait) where they would wait for each other; the refused one tries again.
    Without that, about one try in twenty of six processes failed here."""
    context = multiprocessing.get_context("fork")  # fast to start, so that the six really meet
    errors: Queue[str] = context.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns about fork in a threaded process
        for attempt in range(100):
            url = f"sqlite:///{tmp_path / f'new-{attempt}.sqlite3'}"
            barrier = context.Barrier(6)
            processes = [context.Process(target=_connect_at_once, args=(url, barrier, errors)) for _ in range(6)]
            for process in processes:
                process.start()
            for process in processes:
                process.join(timeout=60)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
