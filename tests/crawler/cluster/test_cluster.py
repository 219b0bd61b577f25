"""The cluster end to end: a real Redis, the test PostgreSQL, a local web of 12 sources on 6 hosts,
``ai4s daemon`` with the broker and three ``ai4s worker`` processes; a worker and its crawl killed
(``kill -9``) in the middle of a crawl, and Redis stopped and started (empty) during the run."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.cluster.app import CRAWL_TASK, QUEUE, make_app
from storage import Database
from storage.cluster import start_queued_run
from storage.models import Article, CrawlRun
from tests.clustersupport import REDIS_PASSWORD, Process, RedisServer
from tests.crawler.support import article_html
from tests.databases import postgres_url, reset_postgres
from tests.localweb import LoopbackWeb

HOSTS = [f"127.0.5.{n}" for n in range(1, 7)]
ARTICLES_PER_SOURCE = 5
SLOW_SOURCE = "s11"  # its article pages come slowly: it is the crawl killed in the middle
SLOW_ARTICLES = 10
SLOW_DELAY = 1.5
FAST = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_START_DELAY=0.05", "-s", "AI4S_EXTRACT_WORKERS=1"]
TIME_LIMIT = "40"


class ClusterWeb(LoopbackWeb):
    """12 sources, two per host (under /s0/ and /s1/ ...), each with an RSS feed of its own articles."""

    def __init__(self) -> None:
        self.sites = [LocalSite(f"host{n}", host=host) for n, host in enumerate(HOSTS)]
        self.paths: dict[str, list[str]] = {}  # source -> its article paths
        self.host_of: dict[str, LocalSite] = {}
        published = datetime.now(UTC) - timedelta(hours=1)
        for number in range(12):
            name, site = f"s{number:02d}" if number < 10 else f"s{number}", self.sites[number // 2]
            count = SLOW_ARTICLES if name == SLOW_SOURCE else ARTICLES_PER_SOURCE
            delay = SLOW_DELAY if name == SLOW_SOURCE else 0.0
            paths = []
            for index in range(count):
                path = f"/{name}/news/{index}.html"
                title = f"Source {name} reports machine learning result number {index}"
                reply = html_reply(article_html(title))
                site.add(path, Reply(reply.status, reply.body, reply.headers, delay))
                paths.append(path)
            items = "".join(
                f"<item><title>Result {index} of {name}</title><link>{site.url(path)}</link>"
                f"<pubDate>{format_datetime(published + timedelta(minutes=index))}</pubDate></item>"
                for index, path in enumerate(paths)
            )
            feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'
            site.add(f"/{name}/rss.xml", Reply(200, feed.encode(), {"Content-Type": "application/rss+xml"}))
            self.paths[name] = paths
            self.host_of[name] = site

    def servers(self) -> list[LocalSite]:
        """The six hosts."""
        return self.sites

    def sources_toml(self) -> str:
        """One source per feed, crawled once an hour (once in the test)."""
        return "".join(
            f'[[source]]\nname = "{name}"\nlanguage = "en"\nfeeds = ["{site.url(f"/{name}/rss.xml")}"]\nevery = "1h"\n'
            for name, site in self.host_of.items()
        )

    def article_urls(self) -> set[str]:
        """Every article URL of the web."""
        return {self.host_of[name].url(path) for name, paths in self.paths.items() for path in paths}

    def article_requests(self) -> Counter[str]:
        """How many times each article URL was requested."""
        return Counter(site.url(r.path) for site in self.sites for r in list(site.log) if "/news/" in r.path)


def wait_until(condition: Callable[[], object], timeout: float, what: str, logs: list[Process]) -> None:
    """Poll ``condition``; fail with ``what`` and the processes' logs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.log_path.name}\n{p.log()[-3000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def runs_of(db_url: str, source: str) -> list[CrawlRun]:
    """The crawl-run rows of ``source``, oldest first."""
    with Database(db_url) as database, database.session() as session:
        query = select(CrawlRun).where(CrawlRun.sources == source).order_by(CrawlRun.id)
        return list(session.execute(query).scalars())


def stored_urls(db_url: str) -> list[str]:
    """The canonical URL of every stored article (a repeat would be an article stored twice)."""
    with Database(db_url) as database, database.session() as session:
        return list(session.execute(select(Article.canonical_url)).scalars())


