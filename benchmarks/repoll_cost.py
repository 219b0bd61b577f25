#!/usr/bin/env python3
"""Re-poll cost: a crawl of an unchanged news web against the first crawl of the same web, as ratios.

``python3 benchmarks/repoll_cost.py [--with-new N] [--repeat R]`` does, per round:

1. builds the test suite's local news web (:class:`tests.localweb.NewsWeb`: four
   :class:`crawler.app.webserver.LocalSite` sites on 127.0.0.2-5 serving real pages of the test
   corpus, with feeds, sitemaps, listings and their faults; ``--corpus``, else
   ``$AI4S_TEST_CORPUS``, else ``../shared/corpus`` next to the project) and starts it;
2. **first crawl**: ``python -m crawler crawl --sources FILE --db sqlite:///FILE`` in a
   subprocess, as a user runs it, into a fresh SQLite file, with the test suite's fast politeness
   settings (``DOWNLOAD_DELAY=0.05``, ``AUTOTHROTTLE_START_DELAY=0.05``,
   ``AI4S_RETRY_BACKOFF_BASE=0.2``; robots.txt and AutoThrottle stay on) and ``--log-level INFO``
   (what the daemon gives its crawls);
3. **re-poll**: the same command again, on the web unchanged, into the same database;
4. with ``--with-new N``: ``NewsWeb.add_articles(N)`` (N new articles on each of three sites),
   then the same command a third time.

For each crawl it measures what the sites received and sent, how long the crawl process ran
and what the crawl itself counted:

- **requests**: the records the sites logged during the crawl (``LocalSite.log``), split into
  article pages (the web's articles, its private pages and reposts, matched by path without
  query or ``;params``) and everything else (robots.txt, feeds, sitemaps, listing and home pages,
  redirect hops, 404s, the calendar trap), and by status.
- **response body bytes**: ``LocalSite.log`` records no sizes, and ``len(reply.body)`` of the
  route is wrong for a conditional request (a site with ETags answers a matching
  ``If-None-Match`` with a 304 and no body). So each site's ``resolve`` is wrapped, in this
  process only, to see the :class:`~crawler.app.webserver.Reply` the server is about to send
  (after the conditional-GET step), and the body is counted as the server sends it: nothing for
  a 204 or 304 or a HEAD request, ``len(body)`` otherwise (a handler that raises is counted as
  the server's 500 text).
- **bytes on the wire**: a cross-check, and what a 304 still costs: each site's request handler
  class is subclassed so that its output stream counts every byte written to the socket (status
  line, headers and body).
- **seconds**: the wall clock of the crawl subprocess from start to exit, and of its run
  (``crawl_runs.started_at`` to ``finished_at``); **CPU seconds**: user + system time of the crawl
  process and of its descendants (fork server, extraction workers), sampled from ``/proc`` every
  0.1 s (``getrusage(RUSAGE_CHILDREN)`` would miss the workers: the fork server that forks them
  is never reaped by the crawl process).
- **the crawl's counters**: the run's ``crawl_run_sources`` rows (``pages_fetched``,
  ``entry_pages_read``, ``entry_pages_unchanged``, ...), summed and per source.

The table gives each figure for the first crawl, the re-poll and re-poll/first (and the crawl
after new articles and its ratio to the first). With ``--repeat R`` every round uses a fresh web
and database, and every figure (ratios included) is the median over the rounds. ``--json FILE``
writes every figure of every round. Nothing listens on anything but loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # importable without ``pip install -e .``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import children_by_parent, parse_db_time, proc_stat, resolve_corpus, wait_or_kill  # noqa: E402

if TYPE_CHECKING:
    from crawler.app.webserver import LocalSite, Reply, RequestRecord
    from tests.localweb import NewsWeb

#: The test suite's fast politeness settings (tests/crawler/crawl/test_crawl.py): robots.txt and AutoThrottle on.
FAST_SETTINGS = ("DOWNLOAD_DELAY=0.05", "AUTOTHROTTLE_START_DELAY=0.05", "AI4S_RETRY_BACKOFF_BASE=0.2")
#: The per-source counters of ``crawl_run_sources`` reported, in this order.
DB_COUNTERS = (
    "pages_fetched",
    "entry_pages_read",
    "entry_pages_unchanged",
    "entry_pages_failed",
    "new_articles",
    "skipped_known",
    "errors",
)
FIRST, REPOLL, NEW = "first", "repoll", "new"
KIB = 1024


def _bare(path: str) -> str:
    """A request target's path without its query and ``;params``."""
    return urlsplit(path).path.split(";", 1)[0]


