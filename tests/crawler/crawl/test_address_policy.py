"""Address policy and the Scrapy entry point, on the project's own small web (no corpus needed).

A configured source on a loopback address is crawled; links it publishes to other internal
addresses, to non-http schemes, or redirects into them, are never followed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article
from tests.crawler.support import article_html, run_python_module


def test_internal_links_and_other_schemes_are_not_followed(tmp_path: Path) -> None:
    outlet = LocalSite("outlet", "127.0.0.20")
    elsewhere = LocalSite("elsewhere", "127.0.0.21")
    secret = elsewhere.add("/2024/01/02/internal-report.html", html_reply(article_html("Internal")))
    own = outlet.add("/2024/01/01/ai-for-science-forum.html", html_reply(article_html("AI for Science forum")))
    outlet.add("/2024/01/03/moved-story.html", Reply(302, b"", {"Location": secret}))
    items = [
        own,
        secret,
        outlet.url("/2024/01/03/moved-story.html"),
        "ftp://127.0.0.20/2024/01/04/a.html",
        "file:///etc/passwd",
        "gopher://127.0.0.20:70/1/",
    ]
    rss = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in items)
    outlet.add(
        "/rss.xml", Reply(200, f"<rss><channel>{rss}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})
    )
    outlet.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{outlet.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with outlet, elsewhere:
        # The Scrapy entry point, from the project root, as `scrapy crawl` users run it.
        result = run_python_module(
            "scrapy",
            "crawl",
            "news",
            "-s",
            f"AI4S_SOURCES_FILE={sources}",
            "-s",
            f"AI4S_DB={db_url}",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "LOG_LEVEL=INFO",
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert elsewhere.log == []
    with Database(db_url) as database, database.session() as session:
        urls = set(session.execute(select(Article.canonical_url)).scalars())
    assert urls == {canonical_url(own)}
    assert "internal address not configured as a source" in result.stderr
