"""Digest build time on a large corpus: a period of 1,000 new stories in a corpus of 100,000 articles,
against the same period in a corpus of 10,000 (the baseline, in the same run). If the digest's
queries use the indexes, the time hardly depends on the corpus size.

    python3 benchmarks/digest_build.py [--sizes 10000,100000] [--stories 1000] [--repeat 3] [--db-dir DIR]

Each corpus is a fresh SQLite file (migrated by the product), filled with synthetic articles in
bulk: 50 sources, articles spread over the 100 days before the period, then the period's
stories (1 to 4 copies each, 1 in 4 a copy of an older story so that stories "grow"), about
1,500-character texts, a third of the older articles off-topic. Timed: ``build_digest`` (the
queries and the entries) and the rendering of each format, median of ``--repeat`` runs; the
SQL statements are counted with an SQLAlchemy event, and the plan of the main query is printed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from crawler.digest.build import build_digest  # noqa: E402
from crawler.digest.render import FORMATS, render  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Article, Source, Story  # noqa: E402

WORDS = (
    "machine learning model protein structure materials discovery climate simulation laboratory data "
    "researchers university institute science artificial intelligence prediction experiment network "
    "科学 智能 研究 模型 数据 实验 材料 蛋白质 气候 发现"
).split()
PERIOD = timedelta(days=1)


def _text(rng: random.Random, n: int = 220) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def build_corpus(url: str, size: int, stories_in_period: int, until: datetime, seed: int = 0) -> None:
    """Fill the database at ``url`` with ``size`` articles, ``stories_in_period`` stories new in the last day."""
    rng = random.Random(seed)
    with Database(url) as database, database.engine.begin() as connection:
        connection.execute(insert(Source), [{"name": f"outlet{i:02d}", "created_at": until} for i in range(50)])
        in_period: list[tuple[int, int]] = []  # (story index, copies)
        for index in range(stories_in_period):
            in_period.append((index, rng.randint(1, 4)))
        period_articles = sum(c for _, c in in_period)
        older = max(0, size - period_articles)
        stories: list[dict[str, Any]] = []
        articles: list[dict[str, Any]] = []
        story_id = 0
        article_id = 0

        def article(story: int, seen: datetime, relevant: bool) -> dict[str, Any]:
            nonlocal article_id
            article_id += 1
            return {
                "id": article_id,
                "source_id": rng.randint(1, 50),
                "url": f"https://outlet.example/{article_id}.html",
                "canonical_url": f"https://outlet.example/{article_id}.html",
                "url_hash": f"{article_id:040d}",
                "title": f"Story {story}: " + " ".join(rng.choice(WORDS) for _ in range(8)),
                "text": _text(rng),
                "content_hash": f"{article_id:064d}",
                "first_seen": seen,
                "last_seen": seen,
                "language": "en",
                "relevance": round(rng.uniform(0.5, 1.0), 3) if relevant else 0.1,
                "relevant": relevant,
                "evidence": json.dumps([{"term": "ai for science", "facet": "core", "count": 2, "where": ["title"]}]),
                "story_id": story,
            }

        start = until - PERIOD - timedelta(days=100)
        for _ in range(older):
            story_id += 1
            seen = start + timedelta(seconds=rng.uniform(0, 100 * 86400))
            stories.append({"id": story_id, "first_seen": seen, "last_seen": seen, "copies": 1})
            articles.append(article(story_id, seen, rng.random() > 1 / 3))
        for _, copies in in_period:
            if rng.random() < 0.25 and story_id > 10:  # a copy of an older story: it grows in the period
                target = rng.randint(1, story_id)
            else:
                story_id += 1
                target = story_id
                seen = until - PERIOD + timedelta(seconds=rng.uniform(0, 86000))
                stories.append({"id": story_id, "first_seen": seen, "last_seen": seen, "copies": copies})
            for _ in range(copies):
                seen = until - PERIOD + timedelta(seconds=rng.uniform(0, 86000))
                articles.append(article(target, seen, True))
        for chunk in range(0, len(stories), 5000):
            connection.execute(insert(Story), stories[chunk : chunk + 5000])
        for chunk in range(0, len(articles), 5000):
            connection.execute(insert(Article), articles[chunk : chunk + 5000])


def measure(url: str, until: datetime, repeat: int) -> dict[str, Any]:
    """Median seconds of build_digest and of each rendering, and the statements one build runs."""
    statements: list[str] = []
    with Database(url) as database:

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(database.engine, "before_cursor_execute", count)
        builds, renders = [], {fmt: [] for fmt in FORMATS}  # type: ignore[var-annotated]
        digest: dict[str, Any] = {}
        for _ in range(repeat):
            statements.clear()
            started = time.perf_counter()
            with database.session() as session:
                digest = build_digest(session, until - PERIOD, until, generated_at=until)
            builds.append(time.perf_counter() - started)
            queries = len(statements)
            for fmt in FORMATS:
                started = time.perf_counter()
                render(digest, fmt)
                renders[fmt].append(time.perf_counter() - started)
        event.remove(database.engine, "before_cursor_execute", count)
        with database.engine.connect() as connection:
            plan = connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT DISTINCT story_id FROM articles WHERE relevant = 1 "
                    "AND first_seen >= :a AND first_seen < :b AND story_id IS NOT NULL"
                ),
                {"a": (until - PERIOD).isoformat(" "), "b": until.isoformat(" ")},
            ).fetchall()
    return {
        "build_s": statistics.median(builds),
        "render_s": {fmt: statistics.median(values) for fmt, values in renders.items()},
        "queries": queries,
        "stories": digest["counts"]["stories"],
        "articles_in_period": digest["counts"]["articles"],
        "plan": " / ".join(str(row[-1]) for row in plan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes, comma-separated (first = baseline)")
    parser.add_argument("--stories", type=int, default=1000, help="stories new in the period")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db-dir", type=Path, help="where the SQLite files go (kept); default a temporary directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = args.db_dir or Path(tempfile.mkdtemp(prefix="ai4s-digest-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    until = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    results = {}
    try:
        for size in sizes:
            url = f"sqlite:///{workdir / f'digest-{size}.sqlite3'}"
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            started = time.perf_counter()
            build_corpus(url, size, args.stories, until)
            print(f"corpus of {size:,} articles built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            results[size] = measure(url, until, args.repeat)
    finally:
        if args.db_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    base = results[sizes[0]]
    print(f"\nDigest of one day ({args.stories:,} stories new in the period), SQLite, median of {args.repeat}\n")
    print("| corpus | stories | articles in period | queries | build s | md s | html s | json s | atom s | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, r in results.items():
        renders = " | ".join(f"{r['render_s'][fmt]:.3f}" for fmt in FORMATS)
        ratio = r["build_s"] / base["build_s"]
        print(
            f"| {size:,} | {r['stories']:,} | {r['articles_in_period']:,} | {r['queries']} | "
            f"{r['build_s']:.3f} | {renders} | {ratio:.2f} |"
        )
    print(f"\nplan of the period query: {results[sizes[-1]]['plan']}")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