# -- what the sites sent --------------------------------------------------------------------------
class _CountingWriter:
    """A handler's output stream that adds the bytes written to its site's wire total."""

    def __init__(self, inner: Any, meter: Meter, site: str) -> None:
        self._inner = inner
        self._meter = meter
        self._site = site

    def write(self, data: bytes) -> int:
        written = self._inner.write(data)  # raises on a broken connection: nothing counted then
        self._meter.add_wire(self._site, len(data))
        return written

    def __getattr__(self, name: str) -> Any:  # flush, close, closed, ...
        return getattr(self._inner, name)


@dataclass
class Sent:
    """One reply as a site sent it."""

    path: str
    status: int
    body_bytes: int


class Meter:
    """Counts, per site, the response bodies the server sends and every byte it writes.

    Installed on a built web before it starts serving, in this process only: each site's
    ``resolve`` is wrapped (instance attribute) to see the reply after the conditional-GET step,
    and its server's handler class is subclassed to count the bytes written to the socket.
    """

    def __init__(self, web: NewsWeb) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, list[Sent]] = {name: [] for name in web.sites}
        self.wire: Counter[str] = Counter()
        for name, site in web.sites.items():
            self._wrap_resolve(name, site)
            self._count_wire(name, site)

    def _wrap_resolve(self, name: str, site: LocalSite) -> None:
        original = site.resolve

        def resolve(record: RequestRecord) -> Reply:
            try:
                reply = original(record)
            except Exception as exc:  # the server answers 500 with this text
                self._note(name, Sent(record.path, 500, len(f"handler error: {exc}".encode())))
                raise
            bodiless = record.method == "HEAD" or reply.status in (204, 304)
            self._note(name, Sent(record.path, reply.status, 0 if bodiless else len(reply.body)))
            return reply

        site.resolve = resolve  # type: ignore[method-assign]

    def _count_wire(self, name: str, site: LocalSite) -> None:
        server = site._server  # bound when the site is made; serves from start()
        if server is None:
            raise RuntimeError(f"site {name} has no server to meter")
        meter = self
        base = server.RequestHandlerClass

        class CountingHandler(base):  # type: ignore[valid-type, misc]
            def setup(self) -> None:
                super().setup()
                self.wfile = _CountingWriter(self.wfile, meter, name)

        server.RequestHandlerClass = CountingHandler

    def _note(self, site: str, sent: Sent) -> None:
        with self.lock:
            self.sent[site].append(sent)

    def add_wire(self, site: str, count: int) -> None:
        with self.lock:
            self.wire[site] += count

    def mark(self, web: NewsWeb) -> dict[str, tuple[int, int, int]]:
        """Where each site's request log, reply list and wire total stand now."""
        with self.lock:
            return {name: (len(site.log), len(self.sent[name]), self.wire[name]) for name, site in web.sites.items()}


def article_paths(web: NewsWeb) -> dict[str, set[str]]:
    """The paths of the article pages of each site: its articles, private pages and reposts."""
    by_netloc = {urlsplit(site.base_url).netloc: name for name, site in web.sites.items()}
    paths: dict[str, set[str]] = {name: set() for name in web.sites}
    for url in [a.url for a in web.articles] + list(web.disallowed_urls) + list(web.reposts):
        parts = urlsplit(url)
        paths[by_netloc[parts.netloc]].add(_bare(parts.path))
    return paths


