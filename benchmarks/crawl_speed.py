#!/usr/bin/env python3
"""Crawl-speed benchmark: a crawl of a local news web against trafilatura's extraction alone.

``python3 benchmarks/crawl_speed.py [--pages N] [--corpus DIR]`` does, in one invocation:

1. picks ``N`` (default 300) real pages of the test corpus (``--corpus``, else
   ``$AI4S_TEST_CORPUS``, else ``../shared/corpus`` next to the project): pages with
   ``body_complete: true``, any language, never ``relevance/``, in a seeded order;
2. **A** - times :func:`crawler.text.extract.extract_article` on every page, one after the other,
   in this process;
3. **B** - times the same through :func:`crawler.crawl.pool.make_extraction_pool` (one process
   per core), every page submitted at once; the pool is warmed first, so its start-up is not timed;
4. **the crawl** - serves the same pages from 2-4 :class:`crawler.app.webserver.LocalSite` sites on
   loopback addresses (news-like URLs, the corpus charset in ``Content-Type``, a sitemap and a
   permissive robots.txt per site), runs ``python -m crawler crawl`` on them in a subprocess
   into a fresh SQLite file and times it end to end (wall clock of the subprocess) and in run
   (``crawl_runs.started_at`` to ``finished_at``), while sampling the memory and CPU time of its
   process tree (crawl process, fork server, extraction workers) from ``/proc``;
5. prints pages/s and articles/s of A, B and the crawl, the ratios crawl/B and crawl/A, the
   crawl's peak memory, a timeline of the crawl and where its CPU time went (``--json FILE``
   writes the same figures).

Every figure comes from this run and the ratios compare runs of this invocation; nothing is
hard-coded. The issue's goal is a crawl at 0.8 of B's pages/s or more. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # importable without ``pip install -e .``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import descendants, parse_db_time, proc_stat, proc_values, resolve_corpus, wait_or_kill  # noqa: E402

if TYPE_CHECKING:
    from crawler.app.webserver import LocalSite

#: Loopback addresses of the benchmark's sites (one site per address, up to four).
SITE_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
#: The issue's goal: the crawl at this share of B (extraction alone, in the pool) or more.
TARGET_RATIO = 0.8
#: Scrapy settings of the benchmark crawl (no politeness delays: the sites are ours, on loopback).
CRAWL_SETTINGS = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "CONCURRENT_REQUESTS=64",
)
#: Dates in the news-like URLs start here, one day per page of a site.
FIRST_DATE = date(2024, 1, 1)
#: Languages whose pages do not load py3langid (detected by script); warm-up pages avoid them.
_SCRIPT_LANGUAGES = ("zh", "ja", "ko")
#: Roles of the processes of the crawl's tree, and of this process's serving threads.
CRAWL_PROCESS = "crawl process (reactor, DB writer)"
WORKER = "extraction workers"
FORK_SERVER = "fork server"
TRACKER = "multiprocessing resource tracker"
WEB_SERVER = "web server (threads of this process)"
KIB_PER_MIB = 1024


# -- the pages ---------------------------------------------------------------------------------
@dataclass
class BenchPage:
    """One corpus page as the benchmark serves and extracts it."""

    source: str
    id: str
    encoding: str
    language: str
    body: bytes = field(repr=False)
    url: str = ""
    """Absolute URL on its benchmark site (set by :func:`build_sites`)."""


def load_pages(corpus: Path, count: int, seed: int) -> list[BenchPage]:
    """``count`` pages with a complete ground-truth body, from every corpus source but ``relevance/``.

    Candidates are sorted by (source, id), then shuffled with ``seed``: the same pages in the
    same order on every run, mixing the corpus sources.
    """
    candidates: list[tuple[str, str, dict[str, Any]]] = []
    for source_dir in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != "relevance"):
        for meta_file in sorted(source_dir.glob("*.json")):
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("body_complete") is True:
                candidates.append((source_dir.name, meta_file.name[: -len(".json")], meta))
    random.Random(seed).shuffle(candidates)
    pages = []
    for source, page_id, meta in candidates[:count]:
        html_file = corpus / source / (meta.get("html_file") or f"{page_id}.html.gz")
        pages.append(
            BenchPage(
                source,
                page_id,
                (meta.get("encoding") or "utf-8").lower(),
                meta.get("language") or "und",
                gzip.decompress(html_file.read_bytes()),
            )
        )
    return pages


# -- the local news web -------------------------------------------------------------------------
def _slug(text: str) -> str:
    """``text`` reduced to URL-safe characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "page"


