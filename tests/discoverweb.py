"""A local web of outlets that announce their articles in different ways, for ``ai4s sources discover``.

Each site is a :class:`~crawler.app.webserver.LocalSite` on its own loopback address (127.0.7.x), serving
real English pages of the test corpus as its articles (read in place, never copied), a home page, a
paginated section page ``/news/`` and an about page. What differs is how a site declares where its new
articles are (its *kind*):

``alternate``     an RSS feed at an unusual path, declared only by ``<link rel="alternate">`` on the home page
``jsonfeed``      a JSON Feed, declared only by ``<link rel="alternate" type="application/feed+json">``
``robots``        a sitemap index and a Google News sitemap, named only by robots.txt ``Sitemap:`` lines (with
                  sitemaps of categories and tags, which list the ``/news/`` section)
``conventional``  an Atom feed at ``/atom.xml``, declared nowhere
``listing``       no feed, no sitemap; a home page with three headlines and a link to the ``/news/`` section
``blocked``       robots.txt ``Disallow: /``, after a byte order mark (everything else is served, to see that nothing
                  else is asked)
``internal``      its feed and sitemap declared on another loopback server (an internal address no source
                  names): discovery must refuse them, and that server must see no request

Every site but ``listing`` also lists its six newest articles on its home page. :meth:`DiscoverSite.hand_written`
is the source a person who knows the site would write.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from tests.localweb import CorpusPage, LoopbackWeb, load_corpus, slugify

KINDS = ("alternate", "jsonfeed", "robots", "conventional", "listing", "blocked", "internal")
#: Articles of each site; the feeds list the newest :data:`FEED_SIZE`, the section pages :data:`PER_PAGE` a page.
ARTICLES = 14
FEED_SIZE = 10
PER_PAGE = 6
HOME_SIZE = 6


def _host(number: int) -> str:
    return f"127.0.7.{number}"


@dataclass
class _Article:
    path: str
    page: CorpusPage
    when: datetime

    @property
    def title(self) -> str:
        return self.page.display_title()


@dataclass
class DiscoverSite:
    """One outlet of the web: its server, its kind and its articles (newest first)."""

    kind: str
    server: LocalSite
    articles: list[_Article] = field(default_factory=list)
    elsewhere: LocalSite | None = None  # the ``internal`` site's other server

    @property
    def home(self) -> str:
        """The URL of the home page."""
        return self.server.url("/")

    def article_urls(self) -> set[str]:
        """The absolute URLs of every article."""
        return {self.server.url(article.path) for article in self.articles}

    def hand_written(self, name: str) -> str:
        """The ``[[source]]`` table a person who knows the site would write."""
        url = self.server.url
        keys = {
            "alternate": {"feeds": [url("/feeds/latest.xml")], "start_urls": [url("/news/")]},
            "jsonfeed": {"feeds": [url("/feed.json")], "start_urls": [url("/news/")]},
            "robots": {"sitemaps": [url("/robots.txt")]},
            "conventional": {"feeds": [url("/atom.xml")], "start_urls": [url("/news/")]},
            "listing": {"start_urls": [url("/news/")]},
            "blocked": {"start_urls": [url("/news/")]},
            "internal": {"start_urls": [url("/news/")]},
        }[self.kind]
        lines = ["[[source]]", f"name = {json.dumps(name)}", 'language = "en"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title: str, body: str, head: str = "") -> Reply:
    return html_reply(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>{head}'
        f"</head>\n<body>\n{body}\n</body></html>\n"
    )


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _usable(page: CorpusPage) -> bool:
    return (
        page.source in ("zyte-aeb", "readability-js", "fundus")
        and page.language == "en"
        and page.encoding == "utf-8"
        and page.problem() is None
    )


class DiscoverWeb(LoopbackWeb):
    """Sites of the kinds named in ``kinds`` (one site each, in order, on 127.0.7.1, .2, ...)."""

    def __init__(self, corpus_dir: Path, kinds: Iterable[str] = KINDS, seed: int = 0, now: datetime | None = None):
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.sites: list[DiscoverSite] = []
        candidates = sorted(load_corpus(corpus_dir), key=lambda page: (page.source, page.id))
        random.Random(seed).shuffle(candidates)
        pages = iter(page for page in candidates if _usable(page))
        try:
            for number, kind in enumerate(kinds, start=1):
                self.sites.append(self._build(kind, number, [next(pages) for _ in range(ARTICLES)]))
        except BaseException:
            self.stop()
            raise

    def servers(self) -> Iterable[LocalSite]:
        """Every server of the web (the internal site's second one included)."""
        for site in self.sites:
            yield site.server
            if site.elsewhere is not None:
                yield site.elsewhere

    def site(self, kind: str) -> DiscoverSite:
        """The first site of ``kind``."""
        return next(site for site in self.sites if site.kind == kind)

    def _build(self, kind: str, number: int, pages: list[CorpusPage]) -> DiscoverSite:
        site = DiscoverSite(kind, LocalSite(f"{kind}-{number}", _host(number)))
        server = site.server
        for index, page in enumerate(pages):
            when = self.now - timedelta(hours=5 * index + 1)
            path = f"/news/{when:%Y/%m/%d}/{slugify(page.display_title())}-{number}{index:03d}.html"
            site.articles.append(_Article(path, page, when))
            server.add(path, Reply(200, page.raw(), {"Content-Type": "text/html; charset=utf-8"}))
        robots = "Disallow: /" if kind == "blocked" else "Disallow: /private/"
        sitemap_lines = ""
        if kind == "robots":
            # a sitemap of categories and one of tags, as Yoast names them: section pages, no article
            sitemap_lines = (
                f"Sitemap: {server.url('/maps/category-sitemap.xml')}\nSitemap: {server.url('/maps/index.xml')}\n"
            )
            server.add("/maps/index.xml", self._sitemap_index(site))
            server.add("/maps/news.xml", self._news_sitemap(site))
            server.add("/maps/pages.xml", self._xml(_urlset([server.url("/about/")])))
            for taxonomy in ("/maps/category-sitemap.xml", "/maps/post_tag-sitemap.xml"):
                server.add(taxonomy, self._xml(_urlset([server.url("/news/")])))
        head = ""
        if kind == "alternate":
            head = '<link rel="alternate" type="application/rss+xml" title="Latest" href="/feeds/latest.xml">'
            server.add("/feeds/latest.xml", self._rss(site))
        elif kind == "jsonfeed":
            head = '<link rel="alternate" type="application/feed+json" title="Latest" href="/feed.json">'
            server.add("/feed.json", self._json_feed(site))
        elif kind == "conventional":
            server.add("/atom.xml", self._atom(site))
        elif kind == "internal":
            site.elsewhere = LocalSite(f"elsewhere-{number}", _host(200 + number))
            feed = site.elsewhere.add("/feed.xml", self._rss(site))
            sitemap_lines = f"Sitemap: {site.elsewhere.url('/sitemap.xml')}\n"
            site.elsewhere.add("/sitemap.xml", self._xml(_urlset(sorted(site.article_urls()))))
            head = f'<link rel="alternate" type="application/rss+xml" href="{feed}">'
        bom = "\ufeff" if kind == "blocked" else ""  # written on Windows: a byte order mark before the first group
        server.add("/robots.txt", Reply(200, f"{bom}User-agent: *\n{robots}\n{sitemap_lines}".encode(), {}))
        server.add("/", self._home(site, head))
        server.add("/news/", self._section(site))
        server.add("/about/", _page("About us", "<h1>About us</h1><p>A small newsroom.</p>"))
        return site

    def _home(self, site: DiscoverSite, head: str) -> Reply:
        shown = site.articles[: 3 if site.kind == "listing" else HOME_SIZE]
        items = "".join(f'<li><a href="{a.path}">{_esc(a.title)}</a></li>\n' for a in shown)
        nav = '<nav><a href="/news/">More news</a> <a href="/about/">About us</a></nav>'
        return _page(f"{site.kind} news", f"<h1>{site.kind} news</h1>\n{nav}\n<ul>\n{items}</ul>", head)

    @staticmethod
    def _section(site: DiscoverSite) -> object:
        pages = (len(site.articles) + PER_PAGE - 1) // PER_PAGE

        def section(record: RequestRecord) -> Reply:
            query = record.path.partition("?")[2]
            number = int(query.removeprefix("page=")) if query.startswith("page=") and query[5:].isdigit() else 1
            shown = site.articles[(number - 1) * PER_PAGE : number * PER_PAGE]
            items = "".join(f'<li><a href="{a.path}">{_esc(a.title)}</a></li>\n' for a in shown)
            more = f'<a rel="next" href="/news/?page={number + 1}">Next</a>' if number < pages else ""
            return _page(f"News, page {number}", f"<h1>News</h1>\n<ul>\n{items}</ul>\n{more}")

        return section

    @staticmethod
    def _xml(text: str, content_type: str = "application/xml") -> Reply:
        return Reply(200, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})

    def _rss(self, site: DiscoverSite) -> Reply:
        items = "".join(
            f"<item><title>{_esc(a.title)}</title><link>{site.server.url(a.path)}</link>"
            f"<pubDate>{format_datetime(a.when, usegmt=True)}</pubDate></item>\n"
            for a in site.articles[:FEED_SIZE]
        )
        return self._xml(
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>News</title>\n{items}'
            "</channel></rss>\n",
            "application/rss+xml",
        )

    def _atom(self, site: DiscoverSite) -> Reply:
        entries = "".join(
            f'<entry><title>{_esc(a.title)}</title><link href="{site.server.url(a.path)}"/>'
            f"<id>{site.server.url(a.path)}</id><updated>{_iso(a.when)}</updated></entry>\n"
            for a in site.articles[:FEED_SIZE]
        )
        return self._xml(
            f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>\n'
            f"{entries}</feed>\n",
            "application/atom+xml",
        )

    def _json_feed(self, site: DiscoverSite) -> Reply:
        items = [
            {"id": a.path, "url": site.server.url(a.path), "title": a.title, "date_published": _iso(a.when)}
            for a in site.articles[:FEED_SIZE]
        ]
        document = {"version": "https://jsonfeed.org/version/1.1", "title": "News", "items": items}
        return Reply(200, json.dumps(document).encode(), {"Content-Type": "application/feed+json"})

    def _sitemap_index(self, site: DiscoverSite) -> Reply:
        children = "".join(
            f"<sitemap><loc>{site.server.url(path)}</loc></sitemap>"
            for path in ("/maps/post_tag-sitemap.xml", "/maps/news.xml", "/maps/pages.xml")
        )
        return self._xml(
            f'<?xml version="1.0" encoding="utf-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{children}</sitemapindex>\n"
        )

    def _news_sitemap(self, site: DiscoverSite) -> Reply:
        urls = "".join(
            f"<url><loc>{site.server.url(a.path)}</loc><news:news><news:publication>"
            "<news:name>News</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{_iso(a.when)}</news:publication_date><news:title>{_esc(a.title)}</news:title>"
            "</news:news></url>\n"
            for a in site.articles
        )
        return self._xml(
            '<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{urls}</urlset>\n'
        )


def _urlset(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