@dataclass
class SiteTraffic:
    """What one site received and sent during one crawl."""

    requests: int = 0
    article_requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    body_bytes: int = 0
    article_body_bytes: int = 0
    wire_bytes: int = 0


def traffic_since(web: NewsWeb, meter: Meter, mark: dict[str, tuple[int, int, int]]) -> dict[str, SiteTraffic]:
    """Per site, the requests logged and the bytes sent since ``mark``."""
    articles = article_paths(web)
    result: dict[str, SiteTraffic] = {}
    with meter.lock:
        for name, site in web.sites.items():
            log_at, sent_at, wire_at = mark[name]
            records = list(site.log[log_at:])
            sent = list(meter.sent[name][sent_at:])
            traffic = SiteTraffic(
                requests=len(records),
                article_requests=sum(_bare(r.path) in articles[name] for r in records),
                statuses=dict(sorted(Counter(r.status for r in records).items())),
                body_bytes=sum(s.body_bytes for s in sent),
                article_body_bytes=sum(s.body_bytes for s in sent if _bare(s.path) in articles[name]),
                wire_bytes=meter.wire[name] - wire_at,
            )
            if len(sent) != len(records):  # both are appended for every request the server answers
                print(
                    f"repoll_cost: {name}: {len(records)} requests logged but {len(sent)} replies metered",
                    file=sys.stderr,
                )
            result[name] = traffic
    return result


# -- one crawl ------------------------------------------------------------------------------------
@dataclass
class RunFacts:
    """The crawl's own record of its last run."""

    run_id: int | None = None
    status: str | None = None
    run_seconds: float | None = None
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    """Source name -> :data:`DB_COUNTERS` of the run's ``crawl_run_sources`` row."""
    articles_total: int = 0


def read_last_run(db_file: Path) -> RunFacts:
    """The newest crawl run of the database: its status, duration and per-source counters (read-only)."""
    if not db_file.exists():
        return RunFacts()
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT id, status, started_at, finished_at FROM crawl_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return RunFacts()
        started, finished = parse_db_time(row[2]), parse_db_time(row[3])
        facts = RunFacts(
            run_id=row[0],
            status=row[1],
            run_seconds=(finished - started).total_seconds() if started and finished else None,
            articles_total=connection.execute("SELECT count(*) FROM articles").fetchone()[0],
        )
        columns = ", ".join(f"c.{name}" for name in DB_COUNTERS)
        for name, *values in connection.execute(
            f"SELECT s.name, {columns} FROM crawl_run_sources c JOIN sources s ON s.id = c.source_id "
            "WHERE c.run_id = ? ORDER BY s.name",
            (row[0],),
        ):
            facts.counters[name] = dict(zip(DB_COUNTERS, (int(v or 0) for v in values), strict=True))
        return facts
    finally:
        connection.close()


@dataclass
class Crawl:
    """One crawl of the web, measured."""

    phase: str
    returncode: int
    seconds: float
    cpu_seconds: float
    """CPU seconds of the crawl process itself."""
    worker_cpu_seconds: float
    """CPU seconds of its descendants: fork server, extraction workers, resource tracker."""
    run: RunFacts
    traffic: dict[str, SiteTraffic]
    log_warnings: int
    command: list[str]

    def figures(self) -> dict[str, float]:
        """The flat figures of the crawl: the rows of the report (and per-source counters)."""
        sites = self.traffic.values()
        statuses: Counter[int] = Counter()
        for site in sites:
            statuses.update(site.statuses)
        requests = sum(s.requests for s in sites)
        articles = sum(s.article_requests for s in sites)
        body = sum(s.body_bytes for s in sites)
        article_body = sum(s.article_body_bytes for s in sites)
        figures: dict[str, float] = {
            "requests": requests,
            "requests.article": articles,
            "requests.other": requests - articles,
            "requests.200": statuses.get(200, 0),
            "requests.304": statuses.get(304, 0),
            "requests.other_status": requests - statuses.get(200, 0) - statuses.get(304, 0),
            "body_kib": body / KIB,
            "body_kib.article": article_body / KIB,
            "body_kib.other": (body - article_body) / KIB,
            "wire_kib": sum(s.wire_bytes for s in sites) / KIB,
            "seconds": self.seconds,
            "run_seconds": self.run.run_seconds if self.run.run_seconds is not None else float("nan"),
            "cpu_seconds": self.cpu_seconds + self.worker_cpu_seconds,
            "cpu_seconds.crawl": self.cpu_seconds,
            "cpu_seconds.workers": self.worker_cpu_seconds,
        }
        for counter in DB_COUNTERS:
            figures[f"db.{counter}"] = sum(c.get(counter, 0) for c in self.run.counters.values())
        for source, counters in self.run.counters.items():
            for counter, value in counters.items():
                figures[f"source.{source}.{counter}"] = value
        for name, site in self.traffic.items():
            figures[f"site.{name}.requests"] = site.requests
            figures[f"site.{name}.body_kib"] = site.body_bytes / KIB
            for status, count in site.statuses.items():
                figures[f"site.{name}.status.{status}"] = count
        return figures


