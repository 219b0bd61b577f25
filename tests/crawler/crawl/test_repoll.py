"""Cheap re-polls: a crawl of an unchanged web reads no entry page again and fetches no article;
the pages behind an unchanged page are still polled; the server's and the feed's wishes about
the next poll are honoured; an article whose fetch failed is tried again even when nothing
announces it again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRunSource, EntryPage, Source
from tests.crawler.support import ai4s, article_html
from tests.localweb import NewsWeb

FAST = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_START_DELAY=0.05", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]


def crawl(sources: Path, db_url: str, *settings: str) -> None:
    result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, *settings, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]


def entry_counts(db_url: str, run_id: int) -> dict[str, tuple[int, int, int]]:
    """Per source of run ``run_id``: (entry pages read, unchanged, failed)."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(
            select(
                Source.name,
                CrawlRunSource.entry_pages_read,
                CrawlRunSource.entry_pages_unchanged,
                CrawlRunSource.entry_pages_failed,
            )
            .join(Source, Source.id == CrawlRunSource.source_id)
            .where(CrawlRunSource.run_id == run_id)
        )
        return {name: (read, unchanged, failed) for name, read, unchanged, failed in rows}


def stored(db_url: str) -> set[str]:
    with Database(db_url) as database, database.session() as session:
        return set(session.execute(select(Article.canonical_url)).scalars())


def test_an_unchanged_web_costs_no_parsing_and_changes_behind_unchanged_pages_are_found(
    news_web: NewsWeb, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(news_web.sources_toml(), encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    crawl(sources, db_url)
    first_requests = len(news_web.requests())
    article_requests = len(news_web.article_requests())

    crawl(sources, db_url)  # nothing changed
    second = entry_counts(db_url, 2)
    assert all(read == 0 and unchanged > 0 and failed == 0 for read, unchanged, failed in second.values()), second
    assert len(news_web.article_requests()) == article_requests  # no article page requested
    repoll = news_web.requests()[first_requests:]
    feed_polls = [record.status for name, record in repoll if name == "feedsite" and record.path.endswith(".xml")]
    assert feed_polls and set(feed_polls) == {304}  # the feed site's validators were sent back
    assert len(repoll) < first_requests / 2

    new = news_web.add_articles(1)
    crawl(sources, db_url)
    assert {canonical_url(a.url) for a in new} <= stored(db_url)
    # robots.txt (the sitemap site's entry point) did not change, the sitemaps it leads to did: it was
    # not parsed again, and the sitemap index it led to last time was polled, leading to the new article
    with Database(db_url) as database, database.session() as session:
        robots = session.execute(select(EntryPage).where(EntryPage.url.like("%127.0.0.3%/robots.txt"))).scalar_one()
    assert robots.unchanged_polls == 2
    assert entry_counts(db_url, 3)["sitemapsite"][0] >= 1
    assert any(canonical_url(a.url).startswith("http://127.0.0.3") for a in new)


def _rss(*links: str, ttl: int | None = None) -> bytes:
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in links)
    channel = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f"<rss><channel>{channel}{items}</channel></rss>".encode()


def test_retry_after_and_feed_ttl_delay_the_next_poll_of_that_page(tmp_path: Path) -> None:
    site = LocalSite("hints", "127.0.0.23", etags=True)
    story = site.add("/2025/03/01/story.html", html_reply(article_html("A story of the day")))
    site.add("/slow-feed.xml", Reply(200, _rss(story, ttl=60), {"Content-Type": "application/rss+xml"}))
    site.add("/busy-feed.xml", Reply(503, b"busy", {"Content-Type": "text/plain", "Retry-After": "3600"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    feeds = f'["{site.url("/slow-feed.xml")}", "{site.url("/busy-feed.xml")}"]'
    sources.write_text(f'[[source]]\nname = "hints"\nfeeds = {feeds}\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with site:
        crawl(sources, db_url, "-s", "RETRY_TIMES=0")
        assert len(site.requests_for("/slow-feed.xml")) == 1 and len(site.requests_for("/busy-feed.xml")) == 1
        crawl(sources, db_url, "-s", "RETRY_TIMES=0")  # an hour has not passed: neither feed is polled
        assert len(site.requests_for("/slow-feed.xml")) == 1 and len(site.requests_for("/busy-feed.xml")) == 1
        crawl(sources, db_url, "-s", "RETRY_TIMES=0", "-s", "AI4S_HONOUR_POLL_HINTS=False")
        assert len(site.requests_for("/slow-feed.xml")) == 2 and len(site.requests_for("/busy-feed.xml")) == 2
        # the feed answered 304 this time: its ttl still holds for the next poll
        assert site.requests_for("/slow-feed.xml")[-1].status == 304
        crawl(sources, db_url, "-s", "RETRY_TIMES=0")
        assert len(site.requests_for("/slow-feed.xml")) == 2 and len(site.requests_for("/busy-feed.xml")) == 2
    assert canonical_url(story) in stored(db_url)


def test_a_source_whose_only_feed_asks_to_wait_is_not_polled_again_before_time(tmp_path: Path) -> None:
    site = LocalSite("busy", "127.0.0.25")
    site.add("/feed.xml", Reply(429, b"slow down", {"Content-Type": "text/plain", "Retry-After": "7200"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "busy"\nfeeds = ["{site.url("/feed.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with site:
        first = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
        # two hours is longer than any backoff of this crawl: asked once, not retried within it
        assert len(site.requests_for("/feed.xml")) == 1
        assert first.returncode == 1 and "crawl run 1: failed" in first.stdout  # nothing of the source reachable
        crawl(sources, db_url)  # the wait was remembered though the crawl failed
        assert len(site.requests_for("/feed.xml")) == 1


def test_an_article_that_failed_is_fetched_again_though_its_feed_is_unchanged(tmp_path: Path) -> None:
    site = LocalSite("flaky", "127.0.0.24", etags=True)
    attempts: list[RequestRecord] = []

    def flaky(record: RequestRecord) -> Reply:
        attempts.append(record)
        if len(attempts) == 1:
            return Reply(500, b"oops", {"Content-Type": "text/plain"})
        return html_reply(article_html("A story that failed once"))

    story = site.add("/2025/03/02/flaky-story.html", flaky)
    site.add("/rss.xml", Reply(200, _rss(story), {"Content-Type": "application/rss+xml"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "flaky"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with site:
        crawl(sources, db_url, "-s", "RETRY_TIMES=0")
        assert canonical_url(story) not in stored(db_url)
        crawl(sources, db_url, "-s", "RETRY_TIMES=0")
    assert [r.status for r in site.requests_for("/rss.xml")] == [200, 304]
    assert len(attempts) == 2 and canonical_url(story) in stored(db_url)
