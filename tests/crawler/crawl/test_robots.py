"""robots.txt as RFC 9309 reads it, on a real crawl of a small loopback site: unavailable (4xx) allows
everything, unreachable (5xx, 429, or no answer in time) allows nothing of that host."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from crawler.app.webserver import LocalSite, Reply, html_reply
from storage import Database
from storage.models import Article
from tests.crawler.support import ai4s, article_html

FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "AI4S_EXTRACT_WORKERS=1")


def crawl_with_robots(tmp_path: Path, address: str, robots: Reply | None) -> tuple[list[str], int, int, str]:
    """Crawl a one-feed site whose robots.txt answers ``robots`` (``None``: there is none, a 404): the
    paths the site was asked for, the articles stored, the crawl's exit code and its standard error."""
    site = LocalSite("outlet", address)
    article = site.add("/2026/11/30/ai-model-finds-new-catalyst.html", html_reply(article_html("AI finds a catalyst")))
    rss = f"<rss><channel><item><title>t</title><link>{article}</link></item></channel></rss>"
    site.add("/rss.xml", Reply(200, rss.encode(), {"Content-Type": "application/rss+xml"}))
    if robots is not None:
        site.add("/robots.txt", robots)
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "--log-level", "INFO", *FAST, timeout=120)
    with Database(db_url) as database, database.session() as session:
        stored = session.execute(select(func.count()).select_from(Article)).scalar_one()
    return [record.path for record in site.log], stored, result.returncode, result.stderr


def test_a_missing_robots_txt_allows_the_whole_site(tmp_path: Path) -> None:
    paths, stored, code, _ = crawl_with_robots(tmp_path, "127.0.0.30", None)
    assert code == 0
    assert "/rss.xml" in paths and "/2026/11/30/ai-model-finds-new-catalyst.html" in paths
    assert stored == 1


@pytest.mark.parametrize(
    "robots",
    [Reply(403, b"User-agent: *\nDisallow: /\n"), Reply(404, b"User-agent: *\nDisallow: /\n"), Reply(401, b"")],
    ids=["403 with a disallowing body", "404 with a disallowing body", "401"],
)
def test_an_unavailable_robots_txt_allows_the_whole_site_whatever_its_body_says(tmp_path: Path, robots: Reply) -> None:
    paths, stored, code, _ = crawl_with_robots(tmp_path, "127.0.0.30", robots)
    assert code == 0
    assert "/2026/11/30/ai-model-finds-new-catalyst.html" in paths and stored == 1


@pytest.mark.parametrize(
    "robots",
    [
        Reply(503, b"Service Unavailable"),
        Reply(500, b"User-agent: *\nAllow: /\n"),
        Reply(429, b"Too Many Requests", {"Retry-After": "120"}),
        Reply(200, b"", delay=4.0),
        Reply(301, b"", {"Location": "http://127.0.0.1:9/robots.txt"}),
    ],
    ids=["503", "500 with an allowing body", "429", "no answer in time", "redirected to an internal address"],
)
def test_an_unreachable_robots_txt_allows_nothing_of_its_host(tmp_path: Path, robots: Reply) -> None:
    paths, stored, code, stderr = crawl_with_robots(tmp_path, "127.0.0.31", robots)
    assert set(paths) == {"/robots.txt"}, paths  # neither the feed nor the article was requested
    assert stored == 0
    assert "nothing of that host is fetched in this crawl (RFC 9309)" in stderr
    # the site could not be crawled: a failed crawl (so the daemon backs off and marks it), not an empty one
    assert code == 1 and "robots.txt unreachable" in stderr