def build_sites(pages: list[BenchPage], site_count: int) -> list[tuple[LocalSite, list[BenchPage]]]:
    """Bind ``site_count`` sites (not serving yet) and share ``pages`` among them, round robin.

    Each page is served at ``/news/YYYY/MM/DD/<source>-<id>.html`` with ``Content-Type:
    text/html; charset=<corpus encoding>``; each site has a ``/sitemap.xml`` listing its pages
    and a ``/robots.txt`` that allows everything and names the sitemap. Sets every page's ``url``.
    """
    from crawler.app.webserver import LocalSite, Reply

    sites: list[tuple[LocalSite, list[BenchPage]]] = []
    for number in range(site_count):
        site = LocalSite(f"bench{number + 1}", host=SITE_HOSTS[number])
        share = pages[number::site_count]
        entries = []
        for index, page in enumerate(share):
            day = FIRST_DATE + timedelta(days=index)
            path = f"/news/{day:%Y/%m/%d}/{_slug(page.source)}-{_slug(page.id)}.html"
            page.url = site.add(path, Reply(200, page.body, {"Content-Type": f"text/html; charset={page.encoding}"}))
            entries.append(f"<url><loc>{page.url}</loc><lastmod>{day.isoformat()}</lastmod></url>")
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + "\n".join(entries) + "\n</urlset>\n"
        )
        site.add(
            "/sitemap.xml", Reply(200, sitemap.encode("utf-8"), {"Content-Type": "application/xml; charset=utf-8"})
        )
        robots = f"User-agent: *\nAllow: /\n\nSitemap: {site.url('/sitemap.xml')}\n"
        site.add("/robots.txt", Reply(200, robots.encode("ascii"), {"Content-Type": "text/plain; charset=utf-8"}))
        sites.append((site, share))
    return sites


def sources_toml(sites: list[tuple[LocalSite, list[BenchPage]]]) -> str:
    """A sources file with one source per site reading its sitemap, with a budget above the site's size."""
    return "\n".join(
        f'[[source]]\nname = "{site.name}"\nsitemaps = [{json.dumps(site.url("/sitemap.xml"))}]\n'
        f"max_pages = {len(share) + 50}\n"
        for site, share in sites
    )


