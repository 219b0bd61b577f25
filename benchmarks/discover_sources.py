"""Sources that find themselves: the articles a source written by ``ai4s sources discover`` alone finds in one
crawl, against a hand-written source for the same site, and the time discovery takes per site.

    python3 benchmarks/discover_sources.py [--corpus DIR] [--sites N] [--seed S] [--json]

Builds the discovery web of the test suite (``tests/discoverweb.py``) with ``--sites`` sites (default 12) of
the kinds that announce articles differently, taken in turn: a feed declared only by ``<link rel="alternate">``
(RSS, or a JSON Feed), sitemaps named only in robots.txt, an Atom feed at a usual path declared nowhere,
listing pages only, a feed and sitemap on an internal address that must be refused; plus one site whose
robots.txt forbids everything (discovery must fetch nothing else; it is not crawled). Each site has 14 real
corpus articles. Then:

1. ``discover_outlet`` on each site's home page, timed, and its source added to one sources file;
2. the hand-written source of each site (what a person who knows the site would write) in another;
3. one ``ai4s crawl`` of each file into its own SQLite database;

and prints per site: the requests and seconds discovery took, what it chose, and the share of the site's
articles each source found. Exits 2 without the corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench_support import resolve_corpus  # noqa: E402
from sqlalchemy import select  # noqa: E402

from crawler.discover.outlet import discover_outlet  # noqa: E402
from crawler.discover.sourcefile import add_source  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Article  # noqa: E402
from tests.discoverweb import ARTICLES, DiscoverWeb  # noqa: E402

KINDS = ("alternate", "jsonfeed", "robots", "conventional", "listing", "internal")
CRAWL_SETTINGS = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def crawl(sources: Path, db_url: str) -> set[str]:
    """The URLs of the articles one crawl of ``sources`` stores."""
    subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources), "--db", db_url, *CRAWL_SETTINGS],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    with Database(db_url) as database, database.session() as session:
        return set(session.execute(select(Article.url)).scalars())


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="the test corpus (default: $AI4S_TEST_CORPUS or ../shared/corpus)")
    parser.add_argument("--sites", type=int, default=12, help="sites to discover and crawl (plus a blocked one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    corpus = resolve_corpus(options.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(f"no test corpus at {corpus}", file=sys.stderr)
        return 2
    kinds = [KINDS[i % len(KINDS)] for i in range(options.sites)] + ["blocked"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch, DiscoverWeb(corpus, kinds, seed=options.seed) as web:
        discovered, hand = Path(scratch) / "discovered.toml", Path(scratch) / "hand.toml"
        hand.write_text(
            "\n".join(
                site.hand_written(f"{site.kind}_{n}") for n, site in enumerate(web.sites) if site.kind != "blocked"
            ),
            encoding="utf-8",
        )
        for site in web.sites:
            started = time.perf_counter()
            report = discover_outlet(site.home)
            seconds = time.perf_counter() - started
            if report.usable:
                add_source(discovered, report)
            chosen = {
                kind: [urlsplit(c.url).path for c in report.chosen(kind)] for kind in ("feed", "sitemap", "listing")
            }
            rows.append(
                {
                    "site": site.server.name,
                    "kind": site.kind,
                    "requests": len(report.requests),
                    "seconds": round(seconds, 3),
                    "chosen": {kind: paths for kind, paths in chosen.items() if paths},
                    "blocked": report.blocked,
                    "served": len(site.server.log),
                }
            )
        stored = {
            name: crawl(path, f"sqlite:///{Path(scratch) / (name + '.db')}")
            for name, path in (("discovered", discovered), ("hand", hand))
        }
        for row, site in zip(rows, web.sites, strict=True):
            articles = site.article_urls()
            row["discovered_share"] = round(len(stored["discovered"] & articles) / ARTICLES, 3)
            row["hand_share"] = round(len(stored["hand"] & articles) / ARTICLES, 3)
    crawled = [row for row in rows if row["kind"] != "blocked"]
    summary = {
        "sites": len(crawled),
        "articles_per_site": ARTICLES,
        "mean_discovered_share": round(statistics.mean(r["discovered_share"] for r in crawled), 3),
        "mean_hand_share": round(statistics.mean(r["hand_share"] for r in crawled), 3),
        "sites_equal_or_better": sum(r["discovered_share"] >= r["hand_share"] for r in crawled),
        "median_seconds_per_site": round(statistics.median(r["seconds"] for r in rows), 3),
        "max_seconds_per_site": max(r["seconds"] for r in rows),
        "mean_requests_per_site": round(statistics.mean(r["requests"] for r in rows), 1),
    }
    if options.json:
        print(json.dumps({"sites": rows, "summary": summary}, indent=2, ensure_ascii=False))
        return 0
    print(f"{'site':<16} {'kind':<13} {'req':>4} {'s':>6}  {'discovered':>10} {'hand':>6}  chosen")
    for row in rows:
        chosen = "; ".join(f"{kind} {' '.join(paths)}" for kind, paths in row["chosen"].items())
        if row["blocked"]:
            chosen = f"nothing: {row['blocked']} ({row['served']} request served)"
        print(
            f"{row['site']:<16} {row['kind']:<13} {row['requests']:>4} {row['seconds']:>6.2f}  "
            f"{row['discovered_share']:>10.2f} {row['hand_share']:>6.2f}  {chosen}"
        )
    print(
        f"\n{summary['sites']} sites of {ARTICLES} articles: mean share found by the discovered source "
        f"{summary['mean_discovered_share']:.3f}, by the hand-written one {summary['mean_hand_share']:.3f} "
        f"({summary['sites_equal_or_better']} sites equal or better); discovery per site: median "
        f"{summary['median_seconds_per_site']:.3f} s, max {summary['max_seconds_per_site']:.3f} s, "
        f"{summary['mean_requests_per_site']} requests on average"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
