"""A crawl records what goes wrong and goes on: malformed feeds, oversized and slow pages,
server errors. Runs on the project's own small web (no corpus needed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRun, CrawlRunSource, FetchedUrl
from tests.crawler.support import ai4s, article_html


def rss(*links: str) -> Reply:
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in links)
    return Reply(200, f"<rss><channel>{items}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})


def test_broken_inputs_are_recorded_and_the_crawl_goes_on(tmp_path: Path) -> None:
    site = LocalSite("faulty", "127.0.0.22")
    good = site.add("/2024/02/01/good-story.html", html_reply(article_html("A good story")))
    huge = site.add("/2024/02/02/huge-story.html", html_reply(article_html("Huge") + "<!--" + "x" * 300_000 + "-->"))
    slow = site.add(
        "/2024/02/03/slow-story.html",
        Reply(200, article_html("Slow").encode(), {"Content-Type": "text/html; charset=utf-8"}, delay=3),
    )
    down = site.add("/2024/02/04/down-story.html", Reply(503, b"busy", {"Content-Type": "text/plain"}))
    empty = site.add("/2024/02/05/empty-page.html", html_reply("<html><body><p>Nothing here.</p></body></html>"))
    site.add("/rss.xml", rss(good, huge, slow, down, empty))
    site.add("/broken.xml", Reply(200, b"<html><body>This is not a feed</body></html>", {"Content-Type": "text/xml"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "faulty"\nfeeds = ["{site.url("/rss.xml")}", "{site.url("/broken.xml")}"]\n',
        encoding="utf-8",
    )
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with site:
        result = ai4s(
            "crawl",
            "--sources",
            str(sources),
            "--db",
            db_url,
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "DOWNLOAD_MAXSIZE=100000",
            "-s",
            "DOWNLOAD_TIMEOUT=1",
            "-s",
            "RETRY_TIMES=1",
            "-s",
            "AI4S_RETRY_BACKOFF_BASE=0.1",
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        articles = set(session.execute(select(Article.canonical_url)).scalars())
        outcomes = {f.canonical_url: f.outcome for f in session.execute(select(FetchedUrl)).scalars()}
        errors = {f.canonical_url: f.error for f in session.execute(select(FetchedUrl)).scalars()}
        run = session.execute(select(CrawlRun)).scalar_one()
        counts = session.execute(select(CrawlRunSource)).scalar_one()
    assert articles == {canonical_url(good)}
    assert outcomes[canonical_url(empty)] == "no_text"
    assert outcomes[canonical_url(huge)] == "network_error"  # cancelled at DOWNLOAD_MAXSIZE
    assert outcomes[canonical_url(slow)] == "network_error" and errors[canonical_url(slow)] == "timed out"
    assert outcomes[canonical_url(down)] == "http_error"  # 503 after its retry
    assert len(site.requests_for("/2024/02/04/down-story.html")) == 2  # first try + one retry
    assert run.status == "ok" and run.finished_at is not None
    # huge, slow and down failed; the feed that is not a feed is an error of the source too
    assert counts.errors == 4 and counts.new_articles == 1 and counts.not_articles == 1
    assert "unreadable" in result.stderr and "not an RSS or Atom feed" in result.stderr
