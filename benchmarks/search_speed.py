"""Search time on a large corpus: ``ai4s search`` queries (``storage.search.search_stories``, 20 stories)
over 100,000 articles, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm GIN).

    python3 benchmarks/search_speed.py [--size 100000] [--repeat 5] [--corpus DIR] [--postgres URL] [--db-dir DIR]

The articles are synthetic, made from the test corpus's real texts: each is 4 to 8 paragraphs drawn at
random from the corpus pages of its language, so that the words and their frequencies are those of news
(Chinese and English). 1 in 3 joins a story of 2 to 4 copies. Each database is migrated by the product and
filled in bulk, its search rows in the product's form (:func:`storage.searchtext.indexed_body`, made from
each paragraph's indexed form computed once). Timed per query: the median of ``--repeat`` runs, after
one warm-up run; printed with the number of stories found and, for each backend, the plan of one query.
PostgreSQL is skipped without ``--postgres`` (or ``$AI4S_BENCH_POSTGRES_URL``); its database's public
schema is dropped first.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.bench_support import resolve_corpus  # noqa: E402
from storage import Database  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Article, ArticleSearchText, Source, Story  # noqa: E402
from storage.search import TRIGRAM_INDEX, search_stories  # noqa: E402
from storage.searchtext import indexed_form  # noqa: E402
from tests.localweb import load_corpus  # noqa: E402

#: Queries of each kind: short Chinese (LIKE fallback), Chinese words and phrases, traditional script,
#: English words, a phrase, a rare term and a term found nowhere.
QUERIES = (
    "气象",
    "人工智能",
    "天氣預報",
    "科学 研究",
    "大模型",
    "climate",
    "machine learning",
    '"artificial intelligence"',
    "protein structure",
    "ai",
    "zzyzx",
)
BATCH = 2000


def paragraphs_by_language(corpus: Path) -> dict[str, list[tuple[str, str]]]:
    """The paragraphs (40 characters or more) of the corpus pages with their indexed form, by language."""
    found: dict[str, list[tuple[str, str]]] = {"zh": [], "en": []}
    for page in load_corpus(corpus):
        language = "zh" if page.language.startswith("zh") else "en" if page.language.startswith("en") else None
        if language:
            kept = (p.strip() for p in page.body.split("\n") if len(p.strip()) >= 40)
            found[language].extend((paragraph, indexed_form(paragraph)) for paragraph in kept)
    return found


def fill(url: str, size: int, paragraphs: dict[str, list[tuple[str, str]]], seed: int = 0) -> float:
    """Fill the database at ``url`` with ``size`` articles and their search index; seconds taken."""
    rng = random.Random(seed)
    start = time.perf_counter()
    now = datetime.now(UTC)
    with Database(url) as database, database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # a bulk load builds its GIN index once, after the rows
            connection.execute(text(f"DROP INDEX {TRIGRAM_INDEX}"))
        connection.execute(insert(Source), [{"name": f"outlet{i:02d}", "created_at": now} for i in range(50)])
        source_ids = [row[0] for row in connection.execute(text("SELECT id FROM sources ORDER BY id"))]
        story_id, copies_left = 0, 0
        for first in range(0, size, BATCH):
            articles, stories, search = [], [], []
            for number in range(first, min(size, first + BATCH)):
                language = "zh" if rng.random() < 0.6 else "en"
                chosen = rng.sample(paragraphs[language], rng.randint(4, 8))
                body = "\n".join(paragraph for paragraph, _ in chosen)
                title = chosen[0][0][:40]
                seen = now - timedelta(minutes=number)
                if copies_left == 0 and rng.random() < 1 / 3:
                    story_id, copies_left = story_id + 1, rng.randint(2, 4)
                    stories.append({"id": story_id, "first_seen": seen, "last_seen": seen, "copies": copies_left})
                in_story = story_id if copies_left else None
                copies_left = max(0, copies_left - 1)
                article_id = number + 1
                articles.append(
                    {
                        "id": article_id, "source_id": rng.choice(source_ids), "url": f"http://x.example/{number}",
                        "canonical_url": f"http://x.example/{number}", "url_hash": f"u{number}",
                        "content_hash": f"c{number}", "title": title, "text": body, "language": language,
                        "first_seen": seen, "last_seen": seen, "relevant": rng.random() < 0.8, "story_id": in_story,
                    }
                )  # fmt: skip
                # indexed_body(title, body), from the paragraphs' indexed forms made once (each opens with a space)
                title_form = indexed_form(title)
                body_form = title_form + "\n" + "".join(form for _, form in chosen)
                search.append({"article_id": article_id, "title": title_form, "body": body_form})
            if stories:
                connection.execute(insert(Story), stories)
            connection.execute(insert(Article), articles)
            connection.execute(insert(ArticleSearchText), search)
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT setval('articles_id_seq', :n)"), {"n": size})
            connection.execute(
                text(f"CREATE INDEX {TRIGRAM_INDEX} ON article_search USING gin (body gin_trgm_ops)")
            )  # as migration 0010 makes it
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        engine.dispose()
    return time.perf_counter() - start


def time_queries(url: str, repeat: int) -> list[tuple[str, int, float]]:
    """(query, stories found, median seconds) of each query."""
    results = []
    with Database(url) as database:
        for query in QUERIES:
            timings = []
            for run in range(repeat + 1):
                with database.session() as session:
                    started = time.perf_counter()
                    hits = search_stories(session, query, limit=20)
                    if run:  # the first run warms the caches
                        timings.append(time.perf_counter() - started)
            results.append((query, len(hits), statistics.median(timings)))
    return results


def plan(url: str, query: str) -> str:
    """The database's plan of the matching part of one query."""
    from storage.searchtext import query_terms

    engine = make_engine(url)
    term = query_terms(query)[0]
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.execute(
                text("EXPLAIN QUERY PLAN SELECT rowid FROM article_search_fts WHERE article_search_fts MATCH :q"),
                {"q": '"' + term.replace('"', '""') + '"'},
            )
            lines = [str(row[-1]) for row in rows]
        else:
            rows = connection.execute(
                text("EXPLAIN SELECT article_id FROM article_search WHERE body LIKE :q"), {"q": f"%{term}%"}
            )
            lines = [row[0] for row in rows]
    engine.dispose()
    return "\n    ".join(lines)


