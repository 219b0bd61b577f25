#!/usr/bin/env python3
"""Crawl-speed benchmark: a crawl of a local news web against trafilatura's extraction alone.

Run from anywhere (``python3 benchmarks/crawl_speed.py [--pages N] [--corpus DIR]``). In one
invocation it

1. picks ``N`` real pages of the test corpus (``../shared/corpus`` next to the project, or
   ``$AI4S_TEST_CORPUS``, or ``--corpus``): pages with ``body_complete: true``, any language,
   never ``relevance/``, in a seeded (deterministic) order;
2. **A** - times :func:`crawler.extract.extract_article` on every page, serially, in this process;
3. **B** - times the same through :func:`crawler.pipelines.make_extraction_pool` (one process
   per core), all pages submitted at once, pool start-up excluded by a warm-up;
4. **crawl** - serves the same pages from 2-4 :class:`crawler.webserver.LocalSite` sites on
   loopback addresses (news-like URLs, the corpus charset in ``Content-Type``, a sitemap and
   a permissive robots.txt per site), runs ``python -m crawler crawl`` on them as a subprocess
   into a fresh SQLite file, and times it end to end (wall clock of the subprocess) and in-run
   (``crawl_runs.started_at`` -> ``finished_at``), while sampling the memory and CPU time of its
   process tree (the crawl process, the fork server and the extraction workers) from ``/proc``;
5. prints pages/s and articles/s of A, B and the crawl, the ratios crawl/B and crawl/A, the
   crawl's peak memory and where the CPU time went; ``--json FILE`` writes the same figures.

Every figure comes from this run; nothing is hard-coded. The goal set in the issue is a crawl
at 0.8 or more of B's pages/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
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

if TYPE_CHECKING:
    from crawler.webserver import LocalSite

#: Loopback addresses of the benchmark's sites (one site per address, up to four).
SITE_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
#: The goal of the issue: the crawl at this share of B (extraction alone, in the pool) or more.
TARGET_RATIO = 0.8
#: Scrapy settings of the benchmark crawl (politeness off: the sites are ours, on loopback).
CRAWL_SETTINGS = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "CONCURRENT_REQUESTS=64",
)
#: Dates of the news-like URLs start here, one day per page of a site.
FIRST_DATE = date(2024, 1, 1)
MIB = 1024 * 1024


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
    """Absolute URL on its benchmark site (set once the sites are bound)."""


def resolve_corpus(option: str | None) -> Path:
    """The corpus directory: ``--corpus``, else ``$AI4S_TEST_CORPUS``, else ``../shared/corpus``."""
    chosen = option or os.environ.get("AI4S_TEST_CORPUS") or str(PROJECT_ROOT.parent / "shared" / "corpus")
    return Path(chosen).expanduser().resolve()


def load_pages(corpus: Path, count: int, seed: int) -> list[BenchPage]:
    """``count`` pages with a complete ground-truth body, from every source but ``relevance/``.

    The candidates are sorted by (source, id) and shuffled with ``seed``, so the choice and the
    order are the same on every run and mix the corpus sources.
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
        pages.append(BenchPage(source, page_id, (meta.get("encoding") or "utf-8").lower(),
                               meta.get("language") or "und", gzip.decompress(html_file.read_bytes())))
    return pages


