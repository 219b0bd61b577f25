#!/usr/bin/env python3
"""Cluster benchmark: 1, 2 and 3 ``ai4s worker`` processes on one Redis and one PostgreSQL, on a
latency-bound web and on a CPU-bound one, and the capacity model that follows from the figures.

``python3 benchmarks/cluster_scale.py [--workers 1,2,3] [--sources N] [--pages N]`` does, per case
and per number of workers:

1. empties the PostgreSQL database (``--db``, else ``$AI4S_BENCH_POSTGRES_URL``, else
   ``$AI4S_TEST_POSTGRES_URL``: **its public schema is dropped**) and migrates it;
2. starts that many ``ai4s worker`` subprocesses (one crawl at a time each) on a ``redis-server`` of
   its own (``--redis-port``, 6391 by default);
3. sends one crawl of every source to the queue as the daemon does (:class:`crawler.cluster.dispatch.
   Dispatcher`) and waits until every crawl-run row is closed, while sampling PostgreSQL
   (``pg_stat_activity``: connections to the database; ``pg_locks``: transactions waiting for the story
   lock, the transaction-level advisory lock of :func:`storage.stories.serialize_story_assignment`) and
   the CPU time of the workers' process trees (``/proc``: a worker, its Celery pool, the crawl processes
   and their extraction workers; the time of ended children counts through their parents);
4. prints pages/s, CPU seconds, connections at peak, story-lock waits and the speed-up against the
   first number of workers.

The webs: (a) **slow**: one source per loopback host (127.0.9.x), each request answered after
``--delay`` seconds, small synthetic article pages; (b) **cpu**: real pages of the test corpus (never
copied), no delays, spread over as many sources. Each source has an RSS feed of its article pages.
After the last run of each case every source is crawled once more with nothing new (a re-poll), which
gives the fixed CPU cost of one poll. The capacity model (printed last) combines that cost, the CPU per
new article page of the cpu case and an assumed number of new articles per poll.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # importable without ``pip install -e .``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import descendants, proc_tree_cpu, resolve_corpus  # noqa: E402

if TYPE_CHECKING:
    from crawler.app.webserver import LocalSite

#: The loopback network of the benchmark's hosts: 127.0.9.1, .2, ... (one per source).
HOST_PREFIX = "127.0.9."
#: Scrapy settings of the cpu case: no politeness delays (the sites are ours, on loopback).
CPU_SETTINGS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "CONCURRENT_REQUESTS_PER_DOMAIN=16")
#: Seconds between two samples of PostgreSQL and of the workers' process trees.
SAMPLE_INTERVAL = 0.2
#: The poll interval of the capacity model, in seconds.
POLL_SECONDS = 1800.0
#: Share of a core's time a worker may be planned to use (headroom for bursts, retries, slow hosts).
PLANNED_UTILISATION = 0.7
#: Source counts of the capacity model.
MODEL_SOURCES = (100, 10_000, 100_000)


# -- the webs ----------------------------------------------------------------------------------------
@dataclass
class Web:
    """The sites of one case and its sources file."""

    name: str
    sites: list[LocalSite]
    sources_toml: str
    article_paths: dict[str, set[str]]  # site name -> its article paths

    def article_requests(self, since: dict[str, int]) -> int:
        """Article pages requested (answered 200) since the log positions ``since``."""
        return sum(
            1
            for site in self.sites
            for record in site.log[since.get(site.name, 0) :]
            if record.path in self.article_paths[site.name] and record.status == 200
        )

    def log_positions(self) -> dict[str, int]:
        """Where each site's request log ends now."""
        return {site.name: len(site.log) for site in self.sites}


def _feed(site: LocalSite, paths: list[str]) -> bytes:
    """An RSS feed of ``paths`` on ``site``, published in the last hour."""
    published = datetime.now(UTC) - timedelta(hours=1)
    items = "".join(
        f"<item><title>Item {index}</title><link>{site.url(path)}</link>"
        f"<pubDate>{format_datetime(published + timedelta(minutes=index))}</pubDate></item>"
        for index, path in enumerate(paths)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{site.name}</title>{items}</channel></rss>'.encode()
    )