class CpuSampler(threading.Thread):
    """The CPU time of a process and its descendants, from ``/proc`` every ``interval`` seconds.

    ``getrusage(RUSAGE_CHILDREN)`` would miss the extraction workers: they are children of the
    multiprocessing fork server, which the crawl process never reaps. So each process of the
    tree keeps the utime + stime of its last sample (the last fraction of a second of a process
    may be missed).
    """

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.root = root
        self.interval = interval
        self.stop_event = threading.Event()
        self.last: dict[int, float] = {}

    def sample(self) -> None:
        children = children_by_parent()
        todo = [self.root]
        while todo:
            pid = todo.pop()
            stat = proc_stat(pid)
            if stat is not None:
                self.last[pid] = stat[1]
            todo.extend(children.get(pid, []))

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> tuple[float, float]:
        """Stop sampling: CPU seconds of the root process and of its descendants."""
        self.stop_event.set()
        self.join()
        root = self.last.get(self.root, 0.0)
        return root, sum(self.last.values()) - root


def run_crawl(
    web: NewsWeb,
    meter: Meter,
    workdir: Path,
    phase: str,
    settings: list[str],
    log_level: str,
    timeout: float,
) -> Crawl:
    """``python -m crawler crawl`` of every source of ``web`` into ``workdir``'s database, measured."""
    db_file = workdir / "corpus.sqlite3"
    command = [
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        "--sources",
        str(workdir / "sources.toml"),
        "--db",
        f"sqlite:///{db_file}",
        "--log-level",
        log_level,
        "--log-file",
        str(workdir / f"{phase}.log"),
    ]
    for setting in (*FAST_SETTINGS, *settings):
        command += ["-s", setting]
    mark = meter.mark(web)
    with open(workdir / f"{phase}.stdout", "wb") as out, open(workdir / f"{phase}.stderr", "wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = CpuSampler(process.pid)
        sampler.start()
        try:
            wait_or_kill(process, timeout, f"repoll_cost: the {phase} crawl")
        finally:
            seconds = time.perf_counter() - start
            cpu, worker_cpu = sampler.stop()
    time.sleep(0.1)  # let a server thread finish writing its last reply (the client has it already)
    traffic = traffic_since(web, meter, mark)
    log_file = workdir / f"{phase}.log"
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines() if log_file.exists() else []
    warnings = sum(" WARNING: " in line or " ERROR: " in line or "Traceback" in line for line in lines)
    return Crawl(
        phase, process.returncode, seconds, cpu, worker_cpu, read_last_run(db_file), traffic, warnings, command
    )


@dataclass
class Round:
    """The crawls of one round (one web, one database)."""

    crawls: dict[str, Crawl]
    new_articles_published: int = 0

    def figures(self) -> dict[str, dict[str, float]]:
        return {phase: crawl.figures() for phase, crawl in self.crawls.items()}


def run_round(args: argparse.Namespace, corpus: Path, workdir: Path, label: str) -> Round:
    """Build and serve a fresh web; crawl it, crawl it again unchanged, and (``--with-new``) after new articles."""
    from tests.localweb import NewsWeb

    web = NewsWeb.build(corpus, seed=args.seed)
    meter = Meter(web)
    web.start()
    try:
        (workdir / "sources.toml").write_text(web.sources_toml(), encoding="utf-8")
        crawls: dict[str, Crawl] = {}
        published = 0
        phases = [FIRST, REPOLL] + ([NEW] if args.with_new else [])
        for phase in phases:
            if phase == NEW:
                published = len(web.add_articles(args.with_new))
            print(f"{label}{PHASE_TITLES[phase]} ...", file=sys.stderr, flush=True)
            crawl = run_crawl(web, meter, workdir, phase, args.settings, args.log_level, args.timeout)
            crawls[phase] = crawl
            print(
                f"{label}  exit {crawl.returncode}, run {crawl.run.status}, {crawl.seconds:.1f} s, "
                f"{sum(t.requests for t in crawl.traffic.values())} requests",
                file=sys.stderr,
                flush=True,
            )
            if crawl.returncode != 0:
                break
        return Round(crawls, published)
    finally:
        web.stop()


# -- the report -------------------------------------------------------------------------------------
PHASE_TITLES = {FIRST: "first crawl", REPOLL: "re-poll, web unchanged", NEW: "crawl after new articles"}
#: The rows of the main table: (figure key, label, format).
ROWS: list[tuple[str, str, str]] = [
    ("requests", "HTTP requests the sites received", "{:.0f}"),
    ("requests.article", "  article pages", "{:.0f}"),
    ("requests.other", "  entry pages, robots.txt, redirects, 404s", "{:.0f}"),
    ("requests.200", "  answered 200", "{:.0f}"),
    ("requests.304", "  answered 304 Not Modified", "{:.0f}"),
    ("requests.other_status", "  answered 3xx/4xx/5xx", "{:.0f}"),
    ("body_kib", "response body KiB sent", "{:.1f}"),
    ("body_kib.article", "  article pages", "{:.1f}"),
    ("body_kib.other", "  entry pages and the rest", "{:.1f}"),
    ("wire_kib", "KiB on the wire (status, headers, bodies)", "{:.1f}"),
    ("seconds", "wall clock of the crawl process, s", "{:.2f}"),
    ("run_seconds", "crawl run (started_at to finished_at), s", "{:.2f}"),
    ("cpu_seconds", "CPU seconds, crawl process tree (/proc)", "{:.2f}"),
    ("cpu_seconds.crawl", "  crawl process", "{:.2f}"),
    ("cpu_seconds.workers", "  fork server, extraction workers", "{:.2f}"),
    *((f"db.{c}", f"crawl_run_sources.{c}", "{:.0f}") for c in DB_COUNTERS),
]


def _median(values: list[float]) -> float:
    finite = [v for v in values if v == v]  # NaN != NaN
    return statistics.median(finite) if finite else float("nan")


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator != denominator or numerator != numerator or denominator == 0:
        return None
    return numerator / denominator


def summarize(rounds: list[Round]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float | None]]]:
    """Median figures per phase, and median per-round ratios of each phase to the first crawl."""
    phases = [p for p in (FIRST, REPOLL, NEW) if all(p in r.crawls for r in rounds)]
    per_round = [r.figures() for r in rounds]
    keys = sorted({k for figures in per_round for phase in phases for k in figures[phase]})
    medians = {phase: {k: _median([f[phase].get(k, 0.0) for f in per_round]) for k in keys} for phase in phases}
    ratios: dict[str, dict[str, float | None]] = {}
    for phase in phases[1:]:
        ratios[phase] = {}
        for key in keys:
            values = [_ratio(f[phase].get(key, 0.0), f[FIRST].get(key, 0.0)) for f in per_round]
            known = [v for v in values if v is not None]
            ratios[phase][key] = statistics.median(known) if known else None
    return medians, ratios


