"""The address policy on a real crawl of a site that points everywhere it should not: its feed, sitemap,
robots.txt ``Sitemap:`` lines, listing page, redirects (301, 302 chains), a meta refresh and
protocol-relative links lead to a canary server on loopback, in every spelling of a loopback address,
``localhost``, and a name the machine resolves to loopback. The canary must see no connection at all,
the site's own articles are still stored, each refused request is counted for the source, and the log
says once per host why it was refused.

The same crawl runs a second time with the URL check left out, to show that the resolver alone (the
address actually connected to) holds too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.crawl import settings as project_settings
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRunSource
from tests.canary import Canary, loopback_names
from tests.crawler.support import ai4s, article_html

SITE_HOST = "127.0.0.50"
FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "DOWNLOAD_TIMEOUT=5", "-s", "AI4S_EXTRACT_WORKERS=1")
#: The ways a page can write the canary's loopback address (each a host of a URL on the canary's port).
SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "0x7f.1",
    "017700000001",
    "127.1",
    "0x7f000001",
    "127.0.0.2",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
    "localhost",
    "localhost.",
    "LocalHost",
]


def rss(*links: str) -> Reply:
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    return Reply(200, f"<rss><channel>{items}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})


def urlset(*links: str) -> Reply:
    entries = "".join(f"<url><loc>{link}</loc></url>" for link in links)
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    return Reply(200, body.encode(), {"Content-Type": "application/xml"})


@dataclass
class FaultSite:
    """The site and canary of one crawl: what the site's pages link to, and what should come of it."""

    site: LocalSite
    canary: Canary
    own_articles: list[str]  # the final URLs of the site's own articles
    canary_links: list[str]  # every URL the crawl is led to that reaches the canary: each one is refused
    sources: Path

    def __enter__(self) -> FaultSite:
        self.canary.start()
        self.site.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.site.stop()
        self.canary.stop()


def build_fault_site(tmp_path: Path) -> FaultSite:
    """A site on ``SITE_HOST`` whose every kind of link leads to the canary as well as to its own articles."""
    site = LocalSite("fault", SITE_HOST)
    canary = Canary("127.0.0.2", SITE_HOST)
    hosts = SPELLINGS + loopback_names()[:1]
    own = [
        site.add(f"/2024/05/0{i}/ai-models-for-materials-{i}.html", html_reply(article_html(f"AI for materials {i}")))
        for i in range(1, 5)
    ]
    canary_links: list[str] = []

    def to_canary(host: str, path: str) -> str:
        url = canary.url(host, path)
        canary_links.append(url)
        return url

    # Redirects: a 301 straight to the canary, a 302 -> 301 chain, a meta refresh; and one redirect home.
    site.add("/r/moved", Reply(301, b"", {"Location": to_canary("0x7f.1", "/redirect/301")}))
    site.add("/r/chain-1", Reply(302, b"", {"Location": site.url("/r/chain-2")}))
    site.add("/r/chain-2", Reply(301, b"", {"Location": to_canary("2130706433", "/redirect/chain")}))
    site.add("/r/home", Reply(302, b"", {"Location": own[3]}))
    refresh = f"<html><head><meta http-equiv='refresh' content='0; url={to_canary('127.1', '/refresh')}'></head></html>"
    site.add("/2024/05/09/moved-story.html", html_reply(refresh))
    protocol_relative = f"//127.0.0.1:{canary.port}"
    feed_links = [to_canary(host, f"/feed/{index}") for index, host in enumerate(hosts)]
    feed_links.append(protocol_relative + "/feed/protocol-relative")
    canary_links.append("http:" + feed_links[-1])
    site.add(
        "/rss.xml",
        rss(
            own[0],
            *feed_links,
            site.url("/r/moved"),
            site.url("/r/chain-1"),
            site.url("/r/home"),
            site.url("/2024/05/09/moved-story.html"),
        ),
    )
    sitemap_links = [to_canary(host, f"/sitemap/{index}") for index, host in enumerate(["[::1]", "0.0.0.0", "127.1"])]
    canary_links.append(f"http://127.0.0.1:{canary.port}/sitemap/protocol-relative")
    site.add("/sitemap.xml", urlset(own[1], *sitemap_links, f"{protocol_relative}/sitemap/protocol-relative"))
    robots = [
        "User-agent: *",
        "Allow: /",
        f"Sitemap: {site.url('/sitemap.xml')}",
        f"Sitemap: {to_canary('127.0.0.2', '/robots-sitemap.xml')}",
        f"Sitemap: {to_canary('localhost', '/robots-sitemap-2.xml')}",
        f"Sitemap: {protocol_relative}/robots-sitemap-3.xml",
    ]
    canary_links.append(f"http://127.0.0.1:{canary.port}/robots-sitemap-3.xml")
    site.add("/robots.txt", Reply(200, "\n".join(robots).encode(), {"Content-Type": "text/plain"}))
    # A listing follows links on its own host only: the canary listens on this host too, on another port.
    same_host_other_port = to_canary(SITE_HOST, "/2024/05/10/admin-story.html")
    canary_links.append(f"http://{SITE_HOST}:{canary.port}/2024/05/11/admin-story.html")
    listing = (
        f"<html><body><h1>News</h1><ul><li><a href='{own[2]}'>AI for materials 3</a></li>"
        f"<li><a href='{same_host_other_port}'>Admin story</a></li>"
        f"<li><a href='//{SITE_HOST}:{canary.port}/2024/05/11/admin-story.html'>Admin story 2</a></li></ul></body></html>"
    )
    site.add("/news/", html_reply(listing))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        "[[source]]\n"
        'name = "fault"\n'
        f'feeds = ["{site.url("/rss.xml")}"]\n'
        f'sitemaps = ["{site.url("/robots.txt")}"]\n'
        f'start_urls = ["{site.url("/news/")}"]\n',
        encoding="utf-8",
    )
    return FaultSite(site, canary, own, canary_links, sources)