def _source_entry(site: LocalSite, pages: int) -> str:
    return f'[[source]]\nname = "{site.name}"\nfeeds = ["{site.url("/rss.xml")}"]\nmax_pages = {pages + 20}\n'


def slow_web(sources: int, pages: int, delay: float) -> Web:
    """(a) One source per host, every request answered after ``delay`` seconds, small synthetic articles."""
    from crawler.app.webserver import LocalSite, html_reply
    from tests.crawler.support import article_html

    sites, paths_of = [], {}
    for number in range(sources):
        site = LocalSite(f"slow{number:03d}", host=f"{HOST_PREFIX}{number + 1}")
        site.extra_delay = lambda _record, seconds=delay: seconds
        paths = [f"/news/{index}.html" for index in range(pages)]
        for index, path in enumerate(paths):
            site.add(path, html_reply(article_html(f"Outlet {number} reports machine learning result {index}")))
        _add_feed(site, paths)
        sites.append(site)
        paths_of[site.name] = set(paths)
    return Web("slow", sites, "".join(_source_entry(site, pages) for site in sites), paths_of)


def cpu_web(sources: int, pages: int, corpus: Path, seed: int) -> Web:
    """(b) ``sources`` sources of ``pages`` real corpus pages each, no delays."""
    from crawl_speed import load_pages

    from crawler.app.webserver import LocalSite, Reply

    corpus_pages = load_pages(corpus, sources * pages, seed)
    if len(corpus_pages) < sources * pages:
        raise SystemExit(f"cluster_scale: the corpus has {len(corpus_pages)} usable pages, {sources * pages} asked")
    sites, paths_of = [], {}
    for number in range(sources):
        site = LocalSite(f"cpu{number:03d}", host=f"{HOST_PREFIX}{100 + number + 1}")
        paths = []
        for index, page in enumerate(corpus_pages[number::sources]):
            path = f"/news/{index}.html"
            site.add(path, Reply(200, page.body, {"Content-Type": f"text/html; charset={page.encoding}"}))
            paths.append(path)
        _add_feed(site, paths)
        sites.append(site)
        paths_of[site.name] = set(paths)
    return Web("cpu", sites, "".join(_source_entry(site, pages) for site in sites), paths_of)


def _add_feed(site: LocalSite, paths: list[str]) -> None:
    from crawler.app.webserver import Reply

    site.add("/rss.xml", Reply(200, _feed(site, paths), {"Content-Type": "application/rss+xml"}))
    robots = b"User-agent: *\nAllow: /\n"
    site.add("/robots.txt", Reply(200, robots, {"Content-Type": "text/plain; charset=utf-8"}))


