"""The cluster end to end: a real Redis, the test PostgreSQL, a local web of 12 sources on 6 hosts,
``ai4s daemon`` with the broker and three ``ai4s worker`` processes; a worker and its crawl killed
(``kill -9``) in the middle of a crawl, and Redis stopped and started (empty) during the run.

Every crawl tags its requests with its run and process (:data:`tests.clustersupport.CRAWL_HEADER`), and
the sites log each request with that tag and when it arrived and was answered: the request log shows
which crawl was on which host when."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from crawler.cluster.app import CRAWL_TASK, QUEUE, make_app
from storage import Database
from storage.cluster import start_queued_run
from storage.models import Article, CrawlRun
from tests.clustersupport import CRAWL_HEADER, REDIS_PASSWORD, Process, RedisServer, crawl_tag_settings, wait_until
from tests.databases import postgres_url, reset_postgres
from tests.localweb import LoopbackWeb

HOSTS = [f"127.0.5.{n}" for n in range(1, 7)]
ARTICLES_PER_SOURCE = 5
SLOW_SOURCE = "s11"  # its article pages come slowly: it is the crawl killed in the middle
SLOW_ARTICLES = 10
SLOW_DELAY = 3.0  # seconds a page: the crawl runs long enough to be caught midway on a loaded machine
#: An article both sources of the first host link (a source may fetch only from its own origins).
WIRE_PATH = "/wire/news/0.html"
WIRE_SOURCES = ("s00", "s01")
#: The longest the first host holds the feed of the crawl that is on it, until the other source's crawl is seen
#: waiting for the host (so that two crawls want one host at the same time for certain, whatever the order of
#: the queue): generous, not a speed bound.
HOLD = 120.0
#: One story posted by two sources on two other hosts: same text, two URLs; the second copy adds a credit line
#: (a copy of the very same text is not stored again: it is a known text, not a new article).
REPOSTERS = ("s04", "s07")
CREDIT = "<p>This story was first published by the wire service.</p>"
#: The words of the articles' sentences: each article draws its own, so that no two articles are copies.
WORDS = (
    "researchers model protein enzyme catalyst climate simulation neural network data laboratory physics "
    "chemistry genome cell material battery quantum solar ocean forecast molecule drug trial experiment "
    "university institute team result method accuracy training prediction structure energy carbon weather "
    "telescope galaxy mathematics proof theorem algorithm screening discovery measured tested reported "
    "faster cheaper larger smaller new first early open public national global local rare common"
).split()
REPOST_TITLE = "Protein folding model predicts enzyme structures, a reposted wire report"
FAST = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_START_DELAY=0.05", "-s", "AI4S_EXTRACT_WORKERS=1"]
# a feed held (see HOLD) is a slow answer, not a lost one, nor a reason to slow down
FAST += ["-s", f"DOWNLOAD_TIMEOUT={HOLD * 2:.0f}", "-s", "AUTOTHROTTLE_MAX_DELAY=1"]
TIME_LIMIT = "200"  # a crawl held at its feed (see HOLD) must not reach it


@dataclass(frozen=True)
class Served:
    """One request a site answered: its host and URL, the crawl that sent it, when it came and went."""

    host: str
    url: str
    crawl: str
    arrived: float  # time.monotonic() of the test process, as ``answered``
    answered: float


class ClusterWeb(LoopbackWeb):
    """12 sources, two per host (under /s0/ and /s1/ ...), each with an RSS feed of its own articles; the
    first host's two sources both link one more article, and two sources on other hosts post one story."""

    def __init__(self, crawl_logs: Path) -> None:
        self.crawl_logs = crawl_logs  # a worker's crawl of source S logs to S.log there
        self.sites = [LocalSite(f"host{n}", host=host) for n, host in enumerate(HOSTS)]
        self.paths: dict[str, list[str]] = {}  # source -> its article paths
        self.host_of: dict[str, LocalSite] = {}
        self.served: list[Served] = []
        self._lock = threading.Lock()
        published = datetime.now(UTC) - timedelta(hours=1)
        for site in self.sites:
            site.add_prefix("/", self._logged(site, Reply(404, b"", {"Content-Type": "text/plain"})))
        self.wire_site = self.sites[0]
        self._serve(self.wire_site, WIRE_PATH, html_reply(article_html("The wire article two sources link")))
        for number in range(12):
            name, site = f"s{number:02d}" if number < 10 else f"s{number}", self.sites[number // 2]
            count = SLOW_ARTICLES if name == SLOW_SOURCE else ARTICLES_PER_SOURCE
            pause = SLOW_DELAY if name == SLOW_SOURCE else 0.0
            paths = []
            for index in range(count):
                path = f"/{name}/news/{index}.html"
                title = f"Source {name} reports machine learning result number {index}"
                self._serve(site, path, html_reply(article_html(title)), pause)
                paths.append(path)
            if name in REPOSTERS:
                path = f"/{name}/news/repost.html"
                credit = CREDIT if name == REPOSTERS[1] else ""
                self._serve(site, path, html_reply(article_html(REPOST_TITLE, credit)))
                paths.append(path)
            if name in WIRE_SOURCES:
                paths.append(WIRE_PATH)
            items = "".join(
                f"<item><title>Result {index} of {name}</title><link>{site.url(path)}</link>"
                f"<pubDate>{format_datetime(published + timedelta(minutes=index))}</pubDate></item>"
                for index, path in enumerate(paths)
            )
            feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'
            reply = Reply(200, feed.encode(), {"Content-Type": "application/rss+xml"})
            if name in WIRE_SOURCES:  # the first crawl on the host is held until the other one waits for it
                site.add(f"/{name}/rss.xml", self._logged(site, reply, hold=self.met))
            else:
                self._serve(site, f"/{name}/rss.xml", reply)
            self.paths[name] = paths
            self.host_of[name] = site

    def _logged(
        self, site: LocalSite, reply: Reply, pause: float = 0.0, hold: Callable[[], bool] | None = None
    ) -> Callable[[RequestRecord], Reply]:
        """A route handler answering ``reply`` (after ``pause`` seconds: a slow page; when ``hold`` is given, once
        it holds or after :data:`HOLD` seconds) that logs the request."""

        def handle(record: RequestRecord) -> Reply:
            arrived = time.monotonic()
            while hold is not None and not hold() and time.monotonic() < arrived + HOLD:
                time.sleep(0.2)
            if pause:
                time.sleep(pause)
            crawl = record.headers.get(CRAWL_HEADER, "untagged")
            with self._lock:
                self.served.append(Served(site.host, site.url(record.path), crawl, arrived, time.monotonic()))
            return reply

        return handle

    def _serve(self, site: LocalSite, path: str, reply: Reply, pause: float = 0.0) -> None:
        site.add(path, self._logged(site, reply, pause))

    def waits(self, source: str) -> bool:
        """Whether a crawl of ``source`` has logged that it waits for its host (another crawl is on it)."""
        log = self.crawl_logs / f"{source}.log"
        return log.exists() and " waits (up to " in log.read_text(encoding="utf-8", errors="replace")

    def met(self) -> bool:
        """Whether a crawl of one of :data:`WIRE_SOURCES` has waited for the other's (their host is one)."""
        return any(self.waits(source) for source in WIRE_SOURCES)

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

    def requests(self) -> list[Served]:
        """Every request answered so far."""
        with self._lock:
            return list(self.served)

    def article_requests(self) -> Counter[str]:
        """How many times each article URL was requested."""
        urls = self.article_urls()
        return Counter(served.url for served in self.requests() if served.url in urls)


def article_html(title: str, credit: str = "") -> str:
    """A news article page: ``title`` and six paragraphs of sentences drawn for that title (and ``credit``, a
    repost's added line, at the end)."""
    draw = random.Random(title)
    sentences = [" ".join(draw.choices(WORDS, k=12)).capitalize() + "." for _ in range(24)]
    body = "".join(f"<p>{' '.join(sentences[i : i + 4])}</p>" for i in range(0, 24, 4))
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title}</h1>{body}{credit}</article></body></html>"
    )


