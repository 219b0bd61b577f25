"""Discovery: what an entry page leads to. Pure.

Given what was fetched (:class:`FetchedEntryPage`: a feed, a robots.txt, a sitemap index or
urlset, gzipped or not, or a listing page with its links) and how far the source may reach
(:class:`Scope`: its own origins, its depth, the pagination and sitemap-nesting bounds),
:func:`discover` says what the page leads to (:class:`Discovery`): the article URLs it names,
with how they were found, and the further entry pages to read (:class:`EntryPage`), in the
order the page lists them; the poll interval a feed asks for; or why the page is unreadable.

Nothing here fetches: the spider turns a :class:`Discovery` into requests. Links are extracted
from a listing page's HTML by the caller (Scrapy's link extractor) and handed in as
:class:`PageLink` values.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from gzip import GzipFile
from io import BytesIO
from itertools import islice
from typing import NamedTuple

from crawler.text.addresses import AddressPolicy, Refusal
from crawler.text.feeds import Entry, FeedError, parse_sitemap, read_feed, sitemaps_in_robots
from crawler.text.links import article_sitemaps, is_fetchable_link, is_pagination, looks_like_article
from crawler.text.urls import is_well_formed, url_host

#: The kinds of entry page, as a crawl's requests name them.
ENTRY_PAGE_KINDS = ("feed", "robots", "sitemap", "listing")
#: The first bytes of a gzip stream (magic number and the deflate method).
GZIP_MAGIC = b"\x1f\x8b\x08"
#: The most links read from one entry page: the sitemaps protocol's most URLs in a sitemap. A feed's or
#: sitemap's entries come newest first where they are dated; a page that names more (10 MiB of sitemap can
#: name 300,000) is read that far.
MAX_ENTRY_LINKS = 50_000
_GUNZIP_CHUNK = 65536


class EntryPage(NamedTuple):
    """An entry page to read: where, what kind, how deep below a configured entry page, and which page of
    its listing (a tuple, so it is stored and compared as ``(url, kind, depth, page)``)."""

    url: str
    kind: str  # one of ENTRY_PAGE_KINDS
    depth: int = 0  # listing pages: links followed from a start page; sitemaps: index nesting
    page: int = 1  # listing pages: 1, then 2, 3 ... through "next page" links


@dataclass(frozen=True)
class ArticleLink:
    """A candidate article page, how it was found (``feed``, ``sitemap`` or ``listing``) and, if the feed or
    sitemap that names it says, when it was first published."""

    url: str
    via: str
    first_published: datetime | None = None


@dataclass(frozen=True)
class PageLink:
    """A link of a listing page: its absolute URL, its text and its ``rel`` values (``rel=next`` marks pagination)."""

    url: str
    text: str = ""
    rel: str = ""


@dataclass(frozen=True)
class Scope:
    """How far discovery may reach from a source's entry pages: the address policy and the bounds."""

    addresses: AddressPolicy = AddressPolicy()  # the source's origins: the only internal addresses it may follow
    max_depth: int = 2  # listing pages followed away from a start page (the source's ``max_depth``)
    max_pagination: int = 10  # listing pages followed through "next page" links, per listing
    max_sitemap_depth: int = 3  # nesting of sitemap indexes
    max_size: int = 0  # bytes a gzipped sitemap may decompress to (0: no bound)

    def allows(self, url: str) -> bool:
        """Whether a discovered link may be followed: http(s) only, internal addresses only on the source's
        origins (:class:`crawler.text.addresses.AddressPolicy`)."""
        return self.addresses.allows(url)

    def judge(self, urls: Iterable[str]) -> tuple[list[str], list[RefusedLink]]:
        """The links of ``urls`` that may be followed, in order, and those the address policy refused (a link of
        another scheme is neither: it is no web page, nor a link that is no URL at all)."""
        allowed: list[str] = []
        refused: list[RefusedLink] = []
        for url in urls:
            if not is_well_formed(url):  # one broken link in a feed or listing: that link goes, not the page
                continue
            refusal = self.addresses.check_url(url)
            if refusal is None:
                allowed.append(url)
            elif refusal.category != "scheme":
                refused.append(RefusedLink(url, refusal))
        return allowed, refused


@dataclass(frozen=True)
class RefusedLink:
    """A link an entry page names that the address policy refused, and why."""

    url: str
    refusal: Refusal


@dataclass(frozen=True)
class FetchedEntryPage:
    """An entry page as fetched: its kind and place, its body, and for a listing page its links
    (``None``: the response was no web page)."""

    url: str
    kind: str  # one of ENTRY_PAGE_KINDS
    body: bytes = b""
    depth: int = 0
    page: int = 1
    links: tuple[PageLink, ...] | None = None


