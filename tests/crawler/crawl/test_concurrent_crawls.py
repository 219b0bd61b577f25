"""Many crawl processes at once on one database, as cluster workers run them (no broker needed to test it):
one crawl per source in the whole cluster, one at a time per host, an article two sources link fetched once,
and the locks of a killed crawl released.

Each crawl is its own ``python -m crawler crawl`` process, sent with its own User-Agent so the sites' request
logs tell the crawls apart. The sites (127.0.6.x) hold a crawl's feed until the test lets it go, so that two
crawls overlap for certain, whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select, text

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from storage import Database
from storage.db import make_engine
from storage.models import Article, CrawlRun, RunStatus
from tests.crawler.support import PROJECT_ROOT, article_html
from tests.databases import postgres_url, reset_postgres

#: The loopback addresses of this module's sites.
SHARED_HOST = "127.0.6.1"  # two sources on one host: alpha and beta
GAMMA_HOST = "127.0.6.2"  # a source of its own
#: A generous bound on anything a test waits for (a crawl, a request to arrive): not a speed assertion.
PATIENCE = 240.0
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AI4S_EXTRACT_WORKERS=1"]


@dataclass(frozen=True)
class Served:
    """One request a site answered: which crawl sent it (its User-Agent), the path, when it came and went."""

    agent: str
    path: str
    arrived: float
    answered: float


@dataclass
class ClusterWeb:
    """The sites, their request log, and a gate per feed that holds its answer until the test opens it."""

    shared: LocalSite
    gamma: LocalSite
    served: list[Served] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, path: str | None = None, agent: str | None = None) -> list[Served]:
        """The requests answered, of ``path`` and of the crawl ``agent`` when given."""
        with self.lock:
            return [s for s in self.served if (path is None or s.path == path) and (agent is None or s.agent == agent)]

    def arrivals(self, path: str) -> int:
        """How many requests of ``path`` arrived (answered or not yet)."""
        with self.lock:
            return sum(1 for p in self.arrived if p == path)


def _feed(site: LocalSite, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link></item>" for p in paths)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()


def _serve(web: ClusterWeb, site: LocalSite, path: str, reply: Reply, gate: str | None = None, pause: float = 0.0):  # type: ignore[no-untyped-def]
    """A route handler that logs the request with its crawl, waits at ``gate`` (if any), and answers."""

    def handle(record: RequestRecord) -> Reply:
        with web.lock:
            web.arrived.append(path)
        arrived = time.time()
        if gate is not None:
            web.gates[gate].wait(PATIENCE)
        if pause:
            time.sleep(pause)  # a slow page, so that a crawl lasts
        with web.lock:
            web.served.append(Served(record.headers.get("User-Agent", "?"), path, arrived, time.time()))
        return reply

    site.add(path, handle)


ARTICLES = {name: [f"/{name}/{i}.html" for i in range(3)] for name in ("alpha", "beta", "gamma")}
WIRE = "/wire/1.html"  # linked by both alpha and beta


@pytest.fixture
def web() -> Iterator[ClusterWeb]:
    """The sites on 127.0.6.x, started; every feed's gate open unless a test closes it."""
    web = ClusterWeb(LocalSite("shared", SHARED_HOST), LocalSite("gamma", GAMMA_HOST))
    for name, site in (("alpha", web.shared), ("beta", web.shared), ("gamma", web.gamma)):
        web.gates[name] = threading.Event()
        web.gates[name].set()
        linked = ARTICLES[name] + ([WIRE] if name != "gamma" else [])
        _serve(
            web, site, f"/{name}.xml", Reply(200, _feed(site, linked), {"Content-Type": "application/rss+xml"}), name
        )
        for path in ARTICLES[name]:
            _serve(web, site, path, html_reply(article_html(f"{name} story {path}")), pause=0.2)
    _serve(web, web.shared, WIRE, html_reply(article_html("The wire story both sources link")), pause=1.0)
    for site in (web.shared, web.gamma):
        _serve(web, site, "/robots.txt", Reply(404, b"", {"Content-Type": "text/plain"}))
    with web.shared, web.gamma:
        yield web


@pytest.fixture
def sources(tmp_path: Path, web: ClusterWeb) -> Path:
    """A sources file: alpha and beta on the shared host, gamma on its own."""
    blocks = [
        f'[[source]]\nname = "{name}"\nfeeds = ["{site.url(f"/{name}.xml")}"]\nmax_depth = 1\n'
        for name, site in (("alpha", web.shared), ("beta", web.shared), ("gamma", web.gamma))
    ]
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@pytest.fixture
def pg_url() -> str:
    """A fresh PostgreSQL database (the cluster-wide locks exist on PostgreSQL only)."""
    url = postgres_url()
    reset_postgres(url)
    return url


def start_crawl(sources: Path, db_url: str, source: str, agent: str, log: Path) -> subprocess.Popen[str]:
    """``ai4s crawl --source SOURCE`` in a process of its own, its requests sent as ``agent``."""
    args = ["crawl", "--sources", str(sources), "--source", source, "--db", db_url, "--log-level", "INFO"]
    args += ["--log-file", str(log), "-s", f"USER_AGENT={agent}", *FAST]
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its extraction processes go with it when the test kills the group
    )