# -- measurements -------------------------------------------------------------------------------
@dataclass
class Measurement:
    """Pages and articles done in so many seconds, and the CPU time extraction took."""

    name: str
    pages: int
    articles: int
    seconds: float
    extraction_cpu_seconds: float | None = None
    """CPU time of extraction: this process for A, the pool's workers for B and the crawl."""

    @property
    def pages_per_s(self) -> float:
        """Pages per second."""
        return self.pages / self.seconds if self.seconds > 0 else float("nan")

    @property
    def articles_per_s(self) -> float:
        """Articles per second."""
        return self.articles / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The figures, rates included, for ``--json``."""
        return {**asdict(self), "pages_per_s": self.pages_per_s, "articles_per_s": self.articles_per_s}


def _warm_pages(pages: list[BenchPage], count: int) -> list[BenchPage]:
    """``count`` pages whose extraction loads everything loaded lazily (py3langid's model: not CJK)."""
    chosen = [p for p in pages if not p.language.startswith(_SCRIPT_LANGUAGES)][:count]
    return chosen or pages[:count]


def extraction_serial(pages: list[BenchPage]) -> Measurement:
    """Baseline A: ``extract_article`` on every page, one after the other, in this process.

    One page is extracted first, untimed, so that the lazy load of py3langid's model is not timed.
    """
    from crawler.text.extract import ExtractedArticle, extract_article

    for page in _warm_pages(pages, 1):
        extract_article(page.body, page.url, page.encoding, "text/html")
    articles = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for page in pages:
        result = extract_article(page.body, page.url, page.encoding, "text/html")
        articles += isinstance(result, ExtractedArticle)
    return Measurement(
        "A  extraction only, serial", len(pages), articles, time.perf_counter() - start, time.process_time() - cpu_start
    )


def extraction_pool(pages: list[BenchPage]) -> Measurement:
    """Baseline B: every page submitted at once to ``make_extraction_pool()``, timed until the last is done.

    The pool is warmed first with two pages per worker, submitted together, so that the fork
    server's and the workers' start and each worker's load of py3langid are not timed.
    """
    from concurrent.futures import wait

    from crawler.crawl.pool import make_extraction_pool
    from crawler.text.extract import ExtractedArticle, extract_article

    pool = make_extraction_pool()
    try:
        workers = getattr(pool, "_max_workers", os.cpu_count() or 1)
        wait(
            [
                pool.submit(extract_article, p.body, p.url, p.encoding, "text/html")
                for p in _warm_pages(pages, 2 * workers)
            ]
        )
        worker_pids = list(getattr(pool, "_processes", None) or {})
        cpu_start = _cpu_seconds(worker_pids)
        start = time.perf_counter()
        futures = [pool.submit(extract_article, p.body, p.url, p.encoding, "text/html") for p in pages]
        wait(futures)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds(worker_pids) - cpu_start if worker_pids else None
        articles = sum(isinstance(f.result(), ExtractedArticle) for f in futures)
    finally:
        pool.shutdown(wait=True)
    return Measurement(f"B  extraction only, pool ({workers} processes)", len(pages), articles, seconds, cpu)


# -- /proc ----------------------------------------------------------------------------------------


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes ``pids`` (0 for those that are gone)."""
    return sum(stat[1] for stat in map(proc_stat, pids) if stat is not None)


@dataclass
class ProcessSeen:
    """What the sampler saw of one process of the crawl's tree."""

    pid: int
    role: str
    cpu_seconds: float = 0.0
    """utime + stime at its last sample (the last fraction of a second of a process may be missed)."""
    peak_rss_kib: int = 0
    """VmHWM: the kernel's record of the process's peak resident set."""


class TreeSampler(threading.Thread):
    """Samples the crawl's process tree from ``/proc`` every ``interval`` seconds.

    Each sample sums the tree's PSS (proportional set size: a page shared by several processes,
    as between the fork server and the workers it forked, is split among them, so the sum counts
    it once) and its RSS (shared pages counted in every process), keeping the peak of both; it
    also records the CPU seconds used so far by role, this process's serving threads included
    (this process's CPU time less the sampler thread's own).
    """

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(name="tree-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.stop_event = threading.Event()
        self.processes: dict[int, ProcessSeen] = {}
        self.series: list[tuple[float, dict[str, float]]] = []
        """(epoch seconds, CPU seconds by role so far) at every sample."""
        self.peak_pss_kib = 0
        self.peak_pss_by_process: list[tuple[str, int]] = []
        """(role, PSS in KiB) of every process of the tree at the sample of the peak."""
        self.peak_rss_sum_kib = 0
        self.peak_processes = 0
        self._server_base = 0.0

    def _role(self, pid: int) -> str:
        """What a process of the tree is, by its parent and command line."""
        if pid == self.root:
            return CRAWL_PROCESS
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return "other"
        if b"resource_tracker" in cmdline:
            return TRACKER
        if b"forkserver" in cmdline:  # the workers are forked from the fork server: same command line
            stat = proc_stat(pid)
            return FORK_SERVER if stat is not None and stat[0] == self.root else WORKER
        if cmdline == self._root_cmdline():  # a baseline's pool workers are forked from it: its command line
            return WORKER
        return "other"

    def _root_cmdline(self) -> bytes:
        """The command line of the tree's root (empty once it is gone)."""
        try:
            return Path(f"/proc/{self.root}/cmdline").read_bytes()
        except OSError:
            return b""

    def sample(self) -> None:
        """Take one sample of the tree."""
        pss = rss = count = 0
        by_process: list[tuple[str, int]] = []
        for pid in descendants(self.root):
            stat = proc_stat(pid)
            status = proc_values(pid, "status", ("VmRSS", "VmHWM"))
            if stat is None or not status:
                continue
            seen = self.processes.get(pid)
            if seen is None:
                seen = self.processes[pid] = ProcessSeen(pid, self._role(pid))
            seen.cpu_seconds = stat[1]
            seen.peak_rss_kib = max(seen.peak_rss_kib, status.get("VmHWM", 0))
            rss += status.get("VmRSS", 0)
            process_pss = proc_values(pid, "smaps_rollup", ("Pss",)).get("Pss", status.get("VmRSS", 0))
            pss += process_pss
            by_process.append((seen.role, process_pss))
            count += 1
        if pss > self.peak_pss_kib:
            self.peak_pss_kib, self.peak_processes, self.peak_pss_by_process = pss, count, by_process
        self.peak_rss_sum_kib = max(self.peak_rss_sum_kib, rss)
        self.series.append((time.time(), self.cpu_by_role()))

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds used so far, summed by role; called from the sampler thread only.

        The web server's share is this process's CPU time since sampling began less the
        sampler thread's own (the main thread only waits for the crawl meanwhile).
        """
        totals: dict[str, float] = {}
        for seen in self.processes.values():
            totals[seen.role] = totals.get(seen.role, 0.0) + seen.cpu_seconds
        totals[WEB_SERVER] = max(0.0, time.process_time() - time.thread_time() - self._server_base)
        return dict(totals)

    def run(self) -> None:
        """Sample until :meth:`stop`, then once more."""
        self._server_base = time.process_time() - time.thread_time()
        while not self.stop_event.wait(0 if not self.series else self.interval):
            self.sample()
        self.sample()

    def stop(self) -> None:
        """Stop sampling, after a last sample (processes gone by then keep their last figures)."""
        self.stop_event.set()
        self.join()

    def cpu_totals(self) -> dict[str, float]:
        """CPU seconds by role at the last sample."""
        return dict(self.series[-1][1]) if self.series else {}


# -- the crawl ----------------------------------------------------------------------------------
@dataclass
class DatabaseFacts:
    """What the crawl left in its database."""

    articles: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    started: datetime | None = None
    finished: datetime | None = None
    status: str | None = None
    stored_at: list[float] = field(default_factory=list)
    """Epoch seconds at which each fetched URL was recorded (``fetched_urls.first_fetched``), sorted."""


def _epoch(value: datetime | None) -> float:
    """``value`` in epoch seconds (NaN for ``None``)."""
    return value.timestamp() if value is not None else float("nan")


def read_database(db_file: Path) -> DatabaseFacts:
    """Articles stored, fetched URLs by outcome and time, and the last crawl run's times and status."""
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        facts = DatabaseFacts(articles=connection.execute("SELECT count(*) FROM articles").fetchone()[0])
        facts.outcomes = dict(connection.execute("SELECT outcome, count(*) FROM fetched_urls GROUP BY outcome"))
        row = connection.execute(
            "SELECT started_at, finished_at, status FROM crawl_runs ORDER BY id DESC LIMIT 1"
        ).fetchone() or (None, None, None)
        facts.started, facts.finished, facts.status = parse_db_time(row[0]), parse_db_time(row[1]), row[2]
        facts.stored_at = sorted(
            _epoch(parse_db_time(value)) for (value,) in connection.execute("SELECT first_fetched FROM fetched_urls")
        )
    finally:
        connection.close()
    return facts


@dataclass
class SteadyState:
    """The crawl between the 10th and the 90th percentile of its store times."""

    pages_per_s: float
    cpu_ms_per_page: dict[str, float]
    """CPU milliseconds per stored page, by role, over the sampled window around those times."""
    ceiling_pages_per_s: float
    """usable cores / total CPU per page: the rate at which the cores would be saturated."""


def steady_state(
    stored_at: list[float], series: list[tuple[float, dict[str, float]]], cores: int
) -> SteadyState | None:
    """Rate and CPU cost per page of the crawl's middle, away from its start-up and its end."""
    if len(stored_at) < 50 or len(series) < 3:
        return None
    low, high = round(0.1 * (len(stored_at) - 1)), round(0.9 * (len(stored_at) - 1))
    t_low, t_high = stored_at[low], stored_at[high]
    if t_high <= t_low:
        return None
    first = max((s for s in series if s[0] <= t_low), key=lambda s: s[0], default=series[0])
    last = min((s for s in series if s[0] >= t_high), key=lambda s: s[0], default=series[-1])
    window = sum(first[0] < t <= last[0] for t in stored_at)
    if window < 5:
        return None
    cpu = {role: 1000 * (last[1].get(role, 0.0) - first[1].get(role, 0.0)) / window for role in last[1]}
    per_page = sum(cpu.values()) / 1000
    return SteadyState((high - low) / (t_high - t_low), cpu, cores / per_page if per_page > 0 else float("nan"))


def _quantile(values: list[float], share: float) -> float:
    """The value at ``share`` (0 to 1) of the sorted ``values`` (NaN if empty)."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(share * (len(values) - 1))))]


def crawl_timeline(start: float, end: float, facts: DatabaseFacts, requested_at: list[float]) -> dict[str, float]:
    """Moments of the crawl, in seconds from the subprocess's start (server log, database rows, clock)."""
    moments = {
        "crawl run row created (started_at)": _epoch(facts.started),
        "first article page requested": _quantile(requested_at, 0),
        "half of the article pages requested": _quantile(requested_at, 0.5),
        "last article page requested": _quantile(requested_at, 1),
        "first page stored": _quantile(facts.stored_at, 0),
        "half of the pages stored": _quantile(facts.stored_at, 0.5),
        "last page stored": _quantile(facts.stored_at, 1),
        "crawl run closed (finished_at)": _epoch(facts.finished),
        "crawl process exited": end,
    }
    return {name: moment - start for name, moment in moments.items()}


@dataclass
class CrawlResult:
    """Everything measured of the crawl subprocess."""

    end_to_end: Measurement
    in_run: Measurement | None
    returncode: int
    status: str | None
    outcomes: dict[str, int]
    article_requests: int
    other_requests: int
    peak_pss_mib: float
    peak_rss_sum_mib: float
    peak_processes: int
    peak_pss_by_process: list[tuple[str, float]]
    largest_process_mib: float
    samples: int
    cpu_seconds: dict[str, float]
    timeline: dict[str, float]
    steady: SteadyState | None
    log_warnings: int
    log_tail: list[str]
    command: list[str]


def run_sampled(
    command: list[str], workdir: Path, name: str, interval: float, timeout: float
) -> tuple[int, float, float, float, TreeSampler]:
    """Run ``command`` (from the project root; output to ``workdir/<name>.stdout`` and ``.stderr``) while
    sampling its process tree: (exit status, wall-clock seconds, start and end in epoch seconds, the sampler)."""
    with open(workdir / f"{name}.stdout", "wb") as out, open(workdir / f"{name}.stderr", "wb") as err:
        start, start_epoch = time.perf_counter(), time.time()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = TreeSampler(process.pid, interval)
        sampler.start()
        try:
            wait_or_kill(process, timeout, f"crawl_speed: {name}")
        finally:
            seconds, end_epoch = time.perf_counter() - start, time.time()
            sampler.stop()
    return process.returncode, seconds, start_epoch, end_epoch, sampler


def run_crawl(
    sites: list[tuple[LocalSite, list[BenchPage]]],
    workdir: Path,
    extra_settings: list[str],
    interval: float,
    timeout: float,
    cores: int,
) -> CrawlResult:
    """Crawl the (serving) sites with ``python -m crawler crawl`` in a subprocess, into a new SQLite
    file in ``workdir``, and measure it."""
    sources_file = workdir / "sources.toml"
    sources_file.write_text(sources_toml(sites), encoding="utf-8")
    db_file = workdir / "bench.sqlite3"
    command = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file), "--db", f"sqlite:///{db_file}"]
    for setting in (*CRAWL_SETTINGS, *extra_settings):
        command += ["-s", setting]
    command += ["--log-level", "WARNING"]
    log_start = {site.name: len(site.log) for site, _ in sites}
    returncode, seconds, start_epoch, end_epoch, sampler = run_sampled(command, workdir, "crawl", interval, timeout)
    article_paths = {site.name: {p.url[len(site.base_url) :] for p in share} for site, share in sites}
    requested_at: list[float] = []
    other_requests = 0
    for site, _ in sites:
        for record in site.log[log_start[site.name] :]:
            if record.path in article_paths[site.name] and record.status == 200:
                requested_at.append(record.time)
            else:
                other_requests += 1
    requested_at.sort()
    facts = read_database(db_file) if db_file.exists() else DatabaseFacts()
    pages_done = sum(
        count for outcome, count in facts.outcomes.items() if outcome in ("article", "duplicate", "no_text", "not_html")
    ) or len(requested_at)
    cpu = sampler.cpu_totals()
    end_to_end = Measurement("C  crawl, end to end (subprocess)", pages_done, facts.articles, seconds, cpu.get(WORKER))
    in_run = None
    if facts.started is not None and facts.finished is not None:
        in_run = Measurement(
            "C' crawl, in run (crawl_runs row)",
            pages_done,
            facts.articles,
            (facts.finished - facts.started).total_seconds(),
            cpu.get(WORKER),
        )
    log_lines = (workdir / "crawl.stderr").read_text(encoding="utf-8", errors="replace").splitlines()
    return CrawlResult(
        end_to_end=end_to_end,
        in_run=in_run,
        returncode=returncode,
        status=facts.status,
        outcomes=facts.outcomes,
        article_requests=len(requested_at),
        other_requests=other_requests,
        peak_pss_mib=sampler.peak_pss_kib / KIB_PER_MIB,
        peak_rss_sum_mib=sampler.peak_rss_sum_kib / KIB_PER_MIB,
        peak_processes=sampler.peak_processes,
        peak_pss_by_process=[(role, kib / KIB_PER_MIB) for role, kib in sampler.peak_pss_by_process],
        largest_process_mib=max((p.peak_rss_kib for p in sampler.processes.values()), default=0) / KIB_PER_MIB,
        samples=len(sampler.series),
        cpu_seconds=cpu,
        timeline=crawl_timeline(start_epoch, end_epoch, facts, requested_at),
        steady=steady_state(facts.stored_at, sampler.series, cores),
        log_warnings=sum(" WARNING: " in line or " ERROR: " in line or "Traceback" in line for line in log_lines),
        log_tail=log_lines[-15:],
        command=command,
    )


