"""Address policy and the Scrapy entry point, on the project's own small web (no corpus needed).

A configured source on a loopback address is crawled; links it publishes to other internal
addresses, to non-http schemes, or redirects into them, are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
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


def test_behind_a_proxy_a_host_name_that_resolves_to_an_internal_address_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the proxy resolves the names it is asked for: the crawl's resolver saw only the proxy's address, and a
    # feed naming localhost had the proxy fetch it, its answer stored as an article
    name = socket.gethostname()  # this machine's own name: a name, not an address, that resolves to one of its own
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)[0][4][0])
    except (OSError, ValueError):
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if address.is_global:
        pytest.skip(f"this machine's name {name!r} resolves to a public address ({address})")
    proxy = LocalSite("proxy", "127.0.0.22")  # answers absolute URLs, as a forward proxy is asked them
    feed_url = "http://127.0.0.23:8023/rss.xml"  # the configured source, reached through the proxy
    inside = f"http://{name}:{proxy.port}/2024/01/05/internal-admin.html"
    outside = "http://127.0.0.23:8023/2024/01/05/ai-for-science-forum.html"
    items = "".join(f"<item><title>t</title><link>{url}</link></item>" for url in (inside, outside))
    feed = f"<rss><channel>{items}</channel></rss>".encode()
    proxy.add(feed_url, Reply(200, feed, {"Content-Type": "application/rss+xml"}))
    proxy.add(inside, html_reply(article_html("Internal admin page")))
    proxy.add(outside, html_reply(article_html("AI for Science forum")))
    monkeypatch.setenv("http_proxy", proxy.url("/").rstrip("/"))
    monkeypatch.setenv("no_proxy", "")
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "outlet"\nfeeds = ["{feed_url}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with proxy:
        result = run_python_module(
            "crawler", "crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0", timeout=120
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert inside not in {record.path for record in proxy.log}, "the proxy was asked for an internal address"
    with Database(db_url) as database, database.session() as session:
        urls = set(session.execute(select(Article.canonical_url)).scalars())
    assert urls == {canonical_url(outside)}
