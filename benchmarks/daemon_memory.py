#!/usr/bin/env python3
"""Daemon memory over many short cycles: the resident memory of ``ai4s daemon`` must stay flat.

``python3 benchmarks/daemon_memory.py [--cycles 100] [--sources-count 2]`` does:

1. builds and serves the test suite's local news web (:class:`tests.localweb.NewsWeb`, four
   loopback sites on 127.0.0.2-5 with real pages of the test corpus: ``--corpus``, else
   ``$AI4S_TEST_CORPUS``, else ``../shared/corpus`` next to the project) and writes a sources
   file of its first ``--sources-count`` sources (feedsite, sitemapsite, listingsite, repostsite,
   in that order) from ``NewsWeb.sources_toml(every="1s")``; each source also gets
   ``max_every = "1s"`` (``--max-every``), so that the daemon's adaptive schedule does not slow an
   unchanged source down to eight times ``every`` and the cycles stay short (``--max-every
   default`` keeps the product's bounds);
2. starts ``python -m crawler daemon --sources FILE --db sqlite:///FILE --log-dir DIR
   --stop-timeout 10`` with the test suite's fast settings (``DOWNLOAD_DELAY=0.05``,
   ``AUTOTHROTTLE_START_DELAY=0.05``, ``AI4S_RETRY_BACKOFF_BASE=0.2``, ``AI4S_EXTRACT_WORKERS=1``),
   as a user starts it;
3. every ``--interval`` seconds (1) samples the daemon process itself from ``/proc``: RSS
   (``VmRSS``), PSS (``/proc/PID/smaps_rollup``), threads, open file descriptors, CPU time; the
   number of finished crawl runs (``crawl_runs`` rows with a ``finished_at``, read from the SQLite
   file read-only); and the daemon's descendants (each crawl process, its fork server and
   extraction workers), which are separate processes and reported apart;
4. once ``--cycles`` (100) crawl runs have finished, sends the daemon SIGTERM and waits for it.

A *cycle* is one finished crawl run, of any source. The first crawl of each source reads the
whole web; later ones are re-polls of an unchanged web (conditional GETs, unchanged bodies).

Reported: the daemon's RSS (and PSS, threads, fds) after the first 10 cycles, at cycle 50 and at
the end, the maximum, the ratio end / after-10 (flat is about 1.0), and the least-squares slope of
RSS in KiB per cycle over cycles 10 to the end (one point per cycle: the mean of the samples
taken while that many runs had finished); the peaks of the crawl processes and their workers;
the runs by status; how the daemon stopped. ``--json FILE`` writes every sample too. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # importable without ``pip install -e .``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import children_by_parent, parse_db_time, proc_stat, proc_values, resolve_corpus  # noqa: E402

#: The test suite's fast daemon settings (tests/crawler/schedule/daemons.py).
FAST_SETTINGS = (
    "DOWNLOAD_DELAY=0.05",
    "AUTOTHROTTLE_START_DELAY=0.05",
    "AI4S_RETRY_BACKOFF_BASE=0.2",
    "AI4S_EXTRACT_WORKERS=1",
)
STOP_TIMEOUT = 10.0
SOURCE_ORDER = ("feedsite", "sitemapsite", "listingsite", "repostsite")
#: Cycles at which the report reads the daemon's memory (the first sample with that many finished runs).
EARLY_CYCLE, MIDDLE_CYCLE = 10, 50
KIB_PER_MIB = 1024


# -- /proc --------------------------------------------------------------------------------------------
def _fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _descendants(root: int) -> list[tuple[int, int]]:
    """``(pid, depth)`` of every process descending from ``root`` (``root`` excluded; depth 1 = a child)."""
    children = children_by_parent()
    found: list[tuple[int, int]] = []
    todo = [(pid, 1) for pid in children.get(root, [])]
    while todo:
        pid, depth = todo.pop()
        found.append((pid, depth))
        todo.extend((child, depth + 1) for child in children.get(pid, []))
    return found


def _is_crawler_process(pid: int) -> bool:
    """Whether ``pid`` is alive and runs ``crawler`` (a crawl left behind, not a reused pid)."""
    try:
        return b"crawler" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# -- the database -------------------------------------------------------------------------------------
def finished_runs(db_file: Path) -> int | None:
    """Crawl runs with a ``finished_at``, read through a read-only connection (``None`` if not readable yet)."""
    if not db_file.exists():
        return None
    try:
        connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5)
        try:
            return connection.execute("SELECT count(*) FROM crawl_runs WHERE finished_at IS NOT NULL").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return None


@dataclass
class RunsSummary:
    """The crawl runs the daemon left in the database."""

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    median_seconds: float | None = None
    """Median of ``finished_at - started_at`` of the ``ok`` runs."""
    pages_fetched: int = 0
    new_articles: int = 0
    entry_pages_unchanged: int = 0


def read_runs(db_file: Path) -> RunsSummary:
    """Runs by status and source, their median duration and summed counters (read-only)."""
    connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute("SELECT status, sources, started_at, finished_at FROM crawl_runs").fetchall()
        durations = [
            (finished - started).total_seconds()
            for status, _, s, f in rows
            if status == "ok" and (started := parse_db_time(s)) and (finished := parse_db_time(f))
        ]
        sums = connection.execute(
            "SELECT sum(pages_fetched), sum(new_articles), sum(entry_pages_unchanged) FROM crawl_run_sources"
        ).fetchone()
    finally:
        connection.close()
    return RunsSummary(
        total=len(rows),
        by_status=dict(Counter(r[0] for r in rows)),
        by_source=dict(Counter(r[1] for r in rows)),
        median_seconds=statistics.median(durations) if durations else None,
        pages_fetched=int(sums[0] or 0),
        new_articles=int(sums[1] or 0),
        entry_pages_unchanged=int(sums[2] or 0),
    )


# -- sampling -----------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One look at the daemon and its descendants."""

    elapsed: float
    """Seconds since the daemon was started."""
    runs: int
    """Crawl runs finished so far (cycles)."""
    rss_kib: int
    pss_kib: int | None
    hwm_kib: int
    threads: int
    fds: int | None
    cpu_seconds: float
    children: int
    """Processes descending from the daemon (crawl processes, fork servers, workers, trackers)."""
    children_rss_kib: int
    children_pss_kib: int