# -- the plain-Scrapy baselines ----------------------------------------------------------------
#: The baselines of ``baseline_spiders.py``: mode, and the name of its row.
BASELINES = (
    ("fetch", "fetch only (plain Scrapy, no extraction)"),
    ("inline", "inline: trafilatura.extract in the callback"),
    ("pool", "ceiling: trafilatura.extract, 2-process pool"),
)
PRODUCT = "product: python -m crawler crawl"


@dataclass
class SideBySide:
    """One run of the side-by-side table: pages/s in run and end to end, peak PSS of its tree, CPU."""

    name: str
    in_run: Measurement | None
    end_to_end: Measurement
    returncode: int
    peak_pss_mib: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """pages/s in run (end to end where the run's own times are missing)."""
        return (self.in_run or self.end_to_end).pages_per_s

    def as_dict(self) -> dict[str, Any]:
        """The figures, for ``--json``."""
        return {
            "name": self.name,
            "in_run": self.in_run.as_dict() if self.in_run else None,
            "end_to_end": self.end_to_end.as_dict(),
            "returncode": self.returncode,
            "peak_pss_mib": self.peak_pss_mib,
            "cpu_seconds": self.cpu_seconds,
        }


def run_baseline(
    mode: str,
    name: str,
    sites: list[tuple[LocalSite, list[BenchPage]]],
    workdir: Path,
    extra_settings: list[str],
    interval: float,
    timeout: float,
) -> SideBySide:
    """Run one plain-Scrapy baseline (``baseline_spiders.py MODE``) on the sites' sitemaps, with the crawl's
    politeness-off settings, and measure it like the crawl."""
    out = workdir / f"baseline-{mode}.json"
    command = [sys.executable, str(Path(__file__).with_name("baseline_spiders.py")), mode, "--out", str(out)]
    command += [site.url("/sitemap.xml") for site, _ in sites]
    for setting in (*CRAWL_SETTINGS, *extra_settings):
        command += ["-s", setting]
    returncode, seconds, _, _, sampler = run_sampled(command, workdir, f"baseline-{mode}", interval, timeout)
    figures = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    pages, articles = int(figures.get("pages", 0)), int(figures.get("articles", 0))
    in_run = None
    if "started" in figures and "finished" in figures:
        in_run = Measurement(name, pages, articles, figures["finished"] - figures["started"])
    return SideBySide(
        name,
        in_run,
        Measurement(name, pages, articles, seconds),
        returncode,
        sampler.peak_pss_kib / KIB_PER_MIB,
        sum(v for k, v in sampler.cpu_totals().items() if k != WEB_SERVER),
    )