# -- the local news web -------------------------------------------------------------------------
def _slug(text: str) -> str:
    """``text`` reduced to URL-safe characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "page"


def build_sites(pages: list[BenchPage], site_count: int) -> list[tuple[LocalSite, list[BenchPage]]]:
    """Bind ``site_count`` sites (not serving yet) and give each a share of ``pages``, round robin.

    Every page is served at ``/news/YYYY/MM/DD/<source>-<id>.html`` with ``Content-Type:
    text/html; charset=<corpus encoding>``; each site has ``/sitemap.xml`` listing its pages and
    a ``/robots.txt`` that allows everything and names the sitemap. Sets each page's ``url``.
    """
    from crawler.webserver import LocalSite, Reply

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
        sitemap = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                   + "\n".join(entries) + "\n</urlset>\n")
        site.add("/sitemap.xml", Reply(200, sitemap.encode("utf-8"), {"Content-Type": "application/xml; charset=utf-8"}))
        robots = f"User-agent: *\nAllow: /\n\nSitemap: {site.url('/sitemap.xml')}\n"
        site.add("/robots.txt", Reply(200, robots.encode("ascii"), {"Content-Type": "text/plain; charset=utf-8"}))
        sites.append((site, share))
    return sites


def sources_toml(sites: list[tuple[LocalSite, list[BenchPage]]]) -> str:
    """A sources file with one source per site, reading the site's sitemap, budget above its size."""
    blocks = []
    for site, share in sites:
        blocks.append(f'[[source]]\nname = "{site.name}"\nsitemaps = [{json.dumps(site.url("/sitemap.xml"))}]\n'
                      f"max_pages = {len(share) + 50}\n")
    return "\n".join(blocks)


# -- measurements -------------------------------------------------------------------------------
@dataclass
class Measurement:
    """Pages and articles done in so many seconds."""

    name: str
    pages: int
    articles: int
    seconds: float

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


def _warm_page(pages: list[BenchPage]) -> BenchPage:
    """A page whose extraction loads everything lazily loaded (a non-CJK page loads py3langid)."""
    return next((p for p in pages if not p.language.startswith(("zh", "ja", "ko"))), pages[0])


def extraction_serial(pages: list[BenchPage]) -> Measurement:
    """Baseline A: ``extract_article`` on every page, one after the other, in this process.

    One page is extracted first, untimed, so that lazy imports (py3langid's model) are not timed.
    """
    from crawler.extract import ExtractedArticle, extract_article

    warm = _warm_page(pages)
    extract_article(warm.body, warm.url, warm.encoding, "text/html")
    articles = 0
    start = time.perf_counter()
    for page in pages:
        result = extract_article(page.body, page.url, page.encoding, "text/html")
        articles += isinstance(result, ExtractedArticle)
    return Measurement("A  extraction only, serial", len(pages), articles, time.perf_counter() - start)


def extraction_pool(pages: list[BenchPage]) -> tuple[Measurement, int]:
    """Baseline B: every page submitted at once to ``make_extraction_pool()``; timed until the last is done.

    The pool is warmed first with two pages per worker, submitted together, so that starting
    the fork server and the workers and loading py3langid in each are not timed. Returns the
    measurement and the number of worker processes.
    """
    from concurrent.futures import wait

    from crawler.extract import ExtractedArticle, extract_article
    from crawler.pipelines import make_extraction_pool

    pool = make_extraction_pool()
    try:
        workers = getattr(pool, "_max_workers", os.cpu_count() or 1)
        warm = [p for p in pages if not p.language.startswith(("zh", "ja", "ko"))][: 2 * workers] or pages[:1]
        wait([pool.submit(extract_article, p.body, p.url, p.encoding, "text/html") for p in warm])
        start = time.perf_counter()
        futures = [pool.submit(extract_article, p.body, p.url, p.encoding, "text/html") for p in pages]
        wait(futures)
        seconds = time.perf_counter() - start
        articles = sum(isinstance(f.result(), ExtractedArticle) for f in futures)
    finally:
        pool.shutdown(wait=True)
    return Measurement(f"B  extraction only, pool ({workers} proc)", len(pages), articles, seconds), workers


# -- the crawl's process tree -------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[int, int] | None:
    """``(ppid, utime + stime in clock ticks)`` of ``pid``, or ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _proc_kib(pid: int, name: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The ``kB`` values of ``keys`` in ``/proc/<pid>/<name>`` (empty if the process is gone)."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/{name}") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in keys:
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return values


def _descendants(root: int) -> list[int]:
    """``root`` and every process descending from it, from a scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class ProcessSeen:
    """What the sampler saw of one process of the crawl's tree."""

    pid: int
    role: str
    cpu_seconds: float = 0.0
    """utime + stime at the last sample (a process's final few ms after it may be missed)."""
    peak_rss_kib: int = 0
    """VmHWM: the kernel's own record of the process's peak resident set."""