@dataclass
class ChildSeen:
    """A descendant of the daemon, as last seen."""

    pid: int
    depth: int
    first_cycle: int
    hwm_kib: int = 0


def sample_daemon(pid: int, started: float, runs: int, seen: dict[int, ChildSeen]) -> Sample | None:
    """One sample of the daemon ``pid`` (``None`` if it is gone); updates ``seen`` with its descendants."""
    status = proc_values(pid, "status", ("VmRSS", "VmHWM", "Threads"))
    stat = proc_stat(pid)
    if not status or stat is None:
        return None
    pss = proc_values(pid, "smaps_rollup", ("Pss",)).get("Pss")
    children_rss = children_pss = count = 0
    for child, depth in _descendants(pid):
        child_status = proc_values(child, "status", ("VmRSS", "VmHWM"))
        if not child_status:
            continue
        count += 1
        rss = child_status.get("VmRSS", 0)
        children_rss += rss
        children_pss += proc_values(child, "smaps_rollup", ("Pss",)).get("Pss", rss)
        entry = seen.setdefault(child, ChildSeen(child, depth, runs))
        entry.hwm_kib = max(entry.hwm_kib, child_status.get("VmHWM", 0))
    return Sample(
        elapsed=time.monotonic() - started,
        runs=runs,
        rss_kib=status.get("VmRSS", 0),
        pss_kib=pss,
        hwm_kib=status.get("VmHWM", 0),
        threads=status.get("Threads", 0),
        fds=_fd_count(pid),
        cpu_seconds=stat[1],
        children=count,
        children_rss_kib=children_rss,
        children_pss_kib=children_pss,
    )


# -- the analysis -------------------------------------------------------------------------------------
def first_at(samples: list[Sample], cycle: int) -> Sample | None:
    """The first sample taken once ``cycle`` runs had finished."""
    return next((s for s in samples if s.runs >= cycle), None)