@pytest.mark.timeout(900)
def test_daemon_and_three_workers_crawl_every_source_once_through_a_killed_worker_and_a_redis_restart(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    db_url = postgres_url()
    reset_postgres(url=db_url)
    Database(db_url).close()  # migrate once, before the processes start
    env = {"AI4S_BROKER_URL": redis_server.url}
    processes: list[Process] = []
    with ClusterWeb() as web:
        sources = tmp_path / "sources.toml"
        sources.write_text(web.sources_toml(), encoding="utf-8")
        common = ["--db", db_url, "--sources", str(sources), "--log-dir", str(tmp_path / "logs"), *FAST]
        try:
            workers = {
                f"w{n}": Process(
                    tmp_path / f"worker-{n}.log",
                    "worker",
                    *common,
                    "--name",
                    f"w{n}",
                    "--time-limit",
                    TIME_LIMIT,
                    "--stop-timeout",
                    "10",
                    env=env,
                )  # fmt: skip
                for n in range(1, 4)
            }
            processes += workers.values()
            daemon = Process(
                tmp_path / "daemon.log", "daemon", *common, "--digest-every", "off",
                "--time-limit", TIME_LIMIT, "--stop-timeout", "10", env=env,
            )  # fmt: skip
            processes.append(daemon)

            # the slow source's crawl runs on a worker and has stored some of its articles: kill both
            def slow_crawl_midway() -> CrawlRun | None:
                running = [r for r in runs_of(db_url, SLOW_SOURCE) if r.status == "running" and r.worker and r.pid]
                stored = [u for u in stored_urls(db_url) if f"/{SLOW_SOURCE}/" in u]
                return running[0] if running and 1 <= len(stored) < SLOW_ARTICLES else None

            wait_until(slow_crawl_midway, 300, "the slow source's crawl in the middle", processes)
            victim = slow_crawl_midway()
            assert victim is not None and victim.worker is not None
            killed = victim.worker.split("@")[0]
            workers[killed].kill()
            try:
                os.killpg(victim.pid or 0, signal.SIGKILL)
            except ProcessLookupError:
                pass
            # and Redis goes away and comes back empty while the other crawls run or wait
            redis_server.stop()
            time.sleep(3)
            redis_server.start()

            def all_done() -> bool:
                return all(any(r.status == "ok" for r in runs_of(db_url, name)) for name in web.paths)

            wait_until(all_done, 600, "an ok run of every source", processes)
        finally:
            for process in processes:
                process.stop()

        # every article stored exactly once
        stored = stored_urls(db_url)
        assert len(stored) == len(set(stored))
        assert set(stored) == web.article_urls()
        # no article requested twice, but for pages in flight in the killed crawl (once more at most)
        requests = web.article_requests()
        twice = {url for url, count in requests.items() if count > 1}
        assert all(count <= 2 for count in requests.values()), requests
        assert all(f"/{SLOW_SOURCE}/" in url for url in twice), twice
        # the killed crawl ran again on another worker
        rerun = [r for r in runs_of(db_url, SLOW_SOURCE) if r.status == "ok"]
        assert rerun and all(r.worker and not r.worker.startswith(f"{killed}@") for r in rerun)
        # the broker's password shows in no log
        for process in processes:
            assert REDIS_PASSWORD not in process.log(), process.log_path.name
        assert "redis://:**@" in daemon.log()


@pytest.mark.timeout(300)
def test_a_worker_refuses_a_pickle_message(tmp_path: Path, redis_server: RedisServer) -> None:
    db_url = postgres_url()
    reset_postgres(url=db_url)
    with Database(db_url) as database, database.session() as session, session.begin():
        run_id = start_queued_run(session, "s00", "pickled-job")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "s00"\nfeeds = ["http://127.0.5.1:9/rss.xml"]\n', encoding="utf-8")
    worker = Process(
        tmp_path / "worker.log", "worker", "--db", db_url, "--sources", str(sources), "--name", "w1",
        env={"AI4S_BROKER_URL": redis_server.url},
    )  # fmt: skip
    try:
        wait_until(lambda: "ready" in worker.log(), 120, "the worker to start", [worker])
        app = make_app(redis_server.url)
        # what an attacker who can write to the broker would send: a pickle message naming the crawl task
        with app.connection_for_write() as connection:
            producer = connection.Producer(serializer="pickle")
            producer.publish(
                [["s00", run_id, 10.0], {}, {}],
                routing_key=QUEUE,
                headers={"task": CRAWL_TASK, "id": "pickled-job", "lang": "py"},
                serializer="pickle",
            )
        wait_until(lambda: "pickle" in worker.log().lower(), 120, "the worker to refuse the message", [worker])
    finally:
        worker.stop()
    assert "ContentDisallowed" in worker.log() or "untrusted content" in worker.log()
    with Database(db_url) as database, database.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.worker is None and run.status == "running"  # never started
    assert json.dumps(REDIS_PASSWORD) not in worker.log()
