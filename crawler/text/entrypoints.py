"""Entry points of an outlet, as ``ai4s sources discover`` finds and judges them. Pure.

What a fetched page declares (:func:`read_page`: its ``<link rel="alternate">`` feeds, its links, its
language, whether it is an article or a listing), the places where sites put feeds and sitemaps when they
declare none (:data:`COMMON_FEED_PATHS`, :data:`COMMON_SITEMAP_PATHS`), and what one entry point yields
once fetched (:class:`EntryPointCheck`: how many articles, the newest date, whether it is fresh). Nothing
here fetches: :mod:`crawler.discover` does, and asks these functions what it got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from crawler.text.charset import decode_html
from crawler.text.discovery import PageLink, Scope, discover_listing, gunzip
from crawler.text.feeds import FeedError, parse_sitemap, read_feed
from crawler.text.pages import page_kind
from crawler.text.urls import url_host

#: ``type`` values of a ``<link rel="alternate">`` that names a feed.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"})
#: Where sites serve a feed they do not declare, tried in this order (WordPress, Hugo, Jekyll, Ghost, ...).
COMMON_FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/index.xml", "/feed.xml", "/index.rss")
#: Where sites serve a sitemap that their robots.txt does not name.
COMMON_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml")
#: A page linking to at least this many article pages of its own site is a listing worth polling.
MIN_LISTING_ARTICLES = 5
#: An entry point whose newest article is younger than this is fresh.
FRESH_WITHIN = timedelta(days=7)
#: The schedule a discovered source gets: hourly when its newest article is a day old at most, else this.
BUSY_EVERY, QUIET_EVERY = "1h", "6h"

_NAME_CHARACTERS = re.compile(r"[^a-z0-9_-]+")
_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:[-_]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class ReadPage:
    """What a fetched HTML page declares: its feeds, its links, its language, and whether it is an article."""

    url: str
    feeds: tuple[str, ...]
    links: tuple[PageLink, ...]
    language: str | None
    is_article: bool


@dataclass(frozen=True)
class EntryPointCheck:
    """One entry point as fetched: what it yielded, or why it yields nothing (``problem``)."""

    kind: str  # "feed", "sitemap" (a robots.txt naming sitemaps counts as one) or "listing"
    url: str
    articles: tuple[str, ...] = ()  # the article pages it names
    newest: datetime | None = None
    fresh: bool | None = None  # None: the entry point gives no dates
    problem: str | None = None
    note: str = ""  # how it was found ("declared by <link rel=alternate>", "named in robots.txt", ...)

    @property
    def usable(self) -> bool:
        """Whether it names at least one article page."""
        return self.problem is None and bool(self.articles)

    def describe(self) -> str:
        """One line saying what it yielded (``12 articles, newest 2026-11-30, fresh``) or why it did not."""
        if self.problem is not None:
            return self.problem
        noun = "page" if self.kind == "sitemap" else "article"  # a sitemap lists every page, not only articles
        words = [f"{len(self.articles)} {noun}{'s' if len(self.articles) != 1 else ''}"]
        if self.newest is not None:
            words.append(f"newest {self.newest.date().isoformat()}")
            words.append("fresh" if self.fresh else "stale")
        elif self.kind == "listing":
            words.append("no dates")
        return ", ".join(words)


def read_page(body: bytes, url: str, header_charset: str | None = None) -> ReadPage | None:
    """What the HTML page ``body`` at ``url`` declares; ``None`` when it is no HTML page."""
    text = decode_html(body, header_charset).text
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    base = url
    for element in tree.iter("base"):
        if element.get("href"):
            base = urljoin(url, element.get("href", "").strip())
            break
    feeds: list[str] = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            feed = urljoin(base, href)
            if feed not in feeds:
                feeds.append(feed)
    links = tuple(
        PageLink(urljoin(base, anchor.get("href", "").strip()), anchor.text_content().strip(), anchor.get("rel") or "")
        for anchor in tree.iter("a")
        if (anchor.get("href") or "").strip() and not anchor.get("href", "").strip().startswith(("#", "javascript:"))
    )
    match = _LANGUAGE.match((tree.get("lang") or "").strip())
    return ReadPage(url, tuple(feeds), links, match.group(1).lower() if match else None, page_kind(tree).is_article)


def listing_leads(page: ReadPage, scope: Scope) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The article pages a listing page links to on its own site, and its other pages there (sections and
    next pages: the listing pages it may lead to), in the page's order."""
    found = discover_listing(page.url, page.links, Scope(scope.addresses, max_depth=1, max_pagination=2))
    articles = tuple(dict.fromkeys(link.url for link in found.articles))
    others = tuple(dict.fromkeys(entry.url for entry in found.entry_pages if entry.url != page.url))
    return articles, others