def _fmt(value: float | None, form: str) -> str:
    if value is None or value != value:
        return "-"
    return form.format(value)


def report(rounds: list[Round], args: argparse.Namespace, corpus: Path) -> str:
    """The printed tables."""
    medians, ratios = summarize(rounds)
    phases = list(medians)
    median_note = f", medians of {len(rounds)} rounds" if len(rounds) > 1 else ""
    lines = [
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
        f"corpus {corpus}; NewsWeb seed {args.seed}",
        f"crawl:   python -m crawler crawl --log-level {args.log_level} -s "
        + " -s ".join((*FAST_SETTINGS, *args.settings)),
    ]
    if NEW in phases:
        lines.append(
            f"new:     NewsWeb.add_articles({args.with_new}) before the third crawl: "
            f"{rounds[0].new_articles_published} new articles on three sites"
        )
    header = f"{'':<44} {'first':>10} {'re-poll':>10} {'re-poll/first':>14}"
    if NEW in phases:
        header += f" {f'+{rounds[0].new_articles_published} new':>10} {'new/first':>10}"
    lines += ["", f"re-poll cost{median_note}:", header]
    for key, label, form in ROWS:
        row = f"{label:<44} {_fmt(medians[FIRST].get(key), form):>10} {_fmt(medians[REPOLL].get(key), form):>10} "
        row += f"{_fmt(ratios[REPOLL].get(key), '{:.3f}'):>14}"
        if NEW in phases:
            row += f" {_fmt(medians[NEW].get(key), form):>10} {_fmt(ratios[NEW].get(key), '{:.3f}'):>10}"
        lines.append(row)

    sources = sorted({k.split(".")[1] for k in medians[FIRST] if k.startswith("source.")})
    short = {"pages_fetched": "fetched", "entry_pages_read": "entry read", "entry_pages_unchanged": "unchanged"}
    short |= {"entry_pages_failed": "entry failed", "new_articles": "new", "skipped_known": "known"}
    lines += ["", f"per source (crawl_run_sources{median_note}):"]
    lines.append(f"  {'source':<12} {'crawl':<8}" + "".join(f" {short.get(c, c):>12}" for c in DB_COUNTERS))
    for source in sources:
        for phase in phases:
            values = [medians[phase].get(f"source.{source}.{c}") for c in DB_COUNTERS]
            lines.append(f"  {source:<12} {phase:<8}" + "".join(f" {_fmt(v, '{:.0f}'):>12}" for v in values))

    sites = sorted({k.split(".")[1] for k in medians[FIRST] if k.startswith("site.")})
    lines += ["", f"per site (site logs and metered replies{median_note}): requests by status, body KiB"]
    for site in sites:
        parts = []
        for phase in phases:
            statuses = sorted(
                (int(k.rsplit(".", 1)[1]), v)
                for k, v in medians[phase].items()
                if k.startswith(f"site.{site}.status.") and v
            )
            status_text = " ".join(f"{status}x{count:.0f}" for status, count in statuses) or "none"
            parts.append(f"{phase} {status_text} ({medians[phase].get(f'site.{site}.body_kib', 0):.1f} KiB)")
        lines.append(f"  {site:<12} " + "; ".join(parts))

    if len(rounds) > 1:
        header = f"  {'round':<6} {'first s':>8} {'re-poll s':>9} {'ratio':>6} {'first req':>9} {'re-poll req':>11}"
        lines += ["", f"{len(rounds)} rounds:", header + f" {'first KiB':>10} {'re-poll KiB':>11}"]
        for number, r in enumerate(rounds, 1):
            f = r.figures()
            lines.append(
                f"  {number:<6} {f[FIRST]['seconds']:8.2f} {f[REPOLL]['seconds']:9.2f} "
                f"{f[REPOLL]['seconds'] / f[FIRST]['seconds']:6.3f} {f[FIRST]['requests']:9.0f} "
                f"{f[REPOLL]['requests']:11.0f} {f[FIRST]['body_kib']:10.1f} {f[REPOLL]['body_kib']:11.1f}"
            )
    problems = [
        f"round {n} {c.phase}: exit {c.returncode}, run {c.run.status}, {c.log_warnings} warning/error lines"
        for n, r in enumerate(rounds, 1)
        for c in r.crawls.values()
        if c.returncode != 0 or c.run.status != "ok"
    ]
    warnings = {phase: [c.log_warnings for r in rounds for p, c in r.crawls.items() if p == phase] for phase in phases}
    lines += [
        "",
        "warning/error lines in the crawl logs: "
        + ", ".join(f"{phase} {'/'.join(map(str, counts))}" for phase, counts in warnings.items()),
        *problems,
    ]
    return "\n".join(lines)


