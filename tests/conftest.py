"""Shared pytest fixtures: the test corpus, the local news web, a sources file and the test databases.

The test corpus (real news pages with ground truth) lives outside the project, in
``../shared/corpus`` next to the project root, or wherever ``AI4S_TEST_CORPUS`` points. It is
only read, never copied; tests that need it are skipped, with the reason, when it is absent.

The whole test session is kept off the internet: a guard refuses every TCP/UDP connection
from this process to an address outside loopback (set ``AI4S_TEST_ALLOW_NETWORK=1`` to lift it).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Database
from tests.databases import postgres_url, reset_postgres
from tests.localweb import NewsWeb

#: Where the corpus is looked for unless ``AI4S_TEST_CORPUS`` says otherwise.
DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def find_corpus_dir() -> Path | None:
    """The test corpus directory (``$AI4S_TEST_CORPUS`` or ``../shared/corpus``), or ``None`` if it is absent."""
    path = Path(os.environ.get("AI4S_TEST_CORPUS") or DEFAULT_CORPUS_DIR).expanduser()
    return path.resolve() if (path / "index.jsonl").is_file() else None


def _is_loopback(address: object) -> bool:
    """Whether a socket address tuple names a loopback host (anything else is refused)."""
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = str(address[0]).split("%", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it would need a lookup, which we do not let through


@pytest.fixture(scope="session", autouse=True)
def _no_internet() -> Iterator[None]:
    """Refuse, for the whole session, every socket connection to a non-loopback address."""
    if os.environ.get("AI4S_TEST_ALLOW_NETWORK") == "1":
        yield
        return
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise OSError(errno.ENETUNREACH, f"tests may not reach the internet (connect to {address!r})")
        return original_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            return errno.ENETUNREACH
        return original_connect_ex(self, address)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The test corpus directory; skips the test if the corpus is not there."""
    path = find_corpus_dir()
    if path is None:
        where = os.environ.get("AI4S_TEST_CORPUS") or str(DEFAULT_CORPUS_DIR)
        pytest.skip(
            f"test corpus ../shared/corpus not found: no index.jsonl in {where} "
            "(set AI4S_TEST_CORPUS to the corpus directory)"
        )
    return path


@pytest.fixture
def news_web(corpus_dir: Path) -> Iterator[NewsWeb]:
    """A started :class:`~tests.localweb.NewsWeb` (seed 0), stopped after the test."""
    web = NewsWeb.build(corpus_dir, seed=0)
    with web:
        yield web


@pytest.fixture
def sources_file(tmp_path: Path, news_web: NewsWeb) -> Path:
    """A sources file (TOML) with one source per site of ``news_web``."""
    path = tmp_path / "sources.toml"
    path.write_text(news_web.sources_toml(), encoding="utf-8")
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a fresh SQLite database file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'test.db'}"


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
    """An open, migrated corpus database on each backend: a SQLite file, then the test PostgreSQL database."""
    with Database(db_url_any) as db:
        yield db
