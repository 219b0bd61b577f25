"""A local web whose entry points break mid-life, for the fallback chain (crawler/crawl/fallback.py).

Two sites on 127.0.8.x, each a :class:`~crawler.app.webserver.LocalSite` with small English articles
(:func:`tests.crawler.support.article_html`, one title each) published a few at a time:

``feedsite`` (127.0.8.1)
    An RSS feed ``/feed.xml`` naming its newest articles, which can die (404) and come back; a homepage
    listing the newest articles with a link to the section ``/news/``, which lists them all. robots.txt
    names no sitemap.
``sitemapsite`` (127.0.8.2)
    A sitemap at ``/sitemap.xml`` naming every article, which can move to ``/sitemaps/news.xml`` (the old
    place then answers 404, and robots.txt's ``Sitemap:`` line names the new one). Its homepage lists no
    article: after the move only robots.txt leads to them.

Nothing here reaches beyond loopback.
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from tests.crawler.support import article_html
from tests.localweb import LoopbackWeb

FEED_HOST, SITEMAP_HOST = "127.0.8.1", "127.0.8.2"
#: Articles the homepage of the feed site lists (its section lists them all).
HOMEPAGE_ARTICLES = 8
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}
_XML = {"Content-Type": "application/xml; charset=utf-8"}
_NOT_FOUND = Reply(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html; charset=utf-8"})


class _Site:
    """One site of the web: its server and its articles (absolute URLs, oldest first)."""

    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.server = LocalSite(name, host, etags=True)
        self.articles: list[str] = []

    def publish(self, count: int) -> list[str]:
        """Publish ``count`` new articles; their URLs."""
        new = []
        for _ in range(count):
            number = len(self.articles) + 1
            title = f"{self.name} report number {number} on laboratory automation"
            path = f"/2026/11/{1 + number % 28:02d}/{self.name}-story-{number}.html"
            new.append(self.server.add(path, html_reply(article_html(title))))
            self.articles.append(new[-1])
        return new

    def requests_for(self, path: str) -> list[RequestRecord]:
        """The requests the site saw for ``path``."""
        return self.server.requests_for(path)


class _FeedSite(_Site):
    def __init__(self) -> None:
        super().__init__("feedsite", FEED_HOST)
        self.feed_alive = True
        self.feed_redirects_home = False  # a feed the site dropped, answered by a redirect to its homepage
        self.feed_hangs = 0.0  # seconds a dead feed takes before it answers (past the crawl's download timeout)
        self.server.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", _TEXT))
        self.server.add("/feed.xml", self.feed)
        self.server.add("/", self.home)
        self.server.add("/news/", self.section)

    @property
    def feed_url(self) -> str:
        """The URL of its feed."""
        return self.server.url("/feed.xml")

    def feed(self, _: RequestRecord) -> Reply:
        """The RSS feed of the newest articles, or a 404 while it is dead (a redirect to the homepage where it
        redirects there, an answer only after :attr:`feed_hangs` seconds where it hangs)."""
        if not self.feed_alive:
            if self.feed_redirects_home:
                return Reply(301, b"", {"Location": self.server.url("/")})
            return Reply(_NOT_FOUND.status, _NOT_FOUND.body, _NOT_FOUND.headers, self.feed_hangs)
        items = "".join(f"<item><title>story</title><link>{url}</link></item>" for url in reversed(self.articles))
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>feedsite</title>{items}</channel></rss>'
        return Reply(200, body.encode(), {"Content-Type": "application/rss+xml; charset=utf-8"})

    def _links(self, urls: Iterable[str]) -> str:
        return "".join(f"<li><a href='{url}'>{url.rsplit('/', 1)[-1]}</a></li>" for url in urls)

    def home(self, _: RequestRecord) -> Reply:
        """The homepage: the newest articles and a link to the section that lists them all."""
        newest = list(reversed(self.articles))[:HOMEPAGE_ARTICLES]
        return html_reply(
            f"<html><head><title>feedsite</title></head><body><nav><a href='/'>Home</a> <a href='/news/'>News</a></nav>"
            f"<ul>{self._links(newest)}</ul></body></html>"
        )

    def section(self, _: RequestRecord) -> Reply:
        """The news section: every article, newest first."""
        return html_reply(
            f"<html><head><title>News</title></head><body><ul>{self._links(reversed(self.articles))}</ul></body></html>"
        )


class _SitemapSite(_Site):
    def __init__(self) -> None:
        super().__init__("sitemapsite", SITEMAP_HOST)
        self.sitemap_path = "/sitemap.xml"
        self.server.add("/robots.txt", self.robots)
        self.server.add("/", html_reply("<html><head><title>sitemapsite</title></head><body>Welcome</body></html>"))
        self.server.add(self.sitemap_path, self.sitemap)

    @property
    def sitemap_url(self) -> str:
        """The URL its sitemap was first published at."""
        return self.server.url("/sitemap.xml")

    def robots(self, _: RequestRecord) -> Reply:
        """robots.txt, naming the sitemap where it is now."""
        return Reply(200, f"User-agent: *\nAllow: /\nSitemap: {self.server.url(self.sitemap_path)}\n".encode(), _TEXT)

    def sitemap(self, _: RequestRecord) -> Reply:
        """The urlset of every article."""
        urls = "".join(f"<url><loc>{url}</loc></url>" for url in reversed(self.articles))
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return Reply(200, body.encode(), _XML)

    def move_sitemap(self, path: str = "/sitemaps/news.xml") -> None:
        """Move the sitemap to ``path``: the old place answers 404, robots.txt names the new one."""
        self.server.remove(self.sitemap_path)
        self.sitemap_path = path
        self.server.add(path, self.sitemap)


class FallbackWeb(LoopbackWeb):
    """The two sites: :attr:`feedsite` (a feed that can die) and :attr:`sitemapsite` (a sitemap that can move)."""

    def __init__(self, articles: int = 6) -> None:
        self.feedsite = _FeedSite()
        self.sitemapsite = _SitemapSite()
        for site in (self.feedsite, self.sitemapsite):
            site.publish(articles)

    def servers(self) -> Iterable[LocalSite]:
        """The servers of the web."""
        return (self.feedsite.server, self.sitemapsite.server)

    def sources_toml(self) -> str:
        """The sources file: the feed site through its feed only, the sitemap site through its sitemap only."""
        return (
            f'[[source]]\nname = "feedsite"\nfeeds = ["{self.feedsite.feed_url}"]\n\n'
            f'[[source]]\nname = "sitemapsite"\nsitemaps = ["{self.sitemapsite.sitemap_url}"]\n'
        )