class TreeSampler(threading.Thread):
    """Samples a process tree's memory and CPU time from ``/proc`` every ``interval`` seconds.

    At each sample it sums the tree's PSS (proportional set size: shared pages, as between
    the fork server and its forked workers, counted once in total) and its RSS (shared pages
    counted in every process), and keeps the peak of both sums.
    """

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(name="tree-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.stop_event = threading.Event()
        self.processes: dict[int, ProcessSeen] = {}
        self.peak_pss_kib = 0
        self.peak_rss_sum_kib = 0
        self.peak_processes = 0
        self.samples = 0
        self.own_cpu_seconds = 0.0
        self._ticks = os.sysconf("SC_CLK_TCK")

    def _role(self, pid: int) -> str:
        if pid == self.root:
            return "crawl process (reactor, DB writer)"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return "other"
        stat = _proc_stat(pid)
        if b"resource_tracker" in cmdline:
            return "multiprocessing resource tracker"
        if b"forkserver" in cmdline:
            return "fork server" if stat is not None and stat[0] == self.root else "extraction worker"
        return "other"

    def sample(self) -> None:
        """Take one sample of the tree."""
        pss = rss = count = 0
        for pid in _descendants(self.root):
            stat = _proc_stat(pid)
            status = _proc_kib(pid, "status", ("VmRSS", "VmHWM"))
            if stat is None or not status:
                continue
            seen = self.processes.get(pid)
            if seen is None:
                seen = self.processes[pid] = ProcessSeen(pid, self._role(pid))
            seen.cpu_seconds = stat[1] / self._ticks
            seen.peak_rss_kib = max(seen.peak_rss_kib, status.get("VmHWM", 0))
            rss += status.get("VmRSS", 0)
            pss += _proc_kib(pid, "smaps_rollup", ("Pss",)).get("Pss", status.get("VmRSS", 0))
            count += 1
        self.samples += 1
        if pss > self.peak_pss_kib:
            self.peak_pss_kib, self.peak_processes = pss, count
        self.peak_rss_sum_kib = max(self.peak_rss_sum_kib, rss)

    def run(self) -> None:
        """Sample until :meth:`stop`."""
        while True:
            self.sample()
            if self.stop_event.wait(self.interval):
                break
        self.own_cpu_seconds = time.thread_time()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self.stop_event.set()
        self.join()

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds of the tree, summed by role."""
        totals: Counter[str] = Counter()
        for seen in self.processes.values():
            totals[seen.role] += seen.cpu_seconds
        return dict(totals)


# -- the crawl ----------------------------------------------------------------------------------
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
    largest_process_hwm_mib: float
    wait4_maxrss_mib: float
    samples: int
    cpu_seconds: dict[str, float]
    log_warnings: int
    log_tail: list[str]
    command: list[str]


def _parse_db_time(value: Any) -> datetime | None:
    """A ``crawl_runs`` timestamp as SQLite holds it (ISO text, timezone dropped by SQLAlchemy)."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value))


def read_database(db_file: Path) -> tuple[int, dict[str, int], tuple[datetime | None, datetime | None, str | None]]:
    """Articles stored, fetched URLs by outcome, and (started_at, finished_at, status) of the last run."""
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        articles = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        outcomes = dict(connection.execute("SELECT outcome, count(*) FROM fetched_urls GROUP BY outcome").fetchall())
        row = connection.execute("SELECT started_at, finished_at, status FROM crawl_runs ORDER BY id DESC LIMIT 1"
                                 ).fetchone() or (None, None, None)
    finally:
        connection.close()
    return articles, outcomes, (_parse_db_time(row[0]), _parse_db_time(row[1]), row[2])


def run_crawl(sites: list[tuple[LocalSite, list[BenchPage]]], workdir: Path, extra_settings: list[str],
              interval: float, timeout: float) -> CrawlResult:
    """Serve the sites, crawl them with ``python -m crawler crawl`` in a subprocess, and measure it."""
    sources_file = workdir / "sources.toml"
    sources_file.write_text(sources_toml(sites), encoding="utf-8")
    db_file = workdir / "bench.sqlite3"
    command = [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file), "--db", f"sqlite:///{db_file}"]
    for setting in (*CRAWL_SETTINGS, *extra_settings):
        command += ["-s", setting]
    command += ["--log-level", "WARNING"]
    for site, _ in sites:
        site.start()
    try:
        with open(workdir / "crawl.stdout", "wb") as out, open(workdir / "crawl.stderr", "wb") as err:
            self_before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            sampler = TreeSampler(process.pid, interval)
            sampler.start()
            killer = threading.Timer(timeout, process.kill)
            killer.start()
            try:
                _, wait_status, usage = os.wait4(process.pid, 0)
            except BaseException:
                process.kill()
                process.wait()
                raise
            finally:
                killer.cancel()
            seconds = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(wait_status)
            sampler.stop()
            self_after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        for site, _ in sites:
            site.stop()
    server_cpu = (self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime
                  - sampler.own_cpu_seconds)
    article_paths = {site.name: {p.url[len(site.base_url):] for p in share} for site, share in sites}
    article_requests = other_requests = 0
    for site, _ in sites:
        for record in site.log:
            if record.path in article_paths[site.name] and record.status == 200:
                article_requests += 1
            else:
                other_requests += 1
    articles, outcomes, (started, finished, status) = (0, {}, (None, None, None))
    if db_file.exists():
        articles, outcomes, (started, finished, status) = read_database(db_file)
    pages_done = sum(count for outcome, count in outcomes.items()
                     if outcome in ("article", "duplicate", "no_text", "not_html")) or article_requests
    in_run = None
    if started is not None and finished is not None:
        in_run = Measurement("   crawl, in run (crawl_runs)", pages_done, articles, (finished - started).total_seconds())
    log_lines = (workdir / "crawl.stderr").read_text(encoding="utf-8", errors="replace").splitlines()
    cpu = sampler.cpu_by_role()
    cpu["web server (benchmark process threads)"] = max(0.0, server_cpu)
    return CrawlResult(
        end_to_end=Measurement("C  crawl, end to end (subprocess)", pages_done, articles, seconds),
        in_run=in_run,
        returncode=process.returncode,
        status=status,
        outcomes=outcomes,
        article_requests=article_requests,
        other_requests=other_requests,
        peak_pss_mib=sampler.peak_pss_kib / 1024,
        peak_rss_sum_mib=sampler.peak_rss_sum_kib / 1024,
        peak_processes=sampler.peak_processes,
        largest_process_hwm_mib=max((p.peak_rss_kib for p in sampler.processes.values()), default=0) / 1024,
        wait4_maxrss_mib=usage.ru_maxrss / 1024,
        samples=sampler.samples,
        cpu_seconds=cpu,
        log_warnings=sum(" WARNING: " in line or " ERROR: " in line for line in log_lines),
        log_tail=log_lines[-15:],
        command=command,
    )