def product_row(crawl: CrawlResult) -> SideBySide:
    """The crawl as a row of the side-by-side table."""
    return SideBySide(
        PRODUCT,
        crawl.in_run,
        crawl.end_to_end,
        crawl.returncode,
        crawl.peak_pss_mib,
        sum(v for k, v in crawl.cpu_seconds.items() if k != WEB_SERVER),
    )


#: The issue's goals: the product at these shares of the ceiling and of the inline spider or more, under this PSS.
TARGET_CEILING_RATIO = 0.8
TARGET_INLINE_RATIO = 1.5
TARGET_PSS_MIB = 600


def side_by_side(rows: list[SideBySide]) -> tuple[str, dict[str, Any]]:
    """The side-by-side table (baselines and product), its two ratios and the goals, and the same for ``--json``."""
    lines = [
        "side by side on the same served pages (pages/s in run: spider opened to closed, crawl_runs row for the "
        "product; end to end: the subprocess's wall clock):",
        f"  {'run':<46} {'pages':>5} {'articles':>8} {'pages/s':>8} {'e2e p/s':>8} {'peak PSS MiB':>12} {'CPU s':>7}",
    ]
    for row in rows:
        lines.append(
            f"  {row.name:<46} {row.end_to_end.pages:>5} {row.end_to_end.articles:>8} {row.rate:>8.1f} "
            f"{row.end_to_end.pages_per_s:>8.1f} {row.peak_pss_mib:>12.0f} {row.cpu_seconds:>7.1f}"
            + ("" if row.returncode == 0 else f"  (exit {row.returncode})")
        )
    by_name = {row.name: row for row in rows}
    product, inline, ceiling = by_name.get(PRODUCT), by_name.get(BASELINES[1][1]), by_name.get(BASELINES[2][1])
    ratios: dict[str, float] = {}
    if product and inline and inline.rate:
        ratios["product/inline"] = product.rate / inline.rate
        ratios["product/inline end to end"] = product.end_to_end.pages_per_s / inline.end_to_end.pages_per_s
    if product and ceiling and ceiling.rate:
        ratios["product/ceiling"] = product.rate / ceiling.rate
        ratios["product/ceiling end to end"] = product.end_to_end.pages_per_s / ceiling.end_to_end.pages_per_s
    if ratios:
        lines.append("  ratios of pages/s: " + "   ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if product and "product/inline" in ratios and "product/ceiling" in ratios:
        goals = [
            (f"product >= {TARGET_CEILING_RATIO} x ceiling", ratios["product/ceiling"] >= TARGET_CEILING_RATIO),
            (f"product >= {TARGET_INLINE_RATIO} x inline", ratios["product/inline"] >= TARGET_INLINE_RATIO),
            (f"product's peak PSS < {TARGET_PSS_MIB} MiB", product.peak_pss_mib < TARGET_PSS_MIB),
        ]
        lines.append("  goals: " + "; ".join(f"{goal}: {'met' if met else 'NOT met'}" for goal, met in goals))
    return "\n".join(lines), {"rows": [row.as_dict() for row in rows], "ratios": ratios}


# -- the report ---------------------------------------------------------------------------------
def _versions() -> str:
    """Python, Scrapy, trafilatura and lxml versions."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for package in ("scrapy", "trafilatura", "lxml"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def _ratio(numerator: Measurement | None, denominator: Measurement) -> float | None:
    """pages/s of ``numerator`` over pages/s of ``denominator`` (``None`` if there is no numerator)."""
    if numerator is None or not denominator.pages_per_s:
        return None
    return numerator.pages_per_s / denominator.pages_per_s


def usable_cores() -> int:
    """The CPUs this process may run on (``os.cpu_count`` where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def report(
    pages: list[BenchPage],
    a: Measurement,
    b: Measurement,
    crawl: CrawlResult,
    sites: int,
    extra_settings: list[str],
    interval: float,
) -> tuple[str, dict[str, Any]]:
    """The printed report and the figures for ``--json``."""
    mix = Counter(p.source for p in pages)
    html_mib = sum(len(p.body) for p in pages) / (1024 * 1024)
    cores = usable_cores()
    lines = [
        f"machine: {os.cpu_count()} CPUs (os.cpu_count), {cores} usable by this process, {platform.machine()}; "
        + _versions(),
        f"pages:   {len(pages)} corpus pages, {html_mib:.1f} MiB of HTML ("
        + ", ".join(f"{source} {count}" for source, count in sorted(mix.items()))
        + f"), served by {sites} sites",
        f"crawl:   -s {' -s '.join((*CRAWL_SETTINGS, *extra_settings))}",
        "",
        f"{'run':<42} {'pages':>5} {'articles':>8} {'seconds':>8} {'pages/s':>8} {'articles/s':>10} "
        f"{'extraction CPU ms/page':>22}",
    ]
    for m in [a, b, crawl.end_to_end] + ([crawl.in_run] if crawl.in_run else []):
        per_page = (
            f"{1000 * m.extraction_cpu_seconds / m.pages:22.1f}"
            if m.extraction_cpu_seconds is not None and m.pages
            else " " * 22
        )
        lines.append(
            f"{m.name:<42} {m.pages:>5} {m.articles:>8} {m.seconds:>8.2f} {m.pages_per_s:>8.1f} "
            f"{m.articles_per_s:>10.1f} {per_page}"
        )
    ratios = {
        "crawl end-to-end/B": _ratio(crawl.end_to_end, b),
        "crawl in-run/B": _ratio(crawl.in_run, b),
        "crawl end-to-end/A": _ratio(crawl.end_to_end, a),
        "crawl in-run/A": _ratio(crawl.in_run, a),
        "B/A": _ratio(b, a),
    }
    lines += ["", "ratios of pages/s: " + "   ".join(f"{k} {v:.2f}" for k, v in ratios.items() if v is not None)]
    in_run_ratio = ratios["crawl in-run/B"]
    if in_run_ratio is not None:
        lines.append(
            f"goal, crawl >= {TARGET_RATIO} x B = {TARGET_RATIO * b.pages_per_s:.1f} pages/s: "
            f"{'met' if in_run_ratio >= TARGET_RATIO else 'NOT met'} in run ({in_run_ratio:.2f}), "
            f"{'met' if (ratios['crawl end-to-end/B'] or 0) >= TARGET_RATIO else 'not met'} "
            f"end to end ({ratios['crawl end-to-end/B']:.2f})"
        )
    lines += [
        "",
        "peak memory of the crawl's process tree (crawl process, fork server, extraction workers, resource tracker),",
        f"sampled from /proc every {interval:g} s ({crawl.samples} samples):",
        f"  {crawl.peak_pss_mib:7.0f} MiB  PSS summed over the tree (shared pages counted once; "
        f"{crawl.peak_processes} processes at the peak)",
        "           at the peak: " + ", ".join(f"{role} {mib:.0f}" for role, mib in crawl.peak_pss_by_process) + " MiB",
        f"  {crawl.peak_rss_sum_mib:7.0f} MiB  RSS summed over the tree (pages the forked workers share counted "
        "in each: an upper bound)",
        f"  {crawl.largest_process_mib:7.0f} MiB  largest single process (its VmHWM)",
        "",
        "timeline of the crawl, seconds from the subprocess's start (server log, database timestamps):",
        *(f"  {name:<42} {moment:7.2f}" for name, moment in crawl.timeline.items()),
    ]
    if crawl.steady is not None:
        s = crawl.steady
        lines += [
            f"  steady state (10th to 90th percentile of store times): {s.pages_per_s:.1f} pages/s stored "
            f"({s.pages_per_s / b.pages_per_s:.2f} x B)",
            "    CPU ms per page there: "
            + ", ".join(
                f"{role} {ms:.1f}" for role, ms in sorted(s.cpu_ms_per_page.items(), key=lambda i: -i[1]) if ms >= 0.05
            ),
            f"    -> all {cores} cores busy at {s.ceiling_pages_per_s:.1f} pages/s "
            f"({s.ceiling_pages_per_s / b.pages_per_s:.2f} x B): the CPU-bound ceiling of this crawl",
        ]
    total_cpu = sum(crawl.cpu_seconds.values())
    lines += ["", "CPU seconds during the crawl (utime + stime from /proc; the web server from this process's own):"]
    for role, seconds in sorted(crawl.cpu_seconds.items(), key=lambda item: -item[1]):
        lines.append(f"  {role:<42} {seconds:7.2f}")
    lines += [
        f"  {'total':<42} {total_cpu:7.2f} of {crawl.end_to_end.seconds * cores:.2f} available "
        f"({cores} cores x {crawl.end_to_end.seconds:.2f} s)",
        "",
        f"crawl: exit {crawl.returncode}, run status {crawl.status}; fetched URLs by outcome: "
        + (", ".join(f"{k} {v}" for k, v in sorted(crawl.outcomes.items())) or "none")
        + f"; {crawl.article_requests} article pages served, {crawl.other_requests} other requests; "
        f"{crawl.log_warnings} warning/error lines in the crawl log",
    ]
    figures = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "usable_cores": cores,
            "arch": platform.machine(),
            "versions": _versions(),
        },
        "pages": len(pages),
        "html_mib": html_mib,
        "page_sources": dict(mix),
        "sites": sites,
        "crawl_command": crawl.command,
        "extraction_serial": a.as_dict(),
        "extraction_pool": b.as_dict(),
        "crawl_end_to_end": crawl.end_to_end.as_dict(),
        "crawl_in_run": crawl.in_run.as_dict() if crawl.in_run else None,
        "ratios": ratios,
        "target_ratio": TARGET_RATIO,
        "crawl_memory_mib": {
            "peak_pss_tree": crawl.peak_pss_mib,
            "peak_rss_sum_tree": crawl.peak_rss_sum_mib,
            "largest_process_vmhwm": crawl.largest_process_mib,
            "sample_interval_s": interval,
            "samples": crawl.samples,
        },
        "crawl_cpu_seconds": crawl.cpu_seconds,
        "crawl_timeline_s": crawl.timeline,
        "crawl_steady_state": asdict(crawl.steady) if crawl.steady else None,
        "crawl_returncode": crawl.returncode,
        "crawl_status": crawl.status,
        "fetched_outcomes": crawl.outcomes,
        "article_requests": crawl.article_requests,
        "other_requests": crawl.other_requests,
        "crawl_log_warnings": crawl.log_warnings,
    }
    return "\n".join(lines), figures


