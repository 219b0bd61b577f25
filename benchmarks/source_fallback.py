"""Fallback chain benchmark: articles still found after a source's only feed dies (or its sitemap moves),
with the fallback chain and without it.

    python3 benchmarks/source_fallback.py [--articles N] [--rounds R] [--per-round K]

Builds the fallback web of the tests (``tests/fallbackweb.py``: a site whose feed can die, a site whose
sitemap can move, both on 127.0.8.x) twice, one for each arm. In each arm: one crawl while the entry
point works (N articles each), then the feed dies (404) and the sitemap moves (old place 404, robots.txt
names the new one), then R rounds each publishing K articles on each site and crawling (``ai4s crawl``
in a subprocess, one database per arm). The arm without the chain runs with ``-s AI4S_FALLBACK=False``
(the failure is logged and counted, nothing else is requested).

Prints, per site and arm: the articles published after the entry point broke, how many of them were
stored, the requests the sites served after it broke, and the mean wall clock of a crawl.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import select  # noqa: E402

from crawler.text.urls import canonical_url  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Article  # noqa: E402
from tests.fallbackweb import FallbackWeb  # noqa: E402

FAST = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_START_DELAY=0.05", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]


@dataclass(frozen=True)
class ArmResult:
    """One site in one arm: what was published after its entry point broke, what was found, at what cost."""

    site: str
    arm: str
    published: int
    found: int
    requests: int
    crawl_seconds: float


def crawl(sources: Path, db_url: str, *settings: str) -> float:
    """One crawl in a subprocess; its wall clock in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db", db_url, *FAST, *settings],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise RuntimeError(f"crawl failed ({result.returncode}): {result.stderr[-2000:]}")
    return time.perf_counter() - started


def run_arm(arm: str, articles: int, rounds: int, per_round: int, workdir: Path) -> list[ArmResult]:
    """Both sites through one arm (``with`` or ``without`` the fallback chain)."""
    settings = [] if arm == "with" else ["-s", "AI4S_FALLBACK=False"]
    web = FallbackWeb(articles)
    sources, db_url = workdir / f"sources-{arm}.toml", f"sqlite:///{workdir / f'corpus-{arm}.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    sites = {"feedsite (feed 404)": web.feedsite, "sitemapsite (sitemap moved)": web.sitemapsite}
    with web:
        crawl(sources, db_url, *settings)
        web.feedsite.feed_alive = False
        web.sitemapsite.move_sitemap()
        served_before = {name: len(site.server.log) for name, site in sites.items()}
        published: dict[str, list[str]] = {name: [] for name in sites}
        seconds = []
        for _ in range(rounds):
            for name, site in sites.items():
                published[name] += site.publish(per_round)
            seconds.append(crawl(sources, db_url, *settings))
        served = {name: len(site.server.log) - served_before[name] for name, site in sites.items()}
    with Database(db_url) as database, database.session() as session:
        stored = set(session.execute(select(Article.canonical_url)).scalars())
    mean = sum(seconds) / len(seconds)
    return [
        ArmResult(name, arm, len(urls), sum(canonical_url(u) in stored for u in urls), served[name], mean)
        for name, urls in published.items()
    ]


def main() -> None:
    """Run both arms and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10, help="articles of each site before the break")
    parser.add_argument("--rounds", type=int, default=3, help="crawls after the break")
    parser.add_argument("--per-round", type=int, default=4, help="articles each site publishes before each crawl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ai4s-fallback-") as tmp:
        results = [
            result
            for arm in ("without", "with")
            for result in run_arm(arm, args.articles, args.rounds, args.per_round, Path(tmp))
        ]
    print(f"{args.articles} articles a site, then {args.rounds} crawls of {args.per_round} new articles a site each")
    print(f"{'site':30} {'fallback':>8} {'published':>9} {'found':>6} {'share':>6} {'requests':>8} {'s/crawl':>8}")
    for r in results:
        share, seconds = (r.found / r.published if r.published else 0.0), r.crawl_seconds
        print(f"{r.site:30} {r.arm:>8} {r.published:>9} {r.found:>6} {share:>6.2f} {r.requests:>8} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