def figures_for_json(rounds: list[Round], args: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    medians, ratios = summarize(rounds)
    return {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version()},
        "corpus": str(corpus),
        "seed": args.seed,
        "settings": [*FAST_SETTINGS, *args.settings],
        "log_level": args.log_level,
        "with_new": args.with_new,
        "medians": medians,
        "ratios_to_first": ratios,
        "rounds": [
            {
                "new_articles_published": r.new_articles_published,
                "crawls": {
                    phase: {
                        "returncode": c.returncode,
                        "run_id": c.run.run_id,
                        "run_status": c.run.status,
                        "log_warnings": c.log_warnings,
                        "figures": c.figures(),
                        "traffic": {name: asdict(t) for name, t in c.traffic.items()},
                        "counters": c.run.counters,
                        "command": c.command,
                    }
                    for phase, c in r.crawls.items()
                },
            }
            for r in rounds
        ],
    }


# -- main ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--corpus", help="test corpus directory (default: $AI4S_TEST_CORPUS, else ../shared/corpus next to the project)"
    )
    parser.add_argument(
        "--with-new",
        type=int,
        default=0,
        metavar="N",
        help="a third crawl after NewsWeb.add_articles(N): N new articles on each of three sites",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="R", help="rounds, each with a fresh web and database (medians)"
    )
    parser.add_argument("--seed", type=int, default=0, help="NewsWeb seed: which corpus pages are served (default 0)")
    parser.add_argument(
        "-s",
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Scrapy setting for the crawls, after the benchmark's own (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO", help="log level of the crawls (default INFO, as in the daemon)")
    parser.add_argument("--timeout", type=float, default=600, help="kill a crawl after this many seconds")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs, sources)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.with_new < 0:
        parser.error("--with-new must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: 0 on success, 1 if a crawl failed, 2 without the test corpus."""
    args = parse_args(argv)
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(
            f"repoll_cost: this benchmark needs the test corpus (real web pages as <source>/<id>.html.gz + "
            f"<id>.json, with index.jsonl), and there is none at {corpus}.\n"
            "Put it at ../shared/corpus next to the project, or pass --corpus DIR, or set AI4S_TEST_CORPUS.",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ai4s-repoll-"))
    rounds: list[Round] = []
    try:
        for number in range(1, args.repeat + 1):
            round_dir = workdir / f"round-{number}"
            round_dir.mkdir()
            label = f"round {number} of {args.repeat}: " if args.repeat > 1 else ""
            done = run_round(args, corpus, round_dir, label)
            rounds.append(done)
            if any(c.returncode != 0 for c in done.crawls.values()) or REPOLL not in done.crawls:
                break
        complete = [r for r in rounds if REPOLL in r.crawls and (not args.with_new or NEW in r.crawls)]
        if not complete:
            print("repoll_cost: no round completed; see the crawl logs (--keep)", file=sys.stderr)
            return 1
        print("\n" + report(complete, args, corpus), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(figures_for_json(complete, args, corpus), indent=2, default=str) + "\n", encoding="utf-8"
            )
        if args.keep:
            print(f"\nwork directory kept: {workdir}", file=sys.stderr)
        failed = any(c.returncode != 0 for r in rounds for c in r.crawls.values())
        return 1 if failed or len(complete) < len(rounds) else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
