"""Many processes on one PostgreSQL: the advisory locks of crawls (storage.advisory), migrations run by one
process at a time, and transactions run again after a deadlock (storage.db)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import Database
from storage.advisory import HOST, SOURCE, AdvisoryLocks, advisory_key
from storage.db import make_engine
from tests.databases import postgres_url, reset_postgres
from tests.storage.test_migrations import head_revision

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url() -> str:
    """A fresh, empty PostgreSQL database URL (advisory locks exist on PostgreSQL only)."""
    url = postgres_url()
    reset_postgres(url)
    return url


def test_keys_are_stable_and_kinds_apart() -> None:
    assert advisory_key(SOURCE, "nature") == advisory_key(SOURCE, "nature")
    assert advisory_key(SOURCE, "nature") != advisory_key(HOST, "nature")
    assert -(2**63) <= advisory_key(HOST, "www.nature.com") < 2**63


def test_a_lock_is_one_holders_until_released(pg_url: str) -> None:
    with AdvisoryLocks(pg_url) as first, AdvisoryLocks(pg_url) as second:
        assert first.try_lock(SOURCE, "nature")
        assert first.try_lock(SOURCE, "nature")  # again: still ours, not a second hold
        assert not second.try_lock(SOURCE, "nature")
        assert second.try_lock(SOURCE, "science")
        holder = second.holder(SOURCE, "nature")
        assert holder is not None and "ai4s crawl" in holder
        assert second.holder(HOST, "nature") is None
        first.unlock(SOURCE, "nature")
        assert second.try_lock(SOURCE, "nature")
    with AdvisoryLocks(pg_url) as third:  # closing released everything
        assert third.try_lock(SOURCE, "nature") and third.try_lock(SOURCE, "science")


def test_a_killed_holders_locks_are_released(pg_url: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from storage.advisory import AdvisoryLocks\n"
            "locks = AdvisoryLocks(sys.argv[1])\n"
            "assert locks.try_lock('host', 'example.org')\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            pg_url,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with AdvisoryLocks(pg_url) as locks:
            assert not locks.try_lock(HOST, "example.org")
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=60)
            # the server ends the backend of a client that is gone; wait for it, however long it takes here
            engine = make_engine(pg_url)
            with engine.connect() as connection:
                while connection.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted")
                ).scalar():
                    connection.execute(text("SELECT pg_sleep(0.1)"))
                    connection.commit()
            engine.dispose()
            assert locks.try_lock(HOST, "example.org")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_processes_migrating_one_fresh_database_at_once_all_succeed(pg_url: str) -> None:
    script = "import sys\nfrom storage import Database\nDatabase(sys.argv[1]).close()\nprint('migrated')\n"
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, pg_url],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        for _ in range(4)
    ]
    outputs = [starter.communicate(timeout=300) for starter in starters]
    for starter, (out, err) in zip(starters, outputs, strict=True):
        assert starter.returncode == 0, err
        assert out.strip() == "migrated"
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
        assert connection.execute(text("SELECT count(*) FROM url_claims")).scalar() == 0
    engine.dispose()


def test_a_deadlocked_transaction_is_run_again(pg_url: str) -> None:
    with Database(pg_url) as database:
        with database.session() as session, session.begin():
            session.execute(text("CREATE TABLE pair (id int primary key, value int)"))
            session.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        both_hold_one = threading.Barrier(2)
        attempts: list[int] = []

        def update(first: int, second: int) -> None:
            def work(session: object) -> None:
                attempts.append(first)
                session.execute(text("UPDATE pair SET value = value + 1 WHERE id = :id"), {"id": first})  # type: ignore[attr-defined]
                if len(attempts) <= 2:  # the first try of each: meet with the other, each holding one row
                    both_hold_one.wait(timeout=60)
                session.execute(text("UPDATE pair SET value = value + 1 WHERE id = :id"), {"id": second})  # type: ignore[attr-defined]

            database.transaction(work)

        threads = [threading.Thread(target=update, args=pair) for pair in ((1, 2), (2, 1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with database.session() as session:
            values = session.execute(text("SELECT value FROM pair ORDER BY id")).scalars().all()
        assert values == [2, 2]  # both transactions committed, one of them on its second try
        assert len(attempts) == 3
