"""A real crawl stores, for an article whose page gives no date of its own, the publication date its feed
gave; a date the page declares wins over the feed's."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply
from storage import Database
from storage.models import Article
from tests.crawler.support import ai4s, article_html

HTML = {"Content-Type": "text/html; charset=utf-8"}
FEED_DATE = datetime(2025, 3, 3, 8, 30, tzinfo=UTC)
PAGE_DATE = datetime(2025, 3, 1, 10, tzinfo=UTC)  # the moment the page declares


def test_an_undated_page_gets_its_feed_date_and_a_dated_page_keeps_its_own(tmp_path: Path) -> None:
    with LocalSite("dates", host="127.0.5.77") as site:
        undated = site.add(
            "/news/ai-climate-emulator", Reply(200, article_html("AI emulates the climate").encode(), HTML)
        )
        declared = '<meta property="article:published_time" content="2025-03-01T10:00:00+00:00"></head>'
        dated_html = article_html("AI designs enzymes").replace("</head>", declared)
        dated = site.add("/news/ai-designs-enzymes", Reply(200, dated_html.encode(), HTML))
        items = "".join(
            f"<item><title>t</title><link>{url}</link><pubDate>{format_datetime(FEED_DATE, usegmt=True)}</pubDate></item>"
            for url in (undated, dated)
        )
        feed = f"<rss version='2.0'><channel><title>Lab</title>{items}</channel></rss>".encode()
        site.add("/rss.xml", Reply(200, feed, {"Content-Type": "application/rss+xml"}))
        site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[source]]\nname = "dates"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
        db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
        result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0", timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        published = {a.url: a.published for a in session.execute(select(Article)).scalars()}
    assert published == {undated: FEED_DATE, dated: PAGE_DATE}
