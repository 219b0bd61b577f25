"""An exclusive, crash-safe lock per database, so that one daemon runs per corpus.

SQLite: an ``fcntl`` lock on a file beside the database (``corpus.sqlite3.daemon.lock``).
PostgreSQL: a session-level advisory lock held on a dedicated connection. Either is
released by the operating system or the server when the holder dies, even by ``kill -9``:
there is never a stale lock to clear by hand.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import zlib
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

#: The advisory-lock key pair of the daemon on PostgreSQL ("AI4S", 1); other locks use ("AI4S", crc32 of the name).
PG_LOCK_KEYS = (0x41493453, 1)


def _pg_keys(name: str) -> dict[str, int]:
    second = PG_LOCK_KEYS[1] if name == "daemon" else 16 + zlib.crc32(name.encode("utf-8")) % 0x7FFFFFE0
    return {"a": PG_LOCK_KEYS[0], "b": second}


class LockHeld(RuntimeError):
    """Another process holds the lock; the message says which, where known."""


class DatabaseLock:
    """The lock called ``name`` on the database at ``url``: ``acquire()`` or raise :class:`LockHeld`."""

    def __init__(self, url: str, name: str = "daemon") -> None:
        self.url = url
        self.name = name
        self._file: IO[str] | None = None
        self._connection: Any = None
        self._engine: Any = None

    def acquire(self) -> None:
        """Take the lock now, or raise :class:`LockHeld` without waiting."""
        parsed = make_url(self.url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            self._acquire_file(parsed.database)
        elif backend == "postgresql":
            self._acquire_advisory(parsed)
        else:
            raise NotImplementedError(f"no lock for database dialect {backend!r}")

    def _acquire_file(self, database: str | None) -> None:
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot be shared, so it needs no lock")
        path = Path(f"{Path(database).expanduser().resolve()}.{self.name}.lock")  # one file by any path or link
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise LockHeld(f"another ai4s {self.name} is running on this database ({_describe(holder)})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}))
        handle.flush()
        self._file = handle

    def _acquire_advisory(self, parsed: Any) -> None:
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self._engine = create_engine(parsed, poolclass=NullPool)
        connection = self._engine.connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), _pg_keys(self.name))
        if got.scalar():
            connection.commit()
            self._connection = connection
            return
        holder = connection.execute(
            text(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid = :a AND l.objid = :b AND l.granted "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            _pg_keys(self.name),
        ).first()
        connection.close()
        self._engine.dispose()
        where = f"server backend {holder[0]}, client {holder[1]}, since {holder[2]:%Y-%m-%d %H:%M}" if holder else ""
        raise LockHeld(f"another ai4s {self.name} is running on this database ({where or 'holder unknown'})")

    def check(self) -> bool:
        """True while the lock is still held. A PostgreSQL lock lives as long as its connection: if the
        connection was lost, so was the lock, and another daemon may start."""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :a AND objid = :b "
                    "AND pid = pg_backend_pid() AND granted"
                ),
                _pg_keys(self.name),
            ).scalar()
            self._connection.commit()
        except Exception:  # any failure of the lock's connection means the lock is gone
            return False
        return bool(held)  # a reconnected session does not hold it

    def regain(self) -> None:
        """Take the lock again once :meth:`check` found it lost (its connection gone: the database restarted, the
        network dropped): raises :class:`LockHeld` where another process took it meanwhile, and the driver's error
        while the database is out of reach."""
        self.release()
        self.acquire()

    def release(self) -> None:
        """Give the lock up (a no-op if it is not held, or lost with its connection)."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:a, :b)"), _pg_keys(self.name))
                self._connection.commit()
            except SQLAlchemyError:  # the connection is gone (or awaits a rollback), and the lock went with it
                pass
            finally:
                with suppress(SQLAlchemyError):
                    self._connection.close()
                self._connection = None
                self._engine.dispose()

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