def check_listing(page: ReadPage, scope: Scope, note: str = "") -> EntryPointCheck:
    """A listing page judged as an entry point: the article pages of its site it links to (enough of them,
    and not itself an article)."""
    articles, _ = listing_leads(page, scope)
    if page.is_article:
        return EntryPointCheck("listing", page.url, problem="an article page, not a listing", note=note)
    if len(articles) < MIN_LISTING_ARTICLES:
        problem = f"links to {len(articles)} article pages only (a listing needs {MIN_LISTING_ARTICLES})"
        return EntryPointCheck("listing", page.url, articles, problem=problem, note=note)
    return EntryPointCheck("listing", page.url, articles, note=note)


def check_feed(body: bytes, url: str, scope: Scope, now: datetime, note: str = "") -> EntryPointCheck:
    """A fetched feed judged as an entry point: its items within ``scope``, the newest date, freshness."""
    try:
        feed = read_feed(body, url)
    except FeedError as exc:
        return EntryPointCheck("feed", url, problem=f"not a feed: {exc}", note=note)
    allowed, _ = scope.judge(entry.url for entry in feed.entries)
    if not allowed:
        return EntryPointCheck("feed", url, problem="a feed without items", note=note)
    newest = max((entry.published for entry in feed.entries if entry.published), default=None)
    return EntryPointCheck("feed", url, tuple(dict.fromkeys(allowed)), newest, _fresh(newest, now), note=note)


@dataclass(frozen=True)
class SitemapRead:
    """A fetched sitemap: the pages of a urlset with their newest date, or the sitemaps of an index."""

    pages: tuple[str, ...] = ()
    newest: datetime | None = None
    children: tuple[str, ...] = ()
    problem: str | None = None


def read_sitemap(body: bytes, url: str, scope: Scope) -> SitemapRead:
    """The pages (or, for an index, the sitemaps) a fetched sitemap names within ``scope``; gzipped or not."""
    try:
        if body.startswith(b"\x1f\x8b"):
            body = gunzip(body, scope.max_size)
        sitemap = parse_sitemap(body, url)
    except (FeedError, OSError, ValueError, EOFError) as exc:
        return SitemapRead(problem=f"not a sitemap: {exc}")
    allowed, _ = scope.judge(entry.url for entry in sitemap.children)
    if sitemap.is_index:
        return SitemapRead(children=tuple(allowed))
    newest = max((entry.published for entry in sitemap.children if entry.published), default=None)
    return SitemapRead(pages=tuple(dict.fromkeys(allowed)), newest=newest)


def sitemap_check(
    url: str, reads: list[SitemapRead], now: datetime, note: str = "", problem: str | None = None
) -> EntryPointCheck:
    """A sitemap entry point (a sitemap, an index or a robots.txt naming them) judged from the urlsets read
    through it."""
    if problem is None and not reads:
        problem = "names no sitemap that could be read"
    if problem is not None:
        return EntryPointCheck("sitemap", url, problem=problem, note=note)
    pages = tuple(dict.fromkeys(page for read in reads for page in read.pages))
    if not pages:
        problem = next((read.problem for read in reads if read.problem), "a sitemap without pages")
        return EntryPointCheck("sitemap", url, problem=problem, note=note)
    newest = max((read.newest for read in reads if read.newest), default=None)
    return EntryPointCheck("sitemap", url, pages, newest, _fresh(newest, now), note=note)


def _fresh(newest: datetime | None, now: datetime) -> bool | None:
    return None if newest is None else now - newest <= FRESH_WITHIN


def source_name(url: str) -> str:
    """A source name for the outlet at ``url``: its host without ``www.``, dots as underscores
    (``https://www.news.cn/tech/`` gives ``news_cn``)."""
    host = url_host(url).removeprefix("www.")
    name = _NAME_CHARACTERS.sub("_", host.replace(".", "_").lower()).strip("_-")
    return (name or "outlet")[:100]


def site_root(url: str) -> str:
    """The home page of the site of ``url`` (``scheme://host[:port]/``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def schedule_for(checks: list[EntryPointCheck], now: datetime) -> str:
    """How often a discovered source is crawled: hourly when its newest article is a day old at most."""
    newest = max((check.newest for check in checks if check.usable and check.newest), default=None)
    return BUSY_EVERY if newest is not None and now - newest <= timedelta(days=1) else QUIET_EVERY
