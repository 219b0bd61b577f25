"""The test databases: every storage test runs on a SQLite file and on a real PostgreSQL server.

PostgreSQL is reached through ``AI4S_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and
sets it). Without it the PostgreSQL half is skipped locally, and fails under CI, where a
missing server is a broken set-up, not a reason to skip. The fixtures built on these
(``db_url_any``, ``database``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

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
