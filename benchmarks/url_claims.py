#!/usr/bin/env python3
"""Cost of claiming article URLs before fetching them (storage.claims), per page of links.

``python3 benchmarks/url_claims.py [--db URL] [--pages N] [--links K]`` claims, for N pages, a batch of K
canonical article URLs each (one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` per page, in its own
transaction, as a crawl does in its database thread), then claims the same batches again as a second crawl
(every URL already claimed: the statement writes nothing) and prints milliseconds per page and per URL for
both. ``--db`` defaults to a fresh SQLite file in a temporary directory; a PostgreSQL URL is emptied of
``url_claims`` rows first (nothing else is touched).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete  # noqa: E402

from storage import Database  # noqa: E402
from storage.claims import claim_urls  # noqa: E402
from storage.models import UrlClaim  # noqa: E402


def claim_all(database: Database, batches: list[list[tuple[str, str]]], run: int) -> tuple[float, int]:
    """Claim every batch for crawl run ``run``, one transaction each; (seconds, URLs claimed)."""
    claimed = 0
    start = time.perf_counter()
    for batch in batches:
        claimed += len(database.transaction(lambda session, batch=batch: claim_urls(session, batch, run)))
    return time.perf_counter() - start, claimed


def main() -> None:
    """Parse the options, run both rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--links", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = options.db or f"sqlite:///{Path(tmp) / 'claims.sqlite3'}"
        with Database(url) as database:
            database.transaction(lambda session: session.execute(delete(UrlClaim)))
            batches = [
                [
                    (f"https://news{p % 50}.example/{p}/article-{k}.html", f"source{p % 50}")
                    for k in range(options.links)
                ]
                for p in range(options.pages)
            ]
            backend = database.engine.dialect.name
            for label, run in (("first crawl (all new)", 1), ("second crawl (all taken)", 2)):
                seconds, claimed = claim_all(database, batches, run)
                per_page = 1000 * seconds / options.pages
                per_url = per_page / options.links
                print(
                    f"{backend:10} {label:26} {options.pages} pages x {options.links} links: {per_page:6.2f} ms/page"
                    f" {per_url:6.3f} ms/URL, {claimed} claimed"
                )
            database.transaction(lambda session: session.execute(delete(UrlClaim)))


if __name__ == "__main__":
    main()