@dataclass(frozen=True)
class Discovery:
    """What an entry page leads to, in the order it lists them; or, with ``unreadable``, why it leads nowhere."""

    leads: tuple[ArticleLink | EntryPage, ...] = ()
    poll_hint: float | None = None  # the interval (seconds) a feed asks readers to wait between polls
    summary: str | None = None  # what the page lists, for the crawl's log ("lists 20 items")
    unreadable: str | None = None
    refused: tuple[RefusedLink, ...] = ()  # links left out because the address policy refused them

    @property
    def articles(self) -> tuple[ArticleLink, ...]:
        """The candidate article pages it names."""
        return tuple(lead for lead in self.leads if isinstance(lead, ArticleLink))

    @property
    def entry_pages(self) -> tuple[EntryPage, ...]:
        """The further entry pages it names (remembered, to be read again when the page is unchanged)."""
        return tuple(lead for lead in self.leads if isinstance(lead, EntryPage))


def start_pages(feeds: Iterable[str], sitemaps: Iterable[str], listings: Iterable[str]) -> list[EntryPage]:
    """The entry pages a source starts from: its feeds, its sitemaps (a robots.txt naming them counts as
    one) and its listing pages."""
    pages = [EntryPage(url, "feed") for url in feeds]
    pages += [EntryPage(url, "robots" if is_robots_txt(url) else "sitemap") for url in sitemaps]
    pages += [EntryPage(url, "listing") for url in listings]
    return pages


def is_robots_txt(url: str) -> bool:
    """Whether ``url`` is a site's robots.txt (configured among the sitemaps, it names them)."""
    return url.rstrip("/").endswith("/robots.txt")


def discover(fetched: FetchedEntryPage, scope: Scope) -> Discovery:
    """What the fetched entry page leads to, within ``scope``."""
    if fetched.kind == "feed":
        return discover_feed(fetched.body, fetched.url, scope)
    if fetched.kind == "robots":
        return discover_robots(fetched.body, fetched.url, scope)
    if fetched.kind == "sitemap":
        return discover_sitemap(fetched.body, fetched.url, scope, depth=fetched.depth)
    if fetched.kind == "listing":
        if fetched.links is None:
            return Discovery(unreadable="not a web page")
        return discover_listing(fetched.url, fetched.links, scope, depth=fetched.depth, page=fetched.page)
    raise ValueError(f"not an entry-page kind: {fetched.kind!r}")


def discover_feed(body: bytes, url: str, scope: Scope) -> Discovery:
    """The items of an RSS or Atom feed (newest first) as candidate articles, and the feed's poll hint."""
    try:
        feed = read_feed(body, url)
    except FeedError as exc:
        return Discovery(unreadable=str(exc))
    entries = feed.entries[:MAX_ENTRY_LINKS]
    allowed, refused = scope.judge(entry.url for entry in entries)
    articles = _article_links(allowed, entries, "feed")
    summary = f"lists {len(feed.entries)} items{_read_only(len(feed.entries))}"
    return Discovery(articles, poll_hint=feed.poll_hint, summary=summary, refused=tuple(refused))


def _read_only(listed: int) -> str:
    """What a summary adds where an entry page lists more than :data:`MAX_ENTRY_LINKS` links."""
    return f" (the first {MAX_ENTRY_LINKS:,} read)" if listed > MAX_ENTRY_LINKS else ""


def _article_links(allowed: Iterable[str], entries: Iterable[Entry], via: str) -> tuple[ArticleLink, ...]:
    """The ``allowed`` URLs of a feed's or sitemap's ``entries`` as candidate articles found through ``via``,
    each once, with the first publication its entry gives."""
    first_published = {entry.url: entry.first_published for entry in entries}
    return tuple(ArticleLink(url, via, first_published.get(url)) for url in dict.fromkeys(allowed))


#: 429 Too Many Requests: a 4xx, which RFC 9309 reads as "unavailable" (allow everything); but a site that asks
#: for fewer requests is not asking for all of its pages at once, and Google reads it as a server error too.
TOO_MANY_REQUESTS = 429


def robots_txt_unreachable(status: int) -> bool:
    """Whether a robots.txt answering ``status`` is unreachable (nothing of its host may be fetched): a server
    error (RFC 9309), or 429."""
    return status >= 500 or status == TOO_MANY_REQUESTS