@pytest.fixture
def fault_site(tmp_path: Path) -> FaultSite:
    return build_fault_site(tmp_path)


def refusal_lines(stderr: str) -> list[str]:
    """The log lines that say a request was refused by the address policy."""
    return [line for line in stderr.splitlines() if re.search(r"Source fault: refused \S+: internal address", line)]


def crawl(web: FaultSite, tmp_path: Path, *settings: str) -> tuple[str, str, set[str], int]:
    """Crawl the fault site: standard output and error, the canonical URLs stored, the refusals counted."""
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with web:
        result = ai4s(
            "crawl", "--sources", str(web.sources), "--db", db_url, "--log-level", "INFO", *FAST, *settings, timeout=180
        )
    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        stored = set(session.execute(select(Article.canonical_url)).scalars())
        refused = session.execute(select(CrawlRunSource.refused)).scalar_one()
    return result.stdout, result.stderr, stored, refused


def assert_held(web: FaultSite, stdout: str, stderr: str, stored: set[str], refused: int) -> None:
    """The canary untouched, the site's own articles stored, each canary link refused, counted and logged."""
    assert web.canary.connections == [], web.canary.connections
    assert stored == {canonical_url(url) for url in web.own_articles}
    assert refused == len(set(web.canary_links)), (refused, sorted(set(web.canary_links)))
    lines = refusal_lines(stderr)
    hosts = [urlsplit(line.split(" refused ", 1)[1].split(": internal address", 1)[0]).hostname for line in lines]
    expected = {urlsplit(url).hostname for url in web.canary_links}
    assert sorted(hosts) == sorted(expected), "\n".join(lines)  # one line per host, and only those
    assert "refused" in stdout  # the summary's column


def test_no_spelling_redirect_or_link_reaches_an_internal_address(fault_site: FaultSite, tmp_path: Path) -> None:
    stdout, stderr, stored, refused = crawl(fault_site, tmp_path)
    assert_held(fault_site, stdout, stderr, stored, refused)
    assert "Traceback" not in stderr


def test_the_resolver_alone_refuses_what_the_url_check_would(fault_site: FaultSite, tmp_path: Path) -> None:
    middlewares = dict(project_settings.DOWNLOADER_MIDDLEWARES)
    middlewares["tests.canary.UncheckedUrlsMiddleware"] = middlewares.pop(
        "crawler.crawl.addresses.AddressPolicyMiddleware"
    )
    stdout, stderr, stored, refused = crawl(
        fault_site, tmp_path, "-s", f"DOWNLOADER_MIDDLEWARES={json.dumps(middlewares)}"
    )
    assert_held(fault_site, stdout, stderr, stored, refused)
