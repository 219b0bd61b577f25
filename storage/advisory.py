"""PostgreSQL advisory locks that make many crawl processes, on several machines, safe on one database.

A crawl holds the locks of its sources and of their hosts on one connection of its own, for its whole life.
They are session-level locks: the server releases them when that connection ends, so a crawl process that
dies (``kill -9``, a lost machine: the server's TCP keepalives below notice a silent peer) leaves nothing to
clear by hand, whoever started it (the CLI, the daemon, a cluster worker).

The key space of the project's advisory locks on one database:

- two ``int4`` keys, the first ``0x41493453`` ("AI4S"): ``1`` the daemon (:mod:`storage.lock`), ``2`` story
  assignment (:mod:`storage.stories`), ``3`` schema migrations (:mod:`storage.db`), ``16`` and up the other named
  :class:`storage.lock.DatabaseLock` locks;
- one ``bigint`` key (a lock space of its own in PostgreSQL): the locks of this module, the first eight bytes of
  the SHA-256 of ``ai4s/source/NAME`` or ``ai4s/host/HOST``, read as a signed integer. Sixty-four bits make a
  collision between two sources or hosts negligible (about one in 10^9 for a million names).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

#: Lock kinds of this module: one crawl per source in the cluster, one per host.
SOURCE = "source"
HOST = "host"

#: TCP keepalives asked of the server for the lock connection: a crawl on a machine that vanished without closing
#: its connection loses its locks after about idle + interval × count seconds (two minutes), not hours.
LOCK_CONNECTION_OPTIONS = "-c tcp_keepalives_idle=60 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=6"


def advisory_key(kind: str, name: str) -> int:
    """The ``bigint`` advisory-lock key of the ``kind`` lock (:data:`SOURCE` or :data:`HOST`) called ``name``."""
    digest = hashlib.sha256(f"ai4s/{kind}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def supports_advisory_locks(url: str) -> bool:
    """Whether the database at ``url`` has advisory locks (PostgreSQL; a SQLite file is one machine's)."""
    return make_url(url).get_backend_name() == "postgresql"


class AdvisoryLocks:
    """Session-level advisory locks held on one dedicated PostgreSQL connection, until :meth:`close` or the
    process's death. Taking one never waits: :meth:`try_lock` says whether it was free."""

    def __init__(self, url: str, application_name: str = "ai4s crawl") -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self._engine = create_engine(
            parsed,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # never idle in a transaction: the locks outlive every statement
            connect_args={"application_name": application_name, "options": LOCK_CONNECTION_OPTIONS},
        )
        self._connection: Connection | None = self._engine.connect()
        self.held: set[tuple[str, str]] = set()

    def _live(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the advisory locks are closed")
        return self._connection

    def try_lock(self, kind: str, name: str) -> bool:
        """Take the ``kind`` lock called ``name`` if it is free (or already ours); whether this process holds it."""
        if (kind, name) in self.held:
            return True
        got = self._live().execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(kind, name)})
        if got.scalar():
            self.held.add((kind, name))
            return True
        return False

    def unlock(self, kind: str, name: str) -> None:
        """Give up the ``kind`` lock called ``name`` (a no-op if this process does not hold it)."""
        if (kind, name) in self.held:
            self._live().execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(kind, name)})
            self.held.discard((kind, name))

    def holder(self, kind: str, name: str) -> str | None:
        """Who holds the ``kind`` lock called ``name``: its server backend, client and since when (``None``: free)."""
        key = advisory_key(kind, name)
        row = (
            self._live()
            .execute(
                text(
                    "SELECT a.pid, a.client_addr, a.application_name, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
                    "AND l.granted AND l.classid = :high AND l.objid = :low "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},  # how pg_locks shows a bigint key
            )
            .first()
        )
        if row is None:
            return None
        return f"server backend {row[0]}, client {row[1] or 'local'} ({row[2]}), since {row[3]:%Y-%m-%d %H:%M:%S}"

    def close(self) -> None:
        """Release every lock (by closing the connection that holds them)."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None
                self.held.clear()
                self._engine.dispose()

    def __enter__(self) -> AdvisoryLocks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