# -- sampling ------------------------------------------------------------------------------------------
STORY_LOCK_WAITERS = """
SELECT l.pid, a.xact_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = :a AND l.objid = :b AND l.objsubid = 2
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


class Sampler(threading.Thread):
    """Samples PostgreSQL (connections, story-lock waiters) and the workers' process trees until stopped."""

    def __init__(self, db_url: str, roots: list[int]) -> None:
        super().__init__(name="cluster-sampler", daemon=True)
        from sqlalchemy import text

        from storage.db import make_engine
        from storage.stories import STORY_LOCK_KEYS

        self.engine = make_engine(db_url)
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.text = text
        self.keys = {"a": STORY_LOCK_KEYS[0], "b": STORY_LOCK_KEYS[1]}
        self.roots = roots
        self.stop_event = threading.Event()
        self.samples = 0
        self.peak_connections = 0
        self.samples_with_waiter = 0
        self.peak_waiters = 0
        self.waits: set[tuple[int, Any]] = set()  # (backend pid, transaction start): one wait each
        self.peak_processes = 0

    def sample(self) -> None:
        """One sample."""
        connections = self.connection.execute(self.text(CONNECTIONS)).scalar_one()
        waiters = list(self.connection.execute(self.text(STORY_LOCK_WAITERS), self.keys))
        self.samples += 1
        self.peak_connections = max(self.peak_connections, connections)
        if waiters:
            self.samples_with_waiter += 1
            self.peak_waiters = max(self.peak_waiters, len(waiters))
            self.waits.update((row[0], row[1]) for row in waiters)
        self.peak_processes = max(self.peak_processes, sum(len(descendants(root)) for root in self.roots))

    def run(self) -> None:
        """Sample until :meth:`stop`."""
        while not self.stop_event.wait(SAMPLE_INTERVAL):
            self.sample()

    def stop(self) -> None:
        """Stop sampling and close the connection."""
        self.stop_event.set()
        self.join()
        self.connection.close()
        self.engine.dispose()


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds of the process trees under ``roots`` so far (ended and reaped children included)."""
    return sum(proc_tree_cpu(pid) or 0.0 for root in roots for pid in descendants(root))


# -- one run -------------------------------------------------------------------------------------------
@dataclass
class RunFigures:
    """What one round of crawls on one web with so many workers measured."""

    case: str
    workers: int
    round: str  # "first crawl" or "re-poll"
    crawls: int
    crawls_ok: int
    pages: int
    articles: int
    seconds: float
    worker_cpu_seconds: float
    peak_connections: int
    story_lock_waits: int
    samples_with_waiter: int
    samples: int
    peak_waiters: int
    peak_processes: int
    bench_cpu_seconds: float  # this process: the web servers' threads and the sampler

    @property
    def pages_per_s(self) -> float:
        """Article pages fetched per second of the round."""
        return self.pages / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_per_page(self) -> float:
        """Worker CPU seconds per article page."""
        return self.worker_cpu_seconds / self.pages if self.pages else float("nan")

    @property
    def cpu_per_crawl(self) -> float:
        """Worker CPU seconds per crawl."""
        return self.worker_cpu_seconds / self.crawls if self.crawls else float("nan")


@dataclass
class Cluster:
    """Redis, the database and the options every run shares."""

    db_url: str
    redis_url: str
    workdir: Path
    time_limit: float
    timeout: float
    runs: list[RunFigures] = field(default_factory=list)


def run_case(cluster: Cluster, web: Web, workers: int, settings: tuple[str, ...], repoll: bool) -> None:
    """Crawl every source of ``web`` once with ``workers`` workers (and once more if ``repoll``)."""
    from storage import Database
    from tests.clustersupport import Process
    from tests.databases import reset_postgres

    reset_postgres(url=cluster.db_url)
    Database(cluster.db_url).close()  # migrate once, before the workers start
    rundir = cluster.workdir / f"{web.name}-{workers}"
    rundir.mkdir()
    sources_file = rundir / "sources.toml"
    sources_file.write_text(web.sources_toml, encoding="utf-8")
    common = ["--db", cluster.db_url, "--sources", str(sources_file), "--log-dir", str(rundir / "logs")]
    for setting in settings:
        common += ["-s", setting]
    processes = [
        Process(
            rundir / f"worker-{n}.log",
            "worker",
            *common,
            "--name",
            f"bench{n}",
            "--concurrency",
            "1",
            "--time-limit",
            str(cluster.time_limit),
            "--stop-timeout",
            "10",
            env={"AI4S_BROKER_URL": cluster.redis_url},
        )  # fmt: skip
        for n in range(1, workers + 1)
    ]
    try:
        deadline = time.monotonic() + 180
        while not all(" ready" in p.log() for p in processes):
            if time.monotonic() > deadline or any(p.process.poll() is not None for p in processes):
                tails = "\n".join(f"--- {p.log_path.name}\n{p.log()[-2000:]}" for p in processes)
                raise SystemExit(f"cluster_scale: the workers did not start\n{tails}")
            time.sleep(0.3)
        rounds = ["first crawl", "re-poll"] if repoll else ["first crawl"]
        for name in rounds:
            cluster.runs.append(crawl_round(cluster, web, processes, name))
            figures = cluster.runs[-1]
            print(
                f"  {web.name:>4} {workers} worker(s) {name:<11}: {figures.crawls_ok}/{figures.crawls} crawls ok, "
                f"{figures.pages} pages in {figures.seconds:.1f} s, worker CPU {figures.worker_cpu_seconds:.1f} s",
                flush=True,
            )
    finally:
        for process in processes:
            process.stop()


def crawl_round(cluster: Cluster, web: Web, processes: list[Any], name: str) -> RunFigures:
    """Send one crawl of every source to the queue and measure until every run is closed and its crawl gone."""
    from sqlalchemy import func, select

    from crawler.cluster.dispatch import Dispatcher
    from storage import Database
    from storage.cluster import queued_runs
    from storage.models import Article, CrawlRun

    roots = [p.pid for p in processes]
    idle_processes = sum(len(descendants(root)) for root in roots)
    since = web.log_positions()
    with Database(cluster.db_url) as database:
        dispatcher = Dispatcher(database, cluster.redis_url, cluster.time_limit, lambda *_: None)
        with database.session() as session:
            articles_before = session.execute(select(func.count(Article.id))).scalar_one()
            first_run = (session.execute(select(func.max(CrawlRun.id))).scalar_one() or 0) + 1
        sampler = Sampler(cluster.db_url, roots)
        cpu_before, bench_before = tree_cpu(roots), time.process_time()
        sampler.start()
        started = time.time()
        try:
            for site in web.sites:
                dispatcher.send(site.name)
            deadline = time.monotonic() + cluster.timeout
            while True:
                with database.session() as session:
                    if not queued_runs(session):
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"cluster_scale: crawls still open after {cluster.timeout:g} s")
                time.sleep(0.25)
            # the run row is closed once its crawl has exited; wait for the crawls' processes to be reaped
            settle = time.monotonic() + 30
            while sum(len(descendants(root)) for root in roots) > idle_processes and time.monotonic() < settle:
                time.sleep(0.1)
        finally:
            sampler.stop()
        cpu = tree_cpu(roots) - cpu_before
        bench_cpu = time.process_time() - bench_before
        with database.session() as session:
            runs = list(session.execute(select(CrawlRun).where(CrawlRun.id >= first_run)).scalars())
            articles = session.execute(select(func.count(Article.id))).scalar_one() - articles_before
    finished = max((run.finished_at for run in runs if run.finished_at is not None), default=None)
    seconds = (finished.replace(tzinfo=finished.tzinfo or UTC).timestamp() if finished else time.time()) - started
    return RunFigures(
        case=web.name,
        workers=len(processes),
        round=name,
        crawls=len(runs),
        crawls_ok=sum(run.status == "ok" for run in runs),
        pages=web.article_requests(since),
        articles=articles,
        seconds=seconds,
        worker_cpu_seconds=cpu,
        peak_connections=sampler.peak_connections,
        story_lock_waits=len(sampler.waits),
        samples_with_waiter=sampler.samples_with_waiter,
        samples=sampler.samples,
        peak_waiters=sampler.peak_waiters,
        peak_processes=sampler.peak_processes,
        bench_cpu_seconds=bench_cpu,
    )


# -- the report ----------------------------------------------------------------------------------------
def print_case(runs: list[RunFigures], case: str) -> None:
    """The table of one case."""
    first = [r for r in runs if r.case == case and r.round == "first crawl"]
    if not first:
        return
    base = first[0]
    print(f"\n## case {case}: first crawl of every source")
    header = (
        f"{'workers':>7} {'crawls ok':>9} {'pages':>6} {'articles':>8} {'wall s':>7} {'pages/s':>8} {'speed-up':>8} "
        f"{'worker CPU s':>12} {'CPU s/page':>10} {'PG conns peak':>13} {'story-lock waits':>16} {'peak procs':>10}"
    )
    print(header)
    for r in first:
        speedup = r.pages_per_s / base.pages_per_s if base.pages_per_s else float("nan")
        waits = f"{r.story_lock_waits} ({r.samples_with_waiter}/{r.samples})"
        print(
            f"{r.workers:>7} {r.crawls_ok:>4}/{r.crawls:<4} {r.pages:>6} {r.articles:>8} {r.seconds:>7.1f} "
            f"{r.pages_per_s:>8.2f} {speedup:>7.2f}x {r.worker_cpu_seconds:>12.1f} {r.cpu_per_page:>10.3f} "
            f"{r.peak_connections:>13} {waits:>16} {r.peak_processes:>10}"
        )
    for r in runs:
        if r.case == case and r.round == "re-poll":
            print(
                f"re-poll with {r.workers} worker(s), nothing new: {r.crawls_ok}/{r.crawls} crawls ok in "
                f"{r.seconds:.1f} s, {r.pages} article pages fetched again, worker CPU {r.worker_cpu_seconds:.1f} s "
                f"= {r.cpu_per_crawl:.2f} s per poll"
            )


def capacity_model(runs: list[RunFigures], new_per_poll: float) -> dict[str, Any]:
    """Print the capacity model from the measured runs; its figures."""
    repoll = next((r for r in runs if r.case == "cpu" and r.round == "re-poll" and r.crawls), None)
    cpu_first = next(
        (r for r in runs if repoll and r.case == "cpu" and r.round == "first crawl" and r.workers == repoll.workers),
        None,
    )
    if cpu_first is None or repoll is None:
        print("\n(no capacity model: it needs the cpu case and its re-poll)")
        return {}
    poll_cpu = repoll.cpu_per_crawl
    page_cpu = max(0.0, (cpu_first.worker_cpu_seconds - cpu_first.crawls * poll_cpu) / max(cpu_first.pages, 1))
    per_poll = poll_cpu + new_per_poll * page_cpu
    slow_first = next((r for r in runs if r.case == "slow" and r.round == "first crawl"), None)
    crawl_wall = slow_first.seconds * slow_first.workers / slow_first.crawls if slow_first else None
    print("\n## capacity model (30-minute interval)")
    print(
        f"fixed CPU per poll (the cpu case's re-poll with {repoll.workers} worker(s): process start, robots, feed, "
        f"nothing new): {poll_cpu:.2f} s"
    )
    print(
        f"CPU per new article page (its first crawl with as many workers: (worker CPU - crawls x fixed) / pages): "
        f"{page_cpu:.3f} s"
    )
    print(
        f"assumption: a source yields {new_per_poll:g} new articles per 30-minute poll and 1-3 entry pages (a feed, "
        "a home page; their cost is in the fixed figure, measured with one feed), so one poll costs "
        f"{poll_cpu:.2f} + {new_per_poll:g} x {page_cpu:.3f} = {per_poll:.2f} CPU s"
    )
    if crawl_wall is not None and slow_first is not None:
        pages_each = slow_first.pages // max(1, slow_first.crawls)
        print(
            f"a crawl of the slow web ({pages_each} pages behind per-host delays) holds a worker slot "
            f"{crawl_wall:.1f} s: crawl slots busy at once = sources x that / 1800 s (latency, not cores)"
        )
    print(f"{'sources':>8} {'CPU s per 30 min':>16} {'cores at 100%':>13} {'cores at 70%':>12} {'crawl slots':>11}")
    rows = []
    for sources in MODEL_SOURCES:
        cpu = sources * per_poll
        cores_needed = cpu / POLL_SECONDS
        slots = sources * crawl_wall / POLL_SECONDS if crawl_wall is not None else float("nan")
        rows.append({"sources": sources, "cpu_s": cpu, "cores": cores_needed, "slots": slots})
        planned = cores_needed / PLANNED_UTILISATION
        print(f"{sources:>8,} {cpu:>16,.0f} {cores_needed:>13.1f} {planned:>12.1f} {slots:>11.1f}")
    return {"poll_cpu_s": poll_cpu, "page_cpu_s": page_cpu, "new_per_poll": new_per_poll, "rows": rows}


# -- main ----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,3", help="numbers of workers to run, in order (default 1,2,3)")
    parser.add_argument("--sources", type=int, default=6, help="sources per web (default 6)")
    parser.add_argument("--pages", type=int, default=8, help="article pages per source of the slow web (default 8)")
    parser.add_argument("--cpu-pages", type=int, default=25, help="corpus pages per source of the cpu web (default 25)")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds before each answer of the slow web")
    parser.add_argument("--cases", default="slow,cpu", help="which webs: slow, cpu or both (default slow,cpu)")
    parser.add_argument("--new-per-poll", type=float, default=5.0, help="the model's new articles per poll")
    parser.add_argument("--db", help="PostgreSQL URL (its public schema is DROPPED)")
    parser.add_argument("--redis-port", type=int, default=6391, help="port of the benchmark's redis-server")
    parser.add_argument("--corpus", help="the test corpus directory")
    parser.add_argument("--seed", type=int, default=0, help="which corpus pages")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a round may take")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (worker and crawl logs)")
    options = parser.parse_args(argv)

    db_url = options.db or os.environ.get("AI4S_BENCH_POSTGRES_URL") or os.environ.get("AI4S_TEST_POSTGRES_URL")
    if not db_url or not db_url.startswith("postgresql"):
        print("cluster_scale: needs a PostgreSQL database: --db URL or $AI4S_BENCH_POSTGRES_URL", file=sys.stderr)
        return 2
    if shutil.which("redis-server") is None:
        print("cluster_scale: needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return 2
    worker_counts = [int(n) for n in options.workers.split(",") if n.strip()]
    cases = [c.strip() for c in options.cases.split(",") if c.strip()]
    corpus = resolve_corpus(options.corpus)
    if "cpu" in cases and not (corpus / "index.jsonl").exists():
        print(f"cluster_scale: no test corpus at {corpus} (--corpus DIR or $AI4S_TEST_CORPUS)", file=sys.stderr)
        return 2

    from crawler.cluster.broker import masked
    from tests.clustersupport import RedisServer

    cores = os.cpu_count() or 1
    started, load_before = time.monotonic(), os.getloadavg()
    print(f"cluster_scale: {platform.python_version()}, {cores} cores, load average {load_before[0]:.1f} at start")
    print(
        "NOTE: figures from a shared machine are noisy (other work competes for the cores); compare the rows of "
        "one invocation, and CPU seconds more than wall clock."
    )
    print(
        f"database {masked(db_url)}; workers {worker_counts}; {options.sources} sources of {options.pages} (slow) "
        f"and {options.cpu_pages} (cpu) pages"
    )
    workdir = Path(tempfile.mkdtemp(prefix="cluster-scale-"))
    redis = RedisServer(workdir, port=options.redis_port, password="cluster-bench")
    redis.start()
    cluster = Cluster(db_url, redis.url, workdir, time_limit=options.timeout, timeout=options.timeout)
    try:
        for case in cases:
            if case == "slow":
                web = slow_web(options.sources, options.pages, options.delay)
                settings: tuple[str, ...] = ()
                print(f"\ncase slow: {options.sources} hosts, {options.delay:g} s per answer, product politeness")
            elif case == "cpu":
                web = cpu_web(options.sources, options.cpu_pages, corpus, options.seed)
                settings = CPU_SETTINGS
                print(
                    f"\ncase cpu: {options.sources * options.cpu_pages} corpus pages, no delays ({' '.join(settings)})"
                )
            else:
                raise SystemExit(f"cluster_scale: unknown case {case!r}")
            for site in web.sites:
                site.start()
            try:
                for workers in worker_counts:
                    run_case(cluster, web, workers, settings, repoll=workers == worker_counts[-1])
            finally:
                for site in web.sites:
                    site.stop()
    finally:
        redis.stop()
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")

    for case in cases:
        print_case(cluster.runs, case)
    print(
        "\nstory-lock waits: distinct transactions seen waiting for the story lock (pg_locks, sampled every "
        f"{SAMPLE_INTERVAL:g} s: shorter waits are missed), with (samples with a waiter / samples); each stored "
        "article takes the lock once; CPU s/page: all the workers' CPU of the round over its article pages, each "
        "crawl's process start included; PG conns peak: connections to the database, the sampler's own left out"
    )
    model = capacity_model(cluster.runs, options.new_per_poll)
    load_after = os.getloadavg()
    print(
        f"\n{time.monotonic() - started:.0f} s in all; load average {load_before[0]:.1f} at start, "
        f"{load_after[0]:.1f} at the end ({cores} cores)"
    )
    if options.json:
        figures = [{**asdict(r), "pages_per_s": r.pages_per_s, "cpu_per_page": r.cpu_per_page} for r in cluster.runs]
        options.json.write_text(json.dumps({"runs": figures, "model": model}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