def report(name: str, url: str, size: int, paragraphs: dict[str, list[tuple[str, str]]], repeat: int) -> None:
    """Fill one database, time the queries, print the figures."""
    seconds = fill(url, size, paragraphs)
    print(f"\n{name}: {size:,} articles filled and indexed in {seconds:.0f} s")
    print(f"  {'query':<26} {'stories':>7} {'median ms':>10}")
    for query, found, median in time_queries(url, repeat):
        print(f"  {query:<26} {found:>7} {median * 1000:>10.1f}")
    for query in (QUERIES[1], "ai"):  # a Chinese word, and a two-letter Latin one (a word start: " ai")
        print(f"  plan of {query!r}:\n    {plan(url, query)}")


def main() -> None:
    """Build the corpora and print the search times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", help="the test corpus (default: ../shared/corpus or $AI4S_TEST_CORPUS)")
    parser.add_argument("--postgres", default=os.environ.get("AI4S_BENCH_POSTGRES_URL"))
    parser.add_argument("--db-dir", help="where the SQLite file goes (default: a temporary directory)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="which databases to measure")
    args = parser.parse_args()
    paragraphs = paragraphs_by_language(resolve_corpus(args.corpus))
    print(f"paragraphs from the corpus: {len(paragraphs['zh'])} Chinese, {len(paragraphs['en'])} English")
    directory = Path(args.db_dir or tempfile.mkdtemp(prefix="ai4s-search-"))
    try:
        if "sqlite" in args.backends:
            sqlite_file = directory / "search.sqlite3"
            sqlite_file.unlink(missing_ok=True)
            report("SQLite (FTS5 trigram)", f"sqlite:///{sqlite_file}", args.size, paragraphs, args.repeat)
            print(f"  database file: {sqlite_file.stat().st_size / 1e6:.0f} MB")
        if "postgresql" not in args.backends:
            pass
        elif args.postgres:
            engine = make_engine(args.postgres)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            report("PostgreSQL (pg_trgm GIN)", args.postgres, args.size, paragraphs, args.repeat)
        else:
            print("\nPostgreSQL: skipped (give --postgres URL or set AI4S_BENCH_POSTGRES_URL)")
    finally:
        if not args.db_dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