def crawl_spans(requests: list[Served], cut_short: set[str]) -> dict[str, list[tuple[float, float, str]]]:
    """Per host, the span each crawl was on it, ``(start, end, crawl)`` in order of start: from its first
    request's arrival to its last request's answer (a crawl waits for its answers before it lets the host go),
    or to its last request's arrival for a crawl in ``cut_short`` (killed: answers to it went nowhere)."""
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for served in requests:
        end = served.arrived if served.crawl in cut_short else served.answered
        start, last = spans.get((served.host, served.crawl), (served.arrived, end))
        spans[served.host, served.crawl] = (min(start, served.arrived), max(last, end))
    by_host: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for (host, crawl), (start, end) in spans.items():
        by_host[host].append((start, end, crawl))
    return {host: sorted(spans) for host, spans in by_host.items()}


def runs_of(db_url: str, source: str) -> list[CrawlRun]:
    """The crawl-run rows of ``source``, oldest first."""
    with Database(db_url) as database, database.session() as session:
        query = select(CrawlRun).where(CrawlRun.sources == source).order_by(CrawlRun.id)
        return list(session.execute(query).scalars())


def stored_urls(db_url: str) -> list[str]:
    """The canonical URL of every stored article (a repeat would be an article stored twice)."""
    with Database(db_url) as database, database.session() as session:
        return list(session.execute(select(Article.canonical_url)).scalars())


