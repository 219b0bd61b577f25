"""Database fixtures: every storage test runs on a SQLite file and on a real PostgreSQL server.

PostgreSQL is reached through ``AI4S_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and
sets it). Without it the PostgreSQL half is skipped locally, and fails under CI, where a
missing server is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage import Database
from storage.db import make_engine

POSTGRES_ENV = "AI4S_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The test PostgreSQL URL, or a skip (locally) / failure (in CI) when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: .ci/run must start PostgreSQL for the storage tests")
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV} (as .ci/run does) to run this test on PostgreSQL")
    return url


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url_any(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    url = postgres_url()
    reset_postgres(url)
    return url


@pytest.fixture
def database(db_url_any: str) -> Iterator[Database]:
    """An open, migrated corpus database on each backend."""
    with Database(db_url_any) as db:
        yield db


__all__ = ["create_engine"]