def discover_robots(body: bytes, url: str, scope: Scope) -> Discovery:
    """The sitemaps a robots.txt names in its ``Sitemap:`` lines."""
    urls = sitemaps_in_robots(body.decode("utf-8-sig", errors="replace"), url)  # a byte order mark is no text
    if not urls:
        return Discovery(unreadable="no Sitemap: line")
    allowed, refused = scope.judge(urls)
    sitemaps = article_sitemaps(allowed)  # as in an index
    if allowed and not sitemaps:  # nothing to read, as when it names none: the source's next way in is tried
        return Discovery(unreadable="its Sitemap: lines name only sitemaps of categories, tags, authors or pages")
    return Discovery(tuple(EntryPage(sitemap, "sitemap") for sitemap in sitemaps), refused=tuple(refused))


def discover_sitemap(body: bytes, url: str, scope: Scope, depth: int = 0) -> Discovery:
    """The pages of a urlset as candidate articles; the sitemaps of an index (at ``depth`` of nesting) as
    further entry pages, up to the scope's nesting bound. The body may be gzipped."""
    if body.startswith(GZIP_MAGIC):
        try:
            body = gunzip(body, scope.max_size)
        except (OSError, ValueError, EOFError, struct.error, zlib.error) as exc:
            return Discovery(unreadable=f"bad gzip: {exc}")
    try:
        sitemap = parse_sitemap(body, url)
    except FeedError as exc:
        return Discovery(unreadable=str(exc))
    listed = len(sitemap.children)
    summary = f"lists {listed} {'sitemaps' if sitemap.is_index else 'pages'}{_read_only(listed)}"
    children = sitemap.children[:MAX_ENTRY_LINKS]
    allowed, refused = scope.judge(entry.url for entry in children)
    if not sitemap.is_index:
        pages = _article_links(allowed, children, "sitemap")
        return Discovery(pages, summary=summary, refused=tuple(refused))
    if depth >= scope.max_sitemap_depth:
        return Discovery(summary=summary)
    # an index's sitemaps of categories, tags, authors and static pages list no article: each of their pages
    # would be stored as one (a section's headlines as its text)
    unique = list(dict.fromkeys(allowed))
    articles = article_sitemaps(unique)
    if len(articles) < len(unique):
        summary += f", {len(unique) - len(articles)} of them of categories, tags, authors or pages, not read"
    leads = tuple(EntryPage(child, "sitemap", depth + 1) for child in articles)
    return Discovery(leads, summary=summary, refused=tuple(refused))


def discover_listing(url: str, links: Iterable[PageLink], scope: Scope, depth: int = 0, page: int = 1) -> Discovery:
    """The article-like links of a listing page (``page`` of its pagination, ``depth`` links from a start
    page) as candidate articles; its next page (bounded pagination) and its other pages on the same site
    (bounded depth) as further listing pages. Links to other sites, to files, or out of scope lead nowhere."""
    site = url_host(url)
    leads: list[ArticleLink | EntryPage] = []
    refused: list[RefusedLink] = []
    seen: set[str] = set()
    for link in islice(links, MAX_ENTRY_LINKS):
        target = link.url
        if target in seen or url_host(target) != site:
            continue
        seen.add(target)
        allowed, refusals = scope.judge([target])
        refused += refusals
        if not allowed or not is_fetchable_link(target):
            continue
        if looks_like_article(target):
            leads.append(ArticleLink(target, "listing"))
        elif is_pagination(target, url, link.text, link.rel):
            if page < scope.max_pagination:
                leads.append(EntryPage(target, "listing", depth, page + 1))
        elif depth < scope.max_depth:
            leads.append(EntryPage(target, "listing", depth + 1, 1))
    return Discovery(tuple(leads), refused=tuple(refused))


def revisit(children: Iterable[tuple[str, str, int, int]], scope: Scope) -> Discovery:
    """What an entry page unchanged since its last poll leads to: the entry pages it led to then
    (``children``, as remembered), those still in ``scope``."""
    return Discovery(tuple(EntryPage(*child) for child in children if scope.allows(child[0])))


def gunzip(data: bytes, max_size: int = 0) -> bytes:
    """The decompressed gzip ``data`` (as much as a truncated or corrupt stream gives, if it gives any);
    :class:`ValueError` past ``max_size`` bytes (0: no bound)."""
    stream = GzipFile(fileobj=BytesIO(data))
    output = BytesIO()
    while True:
        try:
            chunk = stream.read1(_GUNZIP_CHUNK)
        except (OSError, EOFError, struct.error, zlib.error):
            if output.tell():  # a damaged tail: keep what came before it
                break
            raise
        if not chunk:
            break
        if max_size and output.tell() + len(chunk) > max_size:
            raise ValueError(f"more than {max_size} bytes once decompressed")
        output.write(chunk)
    return output.getvalue()