def story_sizes(db_url: str, urls: set[str]) -> list[int]:
    """The number of copies of each story the articles at ``urls`` belong to."""
    with Database(db_url) as database, database.session() as session:
        stories = set(session.execute(select(Article.story_id).where(Article.canonical_url.in_(urls))).scalars())
        copies = Counter(session.execute(select(Article.story_id).where(Article.story_id.in_(stories))).scalars())
        return sorted(copies[story] for story in stories)


@pytest.mark.timeout(900)
def test_daemon_and_three_workers_crawl_every_source_once_through_a_killed_worker_and_a_redis_restart(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    db_url = postgres_url()
    reset_postgres(url=db_url)
    Database(db_url).close()  # migrate once, before the processes start
    env = {"AI4S_BROKER_URL": redis_server.url}
    processes: list[Process] = []
    logs = tmp_path / "logs"
    with ClusterWeb(logs) as web:
        sources = tmp_path / "sources.toml"
        sources.write_text(web.sources_toml(), encoding="utf-8")
        common = ["--db", db_url, "--sources", str(sources), "--log-dir", str(logs), *FAST, *crawl_tag_settings()]
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
                with Database(db_url) as database, database.session() as session:  # one look, opened once
                    running = (
                        session.execute(
                            select(CrawlRun).where(
                                CrawlRun.sources == SLOW_SOURCE,
                                CrawlRun.status == "running",
                                CrawlRun.worker.is_not(None),
                                CrawlRun.pid.is_not(None),
                            )
                        )
                        .scalars()
                        .first()
                    )
                    urls = session.execute(select(Article.canonical_url)).scalars()
                    stored = sum(f"/{SLOW_SOURCE}/" in url for url in urls)
                return running if running is not None and 1 <= stored < SLOW_ARTICLES else None

            victim = wait_until(slow_crawl_midway, 300, "the slow source's crawl in the middle", processes)
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
        # the article two sources link: requested once, stored once
        wire = web.wire_site.url(WIRE_PATH)
        assert requests[wire] == 1 and stored.count(wire) == 1
        # the reposted story: one story, its two copies
        reposts = {web.host_of[name].url(f"/{name}/news/repost.html") for name in REPOSTERS}
        assert story_sizes(db_url, reposts) == [2]
        # never two crawls on one host at the same time: each crawl's span on a host (first request to last
        # answer) ends before the next one's starts; the killed crawl's span ends at its last request
        assert web.met()  # the two sources of one host wanted it at the same time
        served = web.requests()
        assert all(s.crawl != "untagged" for s in served), [s for s in served if s.crawl == "untagged"]
        spans = crawl_spans(served, cut_short={f"{victim.id}:{victim.pid}"})
        assert set(spans) == set(HOSTS) and all(len(crawls) >= 2 for crawls in spans.values()), spans
        for host, crawls in spans.items():
            for before, after in pairwise(crawls):
                assert before[1] <= after[0], f"two crawls on {host} at once: {before} and {after}"
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