# -- the report ---------------------------------------------------------------------------------
def _versions() -> str:
    """Python, Scrapy and trafilatura versions."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for package in ("scrapy", "trafilatura", "lxml"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def _ratio(numerator: Measurement | None, denominator: Measurement) -> float | None:
    """pages/s of ``numerator`` over pages/s of ``denominator``."""
    if numerator is None or not denominator.pages_per_s:
        return None
    return numerator.pages_per_s / denominator.pages_per_s


def report(pages: list[BenchPage], a: Measurement, b: Measurement, crawl: CrawlResult, sites: int,
           extra_settings: list[str], interval: float) -> tuple[str, dict[str, Any]]:
    """The printed table and the figures for ``--json``."""
    mix = Counter(p.source for p in pages)
    html_mib = sum(len(p.body) for p in pages) / MIB
    cpus = os.cpu_count()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    lines = [
        f"machine: {cpus} CPUs (os.cpu_count; {affinity} usable by this process), {platform.machine()}; {_versions()}",
        f"pages:   {len(pages)} corpus pages, {html_mib:.1f} MiB of HTML ("
        + ", ".join(f"{source} {count}" for source, count in sorted(mix.items())) + f"), served by {sites} sites",
        f"crawl:   {' '.join(s for s in (*CRAWL_SETTINGS, *extra_settings))}",
        "",
        f"{'run':<40} {'pages':>6} {'articles':>8} {'seconds':>8} {'pages/s':>8} {'articles/s':>10}",
    ]
    rows = [a, b, crawl.end_to_end] + ([crawl.in_run] if crawl.in_run else [])
    for m in rows:
        lines.append(f"{m.name:<40} {m.pages:>6} {m.articles:>8} {m.seconds:>8.2f} {m.pages_per_s:>8.1f} "
                     f"{m.articles_per_s:>10.1f}")
    ratios = {
        "crawl_end_to_end/B": _ratio(crawl.end_to_end, b),
        "crawl_in_run/B": _ratio(crawl.in_run, b),
        "crawl_end_to_end/A": _ratio(crawl.end_to_end, a),
        "crawl_in_run/A": _ratio(crawl.in_run, a),
        "B/A": _ratio(b, a),
    }
    lines.append("")
    lines.append("ratios (pages/s): " + "   ".join(f"{k} {v:.2f}" for k, v in ratios.items() if v is not None))
    best = ratios["crawl_in_run/B"] or ratios["crawl_end_to_end/B"]
    if best is not None:
        verdict = "met" if best >= TARGET_RATIO else "NOT met"
        lines.append(f"goal: crawl >= {TARGET_RATIO} x B ({TARGET_RATIO * b.pages_per_s:.1f} pages/s): {verdict} "
                     f"in run ({best:.2f}); end to end {ratios['crawl_end_to_end/B']:.2f}")
    lines += [
        "",
        f"peak memory of the crawl's process tree (crawl process + fork server + {b.name.split('(')[1].split()[0]} "
        "extraction workers + resource tracker):",
        f"  {crawl.peak_pss_mib:.0f} MiB PSS, summed over the tree, sampled from /proc every "
        f"{interval:g} s ({crawl.samples} samples; peak with {crawl.peak_processes} processes)",
        f"  {crawl.peak_rss_sum_mib:.0f} MiB RSS summed over the tree (pages shared by forked workers counted "
        "in each: an upper bound)",
        f"  {crawl.largest_process_hwm_mib:.0f} MiB largest single process (VmHWM); "
        f"{crawl.wait4_maxrss_mib:.0f} MiB wait4() ru_maxrss (largest of the crawl process and its reaped children)",
        "",
        "CPU seconds during the crawl (sampled /proc utime+stime; the web server from getrusage of this process):",
    ]
    total_cpu = sum(crawl.cpu_seconds.values())
    capacity = crawl.end_to_end.seconds * (affinity or 1)
    for role, seconds in sorted(crawl.cpu_seconds.items(), key=lambda item: -item[1]):
        lines.append(f"  {role:<42} {seconds:7.2f} s")
    lines.append(f"  {'total':<42} {total_cpu:7.2f} s of {capacity:.2f} s available "
                 f"({affinity} cores x {crawl.end_to_end.seconds:.2f} s wall)")
    lines += [
        "",
        f"crawl: exit {crawl.returncode}, run status {crawl.status}; fetched URLs by outcome "
        + ", ".join(f"{k} {v}" for k, v in sorted(crawl.outcomes.items()))
        + f"; {crawl.article_requests} article pages served, {crawl.other_requests} other requests "
        f"(robots.txt, sitemaps); {crawl.log_warnings} warning/error lines in the crawl log",
    ]
    figures = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpu_count": cpus, "usable_cpus": affinity, "arch": platform.machine(), "versions": _versions()},
        "pages": len(pages), "html_mib": html_mib, "page_sources": dict(mix), "sites": sites,
        "crawl_settings": [*CRAWL_SETTINGS, *extra_settings], "crawl_command": crawl.command,
        "extraction_serial": a.as_dict(), "extraction_pool": b.as_dict(),
        "crawl_end_to_end": crawl.end_to_end.as_dict(),
        "crawl_in_run": crawl.in_run.as_dict() if crawl.in_run else None,
        "ratios": ratios, "target_ratio": TARGET_RATIO,
        "crawl_memory_mib": {"peak_pss_tree": crawl.peak_pss_mib, "peak_rss_sum_tree": crawl.peak_rss_sum_mib,
                             "largest_process_vmhwm": crawl.largest_process_hwm_mib,
                             "wait4_ru_maxrss": crawl.wait4_maxrss_mib, "samples": crawl.samples},
        "crawl_cpu_seconds": crawl.cpu_seconds,
        "crawl_returncode": crawl.returncode, "crawl_status": crawl.status, "fetched_outcomes": crawl.outcomes,
        "article_requests": crawl.article_requests, "other_requests": crawl.other_requests,
    }
    return "\n".join(lines), figures


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300, help="corpus pages to use (default 300)")
    parser.add_argument("--corpus", help="test corpus directory (default $AI4S_TEST_CORPUS, else ../shared/corpus "
                                         "next to the project)")
    parser.add_argument("--sites", type=int, default=3, choices=(2, 3, 4), help="loopback sites serving the pages")
    parser.add_argument("--seed", type=int, default=0, help="seed of the page choice and order (default 0)")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="extra Scrapy setting for the crawl (repeatable; after the benchmark's own)")
    parser.add_argument("--sample-interval", type=float, default=0.1, help="seconds between /proc samples")
    parser.add_argument("--timeout", type=float, default=900, help="kill the crawl after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, logs, sources)")
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 1 if the crawl failed, 2 if the corpus is missing."""
    args = parse_args(argv)
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "README.md").is_file() and not (corpus / "index.jsonl").is_file():
        print(f"crawl_speed: this benchmark needs the test corpus (real news pages, <source>/<id>.html.gz + "
              f"<id>.json), not found at {corpus}.\nPut it at ../shared/corpus next to the project, or pass "
              "--corpus DIR or set AI4S_TEST_CORPUS.", file=sys.stderr)
        return 2
    pages = load_pages(corpus, args.pages, args.seed)
    if not pages:
        print(f"crawl_speed: no page with body_complete: true in {corpus}", file=sys.stderr)
        return 2
    if len(pages) < args.pages:
        print(f"crawl_speed: only {len(pages)} usable pages in the corpus (asked for {args.pages})", file=sys.stderr)
    sites = build_sites(pages, min(args.sites, len(pages)))
    workdir = Path(tempfile.mkdtemp(prefix="ai4s-bench-"))
    try:
        print(f"{len(pages)} pages from {corpus}; A: extraction only, serial ...", file=sys.stderr, flush=True)
        a = extraction_serial(pages)
        print("B: extraction only, pool ...", file=sys.stderr, flush=True)
        b, _ = extraction_pool(pages)
        print(f"crawl of {len(sites)} loopback sites ...", file=sys.stderr, flush=True)
        crawl = run_crawl(sites, workdir, args.settings, args.sample_interval, args.timeout)
        text, figures = report(pages, a, b, crawl, len(sites), args.settings,
                               args.sample_interval)
        print(text)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
        if crawl.returncode != 0 or crawl.log_warnings:
            print("\ncrawl log (last lines):\n  " + "\n  ".join(crawl.log_tail), file=sys.stderr)
        if args.keep:
            print(f"\nwork directory kept: {workdir}", file=sys.stderr)
        return 0 if crawl.returncode == 0 else 1
    finally:
        for site, _ in sites:
            site.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