def finish(crawl: subprocess.Popen[str]) -> str:
    """Wait for ``crawl`` to end; its standard output (the summary), after checking it exited 0."""
    out, err = crawl.communicate(timeout=PATIENCE)
    assert crawl.returncode == 0, err
    return out


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``condition()`` holds (generously); fail naming ``what`` if it never does."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def runs(db_url: str) -> list[tuple[str, str, str | None]]:
    """``(sources, status, message)`` of every crawl run, in order."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(select(CrawlRun.sources, CrawlRun.status, CrawlRun.message).order_by(CrawlRun.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_urls(db_url: str) -> list[str]:
    """The URLs of the stored articles (one entry per row)."""
    with Database(db_url) as database, database.session() as session:
        return list(session.execute(select(Article.url)).scalars())


def test_a_second_crawl_of_a_running_source_is_skipped(web: ClusterWeb, sources: Path, pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    web.gates["gamma"].clear()
    first = start_crawl(sources, pg_url, "gamma", "crawl-1", tmp_path / "1.log")
    wait_for(lambda: web.arrivals("/gamma.xml") == 1, "the first crawl to ask for the feed")
    second = start_crawl(sources, pg_url, "gamma", "crawl-2", tmp_path / "2.log")
    summary = finish(second)
    web.gates["gamma"].set()
    finish(first)
    assert ": skipped" in summary  # the title of the summary: "crawl run N: skipped"
    statuses = runs(pg_url)
    assert [status for _, status, _ in statuses] == [RunStatus.OK, RunStatus.SKIPPED]
    assert "skipped: another crawl of gamma is running" in (statuses[1][2] or "")
    assert not web.requests(agent="crawl-2")  # the skipped crawl sent nothing
    assert sorted(stored_urls(pg_url)) == sorted(web.gamma.url(p) for p in ARTICLES["gamma"])


def test_two_sources_on_one_host_never_request_it_at_the_same_time(  # type: ignore[no-untyped-def]
    web: ClusterWeb, sources: Path, pg_url: str, tmp_path: Path
):
    web.gates["alpha"].clear()
    alpha = start_crawl(sources, pg_url, "alpha", "crawl-alpha", tmp_path / "alpha.log")
    wait_for(lambda: web.arrivals("/alpha.xml") == 1, "alpha's crawl to ask for its feed")
    beta_log = tmp_path / "beta.log"
    beta = start_crawl(sources, pg_url, "beta", "crawl-beta", beta_log)
    wait_for(lambda: beta_log.exists() and "waits" in beta_log.read_text(), "beta's crawl to wait for the host")
    web.gates["alpha"].set()
    finish(alpha)
    finish(beta)
    first, second = web.requests(agent="crawl-alpha"), web.requests(agent="crawl-beta")
    assert first and second
    assert max(s.answered for s in first) <= min(s.arrived for s in second)  # one after the other, never both
    assert [status for _, status, _ in runs(pg_url)] == [RunStatus.OK, RunStatus.OK]
    # the article both link: fetched by alpha, known to beta's crawl (which started after alpha's stored it)
    assert len(web.requests(WIRE)) == 1
    assert stored_urls(pg_url).count(web.shared.url(WIRE)) == 1


def test_an_article_two_concurrent_crawls_link_is_fetched_once(  # type: ignore[no-untyped-def]
    web: ClusterWeb, sources: Path, db_url_any: str, tmp_path: Path
):
    both_fed = threading.Barrier(2)

    def feed_after_both_asked(name: str) -> None:
        site = web.shared
        reply = Reply(200, _feed(site, [*ARTICLES[name], WIRE]), {"Content-Type": "application/rss+xml"})

        def handle(record: RequestRecord) -> Reply:
            try:  # both crawls read their feeds at the same moment (on PostgreSQL the host lock keeps the
                both_fed.wait(timeout=5)  # second one waiting: then the first goes on alone)
            except threading.BrokenBarrierError:
                pass
            with web.lock:
                web.served.append(Served(record.headers.get("User-Agent", "?"), f"/{name}.xml", 0.0, time.time()))
            return reply

        site.add(f"/{name}.xml", handle)

    feed_after_both_asked("alpha")
    feed_after_both_asked("beta")
    alpha = start_crawl(sources, db_url_any, "alpha", "crawl-alpha", tmp_path / "alpha.log")
    beta = start_crawl(sources, db_url_any, "beta", "crawl-beta", tmp_path / "beta.log")
    finish(alpha)
    finish(beta)
    assert len(web.requests(WIRE)) == 1
    urls = stored_urls(db_url_any)
    assert urls.count(web.shared.url(WIRE)) == 1
    expected = {web.shared.url(p) for p in ARTICLES["alpha"] + ARTICLES["beta"] + [WIRE]}
    assert set(urls) == expected and len(urls) == len(expected)


def test_a_killed_crawl_leaves_no_lock_behind(web: ClusterWeb, sources: Path, pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    web.gates["gamma"].clear()
    doomed = start_crawl(sources, pg_url, "gamma", "crawl-doomed", tmp_path / "doomed.log")
    wait_for(lambda: web.arrivals("/gamma.xml") == 1, "the crawl to ask for its feed")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.communicate(timeout=PATIENCE)
    web.gates["gamma"].set()
    engine = make_engine(pg_url)
    try:  # the server ends the backend of a client that is gone (at once on one machine)
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted")
            wait_for(lambda: connection.execute(query).scalar() == 0, "the killed crawl's backend to end")
    finally:
        engine.dispose()
    summary = finish(start_crawl(sources, pg_url, "gamma", "crawl-next", tmp_path / "next.log"))
    assert ": ok" in summary  # the title of the summary: "crawl run N: ok"
    statuses = [status for _, status, _ in runs(pg_url)]
    assert statuses == [RunStatus.ABORTED, RunStatus.OK]  # the killed one: marked aborted by the next crawl
    assert sorted(stored_urls(pg_url)) == sorted(web.gamma.url(p) for p in ARTICLES["gamma"])
