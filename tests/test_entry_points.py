"""The ways to start a crawl besides the ``ai4s`` script: ``python -m crawler`` (what the daemon and the
demo run for each crawl) and, from the project root through its ``scrapy.cfg``, ``scrapy crawl news``
configured by ``-s AI4S_SOURCES_FILE=... -s AI4S_DB=...``. Each crawls a small local site into a fresh
SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article
from tests.crawler.support import PROJECT_ROOT, article_html, run_python_module

ENTRY_POINTS = {
    "python -m crawler": lambda sources, db: ("crawler", "crawl", "--sources", str(sources), "--db", db),
    "scrapy crawl news": lambda sources, db: (
        "scrapy",
        "crawl",
        "news",
        "-s",
        f"AI4S_SOURCES_FILE={sources}",
        "-s",
        f"AI4S_DB={db}",
    ),  # fmt: skip
}


@pytest.fixture
def outlet(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A started one-article site with a feed: its sources file and the article's URL."""
    site = LocalSite("outlet", "127.0.0.41")
    article = site.add("/2024/03/04/machine-learning-for-materials.html", html_reply(article_html("ML for materials")))
    feed = f"<rss><channel><item><title>ML</title><link>{article}</link></item></channel></rss>"
    site.add("/rss.xml", Reply(200, feed.encode(), {"Content-Type": "application/rss+xml"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    with site:
        yield sources, article


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_entry_point_crawls_a_local_site(entry_point: str, outlet: tuple[Path, str], tmp_path: Path) -> None:
    sources, article = outlet
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    assert (PROJECT_ROOT / "scrapy.cfg").is_file()  # what `scrapy crawl` finds from the project root

    module, *args = ENTRY_POINTS[entry_point](sources, db_url)
    result = run_python_module(module, *args, "-s", "DOWNLOAD_DELAY=0", "-s", "AI4S_EXTRACT_WORKERS=1", timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        stored = list(session.execute(select(Article.canonical_url)).scalars())
    assert stored == [canonical_url(article)]