@dataclass
class Round:
    """One round of the benchmark: A, B and the crawl, one after the other."""

    a: Measurement
    b: Measurement
    crawl: CrawlResult
    baselines: list[SideBySide] = field(default_factory=list)
    """The plain-Scrapy baselines (fetch only, inline, ceiling), run before the crawl."""

    @property
    def in_run_ratio(self) -> float:
        """crawl in-run/B (end-to-end/B if the run row is missing), for choosing the median round."""
        return _ratio(self.crawl.in_run, self.b) or _ratio(self.crawl.end_to_end, self.b) or 0.0


def rounds_summary(rounds: list[Round], median: int) -> str:
    """One line per round: pages/s of A, B and the crawl, and the ratios to B."""
    lines = [
        f"{len(rounds)} rounds (pages/s; the report above is of the median round, marked *):",
        f"  {'round':<7} {'A':>6} {'B':>6} {'C e2e':>6} {'C run':>6} {'e2e/B':>6} {'run/B':>6} {'steady/B':>8}",
    ]
    for number, r in enumerate(rounds):
        run = r.crawl.in_run.pages_per_s if r.crawl.in_run else float("nan")
        steady = r.crawl.steady.pages_per_s / r.b.pages_per_s if r.crawl.steady else float("nan")
        lines.append(
            f"  {str(number + 1) + ('*' if number == median else ''):<7} {r.a.pages_per_s:6.1f} "
            f"{r.b.pages_per_s:6.1f} {r.crawl.end_to_end.pages_per_s:6.1f} {run:6.1f} "
            f"{_ratio(r.crawl.end_to_end, r.b) or float('nan'):6.2f} {r.in_run_ratio:6.2f} {steady:8.2f}"
        )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=600, help="corpus pages to use (default 600: all usable ones)")
    parser.add_argument(
        "--corpus", help="test corpus directory (default: $AI4S_TEST_CORPUS, else ../shared/corpus next to the project)"
    )
    parser.add_argument("--sites", type=int, default=3, choices=(2, 3, 4), help="loopback sites serving the pages")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run A, B and the crawl K times in turn and report the median round (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the choice and order of the pages (default 0)")
    parser.add_argument(
        "-s",
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Scrapy setting for the crawl, after the benchmark's own (repeatable)",
    )
    parser.add_argument("--sample-interval", type=float, default=0.1, help="seconds between /proc samples")
    parser.add_argument("--timeout", type=float, default=900, help="kill the crawl after this many seconds")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, crawl log, sources)")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: 0 on success, 1 if the crawl failed, 2 without the test corpus."""
    args = parse_args(argv)
    if not Path("/proc/self/stat").exists():
        print("crawl_speed: this benchmark reads /proc (Linux only)", file=sys.stderr)
        return 2
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(
            f"crawl_speed: this benchmark needs the test corpus (real web pages as <source>/<id>.html.gz + "
            f"<id>.json, with index.jsonl), and there is none at {corpus}.\n"
            "Put it at ../shared/corpus next to the project, or pass --corpus DIR, or set AI4S_TEST_CORPUS.",
            file=sys.stderr,
        )
        return 2
    pages = load_pages(corpus, args.pages, args.seed)
    if not pages:
        print(f"crawl_speed: no page with body_complete: true in {corpus}", file=sys.stderr)
        return 2
    if len(pages) < args.pages:
        print(f"crawl_speed: only {len(pages)} usable pages in the corpus ({args.pages} asked for)", file=sys.stderr)
    sites = build_sites(pages, min(args.sites, len(pages)))
    workdir = Path(tempfile.mkdtemp(prefix="ai4s-bench-"))
    rounds: list[Round] = []
    try:
        for site, _ in sites:
            site.start()
        print(f"{len(pages)} pages from {corpus}", file=sys.stderr, flush=True)
        for number in range(1, args.repeat + 1):
            label = f"round {number} of {args.repeat}: " if args.repeat > 1 else ""
            print(f"{label}A: extraction only, serial ...", file=sys.stderr, flush=True)
            a = extraction_serial(pages)
            print(f"{label}B: extraction only, in the pool ...", file=sys.stderr, flush=True)
            b = extraction_pool(pages)
            round_dir = workdir / f"round-{number}"
            round_dir.mkdir()
            baselines = []
            for mode, name in BASELINES:
                print(f"{label}baseline: {name} ...", file=sys.stderr, flush=True)
                baselines.append(
                    run_baseline(mode, name, sites, round_dir, args.settings, args.sample_interval, args.timeout)
                )
            print(f"{label}crawl of {len(sites)} loopback sites ...", file=sys.stderr, flush=True)
            crawl = run_crawl(sites, round_dir, args.settings, args.sample_interval, args.timeout, usable_cores())
            rounds.append(Round(a, b, crawl, baselines))
            if crawl.returncode != 0:
                break
    finally:
        for site, _ in sites:
            site.stop()
    try:
        ranked = sorted(range(len(rounds)), key=lambda n: rounds[n].in_run_ratio)
        median = ranked[(len(ranked) - 1) // 2]
        chosen = rounds[median]
        text, figures = report(pages, chosen.a, chosen.b, chosen.crawl, len(sites), args.settings, args.sample_interval)
        table, figures["side_by_side"] = side_by_side([*chosen.baselines, product_row(chosen.crawl)])
        print("\n" + text + "\n\n" + table, flush=True)
        if len(rounds) > 1:
            print("\n" + rounds_summary(rounds, median), flush=True)
        if args.json:
            figures["rounds"] = [
                {
                    "extraction_serial": r.a.as_dict(),
                    "extraction_pool": r.b.as_dict(),
                    "crawl_end_to_end": r.crawl.end_to_end.as_dict(),
                    "crawl_in_run": r.crawl.in_run.as_dict() if r.crawl.in_run else None,
                    "crawl_steady_state": asdict(r.crawl.steady) if r.crawl.steady else None,
                }
                for r in rounds
            ]
            figures["median_round"] = median + 1
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
        failed = [r.crawl for r in rounds if r.crawl.returncode != 0 or r.crawl.log_warnings]
        if failed:
            print("\ncrawl log (last lines):\n  " + "\n  ".join(failed[0].log_tail), file=sys.stderr)
        if args.keep:
            print(f"\nwork directory kept: {workdir}", file=sys.stderr)
        return 0 if all(r.crawl.returncode == 0 for r in rounds) else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