def per_cycle_means(samples: list[Sample], low: int, high: int) -> list[tuple[int, float]]:
    """``(cycle, mean RSS KiB of the samples taken while exactly that many runs had finished)``."""
    by_cycle: dict[int, list[int]] = {}
    for s in samples:
        if low <= s.runs <= high:
            by_cycle.setdefault(s.runs, []).append(s.rss_kib)
    return [(cycle, statistics.fmean(values)) for cycle, values in sorted(by_cycle.items())]


def least_squares(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Slope and R² of the least-squares line through ``points`` (``None`` for fewer than 3)."""
    if len(points) < 3:
        return None
    xs, ys = [float(p[0]) for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 0.0
    return slope, r2


# -- the run ------------------------------------------------------------------------------------------
def write_sources(path: Path, web: Any, count: int, max_every: str | None) -> list[str]:
    """The sources file of the first ``count`` sources of ``web``, every one polled every second."""
    blocks = web.sources_toml(every="1s").split("[[source]]")[1:]
    by_name = {block.split('name = "', 1)[1].split('"', 1)[0]: block for block in blocks}
    names = [name for name in SOURCE_ORDER if name in by_name][:count]
    text = ""
    for name in names:
        block = "[[source]]" + by_name[name].rstrip("\n") + "\n"
        if max_every:
            block += f"max_every = {json.dumps(max_every)}\n"
        text += block + "\n"
    path.write_text(text, encoding="utf-8")
    return names


@dataclass
class Outcome:
    """Everything measured."""

    samples: list[Sample]
    children: dict[int, ChildSeen]
    cycles_reached: int
    exit_code: int | None
    stop_seconds: float | None
    left_behind: list[int]
    runs: RunsSummary
    log_counts: dict[str, int]
    db_bytes: int
    wal_bytes: int
    timed_out: bool
    died: bool
    command: list[str]
    log_tail: list[str]


def run_daemon(args: argparse.Namespace, corpus: Path, workdir: Path) -> tuple[Outcome, list[str]]:
    """Serve a fresh web, run the daemon on it for ``args.cycles`` finished runs, SIGTERM it, and measure."""
    from tests.localweb import NewsWeb

    web = NewsWeb.build(corpus, seed=args.seed).start()
    try:
        sources_file = workdir / "sources.toml"
        names = write_sources(
            sources_file, web, args.sources_count, None if args.max_every == "default" else args.max_every
        )
        db_file = workdir / "corpus.sqlite3"
        command = [
            sys.executable, "-m", "crawler", "daemon",
            "--sources", str(sources_file), "--db", f"sqlite:///{db_file}", "--log-dir", str(workdir / "logs"),
            "--stop-timeout", f"{STOP_TIMEOUT:g}",
        ]  # fmt: skip
        for setting in (*FAST_SETTINGS, *args.settings):
            command += ["-s", setting]
        log_path = workdir / "daemon.log"
        samples: list[Sample] = []
        seen: dict[int, ChildSeen] = {}
        timed_out = died = False
        with log_path.open("wb") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            try:
                runs, reported = 0, 0
                deadline = started + 60 * args.max_minutes
                next_sample = started
                while True:
                    runs = finished_runs(db_file) or runs
                    sample = sample_daemon(process.pid, started, runs, seen)
                    if sample is None or process.poll() is not None:
                        died = True
                        break
                    samples.append(sample)
                    if runs >= reported + 10 or (runs >= args.cycles):
                        reported = runs - runs % 10
                        rss, pss = _mib(sample.rss_kib), _mib(sample.pss_kib)
                        print(
                            f"  cycle {runs:>4}: {sample.elapsed:7.1f} s, daemon RSS {rss:>6} MiB, PSS {pss:>6} MiB, "
                            f"{sample.threads} threads, {sample.fds} fds",
                            file=sys.stderr,
                            flush=True,
                        )
                    if runs >= args.cycles:
                        break
                    if time.monotonic() > deadline:
                        timed_out = True
                        print(
                            f"daemon_memory: {args.max_minutes:g} minutes passed at cycle {runs}: stopping",
                            file=sys.stderr,
                        )
                        break
                    next_sample += args.interval
                    time.sleep(max(0.0, next_sample - time.monotonic()))
                exit_code: int | None = process.poll()
                stop_seconds = None
                if exit_code is None:
                    stop_started = time.monotonic()
                    process.send_signal(signal.SIGTERM)
                    try:
                        exit_code = process.wait(timeout=STOP_TIMEOUT + 30)
                    except subprocess.TimeoutExpired:
                        print("daemon_memory: the daemon did not exit after SIGTERM: killed", file=sys.stderr)
                        process.kill()
                        process.wait()
                    stop_seconds = time.monotonic() - stop_started
            except BaseException:
                process.kill()
                process.wait()
                raise
        time.sleep(0.5)
        left_behind = sorted(pid for pid in seen if _is_crawler_process(pid))
        log_lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        log_counts = {
            "WARNING": sum(" WARNING " in line for line in log_lines),
            "ERROR": sum(" ERROR " in line or " CRITICAL " in line for line in log_lines),
            "Traceback": sum(line.startswith("Traceback") for line in log_lines),
            "skipped (max instances)": sum("maximum number of running instances" in line for line in log_lines),
            "missed firings": sum("was missed by" in line for line in log_lines),
        }
        runs_summary = read_runs(db_file) if db_file.exists() else RunsSummary()
        wal = db_file.with_name(db_file.name + "-wal")
        outcome = Outcome(
            samples=samples,
            children=seen,
            cycles_reached=samples[-1].runs if samples else 0,
            exit_code=exit_code,
            stop_seconds=stop_seconds,
            left_behind=left_behind,
            runs=runs_summary,
            log_counts=log_counts,
            db_bytes=db_file.stat().st_size if db_file.exists() else 0,
            wal_bytes=wal.stat().st_size if wal.exists() else 0,
            timed_out=timed_out,
            died=died,
            command=command,
            log_tail=log_lines[-20:],
        )
        return outcome, names
    finally:
        web.stop()


# -- the report ---------------------------------------------------------------------------------------
def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / KIB_PER_MIB:.1f}"


def analyse(outcome: Outcome) -> dict[str, Any]:
    """The summary figures of the run."""
    samples = outcome.samples
    end = samples[-1] if samples else None
    early = first_at(samples, EARLY_CYCLE)
    middle = first_at(samples, MIDDLE_CYCLE) if outcome.cycles_reached >= MIDDLE_CYCLE else None
    peak = max(samples, key=lambda s: s.rss_kib) if samples else None
    points = per_cycle_means(samples, EARLY_CYCLE, outcome.cycles_reached)
    fit = least_squares(points)
    pss_points = [(s.runs, float(s.pss_kib)) for s in samples if s.pss_kib is not None and s.runs >= EARLY_CYCLE]
    crawl_hwm = [c for c in outcome.children.values() if c.depth == 1]
    worker_hwm = [c for c in outcome.children.values() if c.depth > 1]
    in_order = sorted(crawl_hwm, key=lambda c: (c.first_cycle, c.pid))
    early_crawls, late_crawls = in_order[:10], in_order[-10:]
    cpu_per_cycle = None
    if early and end and end.runs > early.runs:
        cpu_per_cycle = (end.cpu_seconds - early.cpu_seconds) / (end.runs - early.runs)
    return {
        "early": asdict(early) if early else None,
        "middle": asdict(middle) if middle else None,
        "end": asdict(end) if end else None,
        "peak": asdict(peak) if peak else None,
        "end_over_early_rss": end.rss_kib / early.rss_kib if early and end and early.rss_kib else None,
        "end_over_early_pss": (end.pss_kib / early.pss_kib)
        if early and end and early.pss_kib and end.pss_kib
        else None,
        "slope_kib_per_cycle": fit[0] if fit else None,
        "slope_r2": fit[1] if fit else None,
        "slope_points": len(points),
        "pss_slope_kib_per_cycle": (least_squares(pss_points) or (None,))[0],
        "daemon_cpu_seconds_per_cycle": cpu_per_cycle,
        "crawl_processes_seen": len(crawl_hwm),
        "crawl_process_peak_hwm_kib": max((c.hwm_kib for c in crawl_hwm), default=None),
        "crawl_process_median_hwm_kib_first_10": statistics.median([c.hwm_kib for c in early_crawls])
        if early_crawls
        else None,
        "crawl_process_median_hwm_kib_last_10": statistics.median([c.hwm_kib for c in late_crawls])
        if late_crawls
        else None,
        "worker_peak_hwm_kib": max((c.hwm_kib for c in worker_hwm), default=None),
        "children_peak_rss_sum_kib": max((s.children_rss_kib for s in samples), default=None),
        "children_peak_pss_sum_kib": max((s.children_pss_kib for s in samples), default=None),
    }


def report(outcome: Outcome, summary: dict[str, Any], args: argparse.Namespace, names: list[str]) -> str:
    """The printed report."""
    lines = [
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}",
        f"daemon:  {len(names)} sources ({', '.join(names)}), every 1s"
        + (f", max_every {args.max_every}" if args.max_every != "default" else " (product's adaptive bounds)")
        + f"; --stop-timeout {STOP_TIMEOUT:g} -s "
        + " -s ".join((*FAST_SETTINGS, *args.settings)),
        f"sampled: every {args.interval:g} s, {len(outcome.samples)} samples; "
        f"{outcome.cycles_reached} cycles (finished crawl runs) of {args.cycles} asked"
        + (" - STOPPED AT --max-minutes" if outcome.timed_out else "")
        + (" - THE DAEMON EXITED BY ITSELF" if outcome.died else ""),
        "",
        "the daemon process (not its crawls):",
        f"  {'':<26} {'cycle':>6} {'elapsed s':>10} {'RSS MiB':>8} {'PSS MiB':>8} {'threads':>8} {'fds':>5}",
    ]
    rows = [
        (f"after the first {EARLY_CYCLE} cycles", summary["early"]),
        (f"at cycle {MIDDLE_CYCLE}", summary["middle"]),
        ("at the end", summary["end"]),
        ("max RSS", summary["peak"]),
    ]
    for label, s in rows:
        if s is None:
            lines.append(f"  {label:<26} {'-':>6}")
            continue
        lines.append(
            f"  {label:<26} {s['runs']:>6} {s['elapsed']:>10.1f} {_mib(s['rss_kib']):>8} {_mib(s['pss_kib']):>8} "
            f"{s['threads']:>8} {s['fds'] if s['fds'] is not None else '-':>5}"
        )

    def fmt(value: float | None, form: str) -> str:
        return "-" if value is None else form.format(value)

    cpu_per_cycle = summary["daemon_cpu_seconds_per_cycle"]
    cpu_ms = None if cpu_per_cycle is None else 1000 * cpu_per_cycle
    crawl_peak = _mib(summary["crawl_process_peak_hwm_kib"])
    crawl_first = _mib(summary["crawl_process_median_hwm_kib_first_10"])
    crawl_last = _mib(summary["crawl_process_median_hwm_kib_last_10"])

    lines += [
        f"  end / after {EARLY_CYCLE}: RSS {fmt(summary['end_over_early_rss'], '{:.3f}')}, "
        f"PSS {fmt(summary['end_over_early_pss'], '{:.3f}')} (flat is about 1.0)",
        f"  least-squares slope over cycles {EARLY_CYCLE}..{outcome.cycles_reached}: RSS "
        f"{fmt(summary['slope_kib_per_cycle'], '{:+.1f}')} KiB/cycle (R² {fmt(summary['slope_r2'], '{:.2f}')}, "
        f"{summary['slope_points']} cycles), PSS {fmt(summary['pss_slope_kib_per_cycle'], '{:+.1f}')} KiB/cycle",
        f"  VmHWM (the kernel's peak) at the end: {_mib(summary['end']['hwm_kib']) if summary['end'] else '-'} MiB; "
        f"daemon CPU per cycle after cycle {EARLY_CYCLE}: {fmt(cpu_ms, '{:.0f}')} ms",
        "",
        "its children (separate processes, sampled at the same times):",
        f"  crawl processes: {summary['crawl_processes_seen']} seen; peak VmHWM {crawl_peak} MiB; "
        f"median VmHWM of the first 10 {crawl_first} MiB, of the last 10 {crawl_last} MiB",
        f"  fork servers, extraction workers, trackers: peak VmHWM {_mib(summary['worker_peak_hwm_kib'])} MiB",
        f"  all descendants at one sample: peak PSS {_mib(summary['children_peak_pss_sum_kib'])} MiB, "
        f"peak RSS {_mib(summary['children_peak_rss_sum_kib'])} MiB",
        "",
        f"runs: {outcome.runs.total} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(outcome.runs.by_status.items()))
        + "; "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcome.runs.by_source.items()))
        + f"), median ok run {fmt(outcome.runs.median_seconds, '{:.1f}')} s; "
        f"{outcome.runs.pages_fetched} pages fetched, {outcome.runs.new_articles} new articles, "
        f"{outcome.runs.entry_pages_unchanged} unchanged entry pages",
        f"stop:  SIGTERM -> exit {outcome.exit_code} in {fmt(outcome.stop_seconds, '{:.1f}')} s; "
        f"crawl processes left behind: {len(outcome.left_behind)}",
        f"db:    {outcome.db_bytes / 1024:.0f} KiB, WAL {outcome.wal_bytes / 1024:.0f} KiB at the end",
        "daemon log: " + ", ".join(f"{k} {v}" for k, v in outcome.log_counts.items()),
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100, help="finished crawl runs to wait for (default 100)")
    parser.add_argument(
        "--sources-count",
        type=int,
        default=2,
        choices=(1, 2, 3, 4),
        help="sources of the web to crawl, in the order feedsite, sitemapsite, listingsite, repostsite (default 2)",
    )
    parser.add_argument(
        "--max-every",
        default="1s",
        help='max_every of every source (default "1s": no slowing down); "default" keeps the product\'s bounds',
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--max-minutes", type=float, default=30, help="stop after this long whatever the cycles")
    parser.add_argument(
        "--corpus", help="test corpus directory (default: $AI4S_TEST_CORPUS, else ../shared/corpus next to the project)"
    )
    parser.add_argument("--seed", type=int, default=0, help="NewsWeb seed (default 0)")
    parser.add_argument(
        "-s",
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra Scrapy setting for the daemon's crawls, after the benchmark's own (repeatable)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure and sample to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, logs, sources)")
    args = parser.parse_args(argv)
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")
    if args.interval <= 0:
        parser.error("--interval must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: 0 on success, 1 if the daemon misbehaved, 2 without the corpus or /proc."""
    args = parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("daemon_memory: this benchmark reads /proc (Linux only)", file=sys.stderr)
        return 2
    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(
            f"daemon_memory: this benchmark needs the test corpus (real web pages as <source>/<id>.html.gz + "
            f"<id>.json, with index.jsonl), and there is none at {corpus}.\n"
            "Put it at ../shared/corpus next to the project, or pass --corpus DIR, or set AI4S_TEST_CORPUS.",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ai4s-daemon-mem-"))
    try:
        print(
            f"daemon on {args.sources_count} sources until {args.cycles} crawl runs have finished ...", file=sys.stderr
        )
        outcome, names = run_daemon(args, corpus, workdir)
        summary = analyse(outcome)
        print("\n" + report(outcome, summary, args, names), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            figures = {
                "when": datetime.now().astimezone().isoformat(timespec="seconds"),
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "arch": platform.machine(),
                    "python": platform.python_version(),
                },
                "sources": names,
                "max_every": args.max_every,
                "cycles_asked": args.cycles,
                "cycles_reached": outcome.cycles_reached,
                "summary": summary,
                "runs": asdict(outcome.runs),
                "exit_code": outcome.exit_code,
                "stop_seconds": outcome.stop_seconds,
                "left_behind": outcome.left_behind,
                "log_counts": outcome.log_counts,
                "db_bytes": outcome.db_bytes,
                "wal_bytes": outcome.wal_bytes,
                "timed_out": outcome.timed_out,
                "died": outcome.died,
                "command": outcome.command,
                "samples": [asdict(s) for s in outcome.samples],
                "children": [asdict(c) for c in outcome.children.values()],
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        bad = outcome.died or outcome.exit_code != 0 or outcome.left_behind or outcome.timed_out
        if bad:
            print("\ndaemon log (last lines):\n  " + "\n  ".join(outcome.log_tail), file=sys.stderr)
        if args.keep:
            print(f"\nwork directory kept: {workdir}", file=sys.stderr)
        return 1 if bad else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
