"""Discovery of one outlet's entry points from one URL (its home page, a section page or an article).

:func:`discover_outlet` reads the site's robots.txt, the page given and the home page, then checks by
fetching them: the feeds the pages declare (``<link rel="alternate">``), else those at the usual paths; the
sitemaps robots.txt names, else those at the usual paths (indexes and Google News sitemaps included); and
the listing pages (the page given, the home page, else the section pages they link to) that link to enough
article pages of the site. What each yielded is kept (:class:`crawler.text.entrypoints.EntryPointCheck`), and
the usable ones make the source (:attr:`OutletReport.feeds` ...). A site whose robots.txt forbids the pages
asked for is reported as such, and nothing else of it is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from crawler.discover.fetch import Fetcher, Limits
from crawler.text.addresses import AddressPolicy
from crawler.text.discovery import Scope
from crawler.text.entrypoints import (
    COMMON_FEED_PATHS,
    COMMON_SITEMAP_PATHS,
    EntryPointCheck,
    ReadPage,
    SitemapRead,
    check_feed,
    check_listing,
    listing_leads,
    read_page,
    read_sitemap,
    schedule_for,
    site_root,
    sitemap_check,
    source_name,
)
from crawler.text.links import article_sitemaps
from crawler.text.urls import is_http_url

#: Feeds a page declares that are checked at most (a site may declare one per section).
MAX_FEEDS = 6
#: Sitemaps named by robots.txt, and children of a sitemap index, read at most.
MAX_SITEMAPS = 3
#: Section pages fetched at most when neither the page given nor the home page is a listing.
MAX_SECTIONS = 4
#: Listing pages a discovered source starts from at most.
MAX_LISTINGS = 2


@dataclass
class OutletReport:
    """What discovery found for one URL: every entry point checked, and the source they make."""

    url: str
    name: str
    checked_at: datetime
    language: str | None = None
    checks: list[EntryPointCheck] = field(default_factory=list)
    blocked: str | None = None  # why nothing could be fetched (robots.txt, the address policy, no answer)
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def chosen(self, kind: str) -> list[EntryPointCheck]:
        """The usable entry points of ``kind`` that the source keeps (a feed only if it adds articles)."""
        kept: list[EntryPointCheck] = []
        seen: set[str] = set()
        for check in self.checks:
            if check.kind != kind or not check.usable or (kind == "feed" and seen.issuperset(check.articles)):
                continue
            kept.append(check)
            seen.update(check.articles)
        return kept[:MAX_LISTINGS] if kind == "listing" else kept

    @property
    def usable(self) -> bool:
        """Whether any entry point names articles."""
        return any(check.usable for check in self.checks)

    @property
    def every(self) -> str:
        """The schedule of the source: hourly for an outlet whose newest article is a day old at most."""
        return schedule_for(self.checks, self.checked_at)

    def articles(self) -> set[str]:
        """Every article page the chosen entry points name."""
        return {url for kind in ("feed", "sitemap", "listing") for check in self.chosen(kind) for url in check.articles}


def discover_outlet(url: str, limits: Limits | None = None, now: datetime | None = None) -> OutletReport:
    """Find and check the entry points of the outlet of ``url``, within ``limits``."""
    now = now or datetime.now(UTC)
    report = OutletReport(url, source_name(url), now)
    if not is_http_url(url):
        report.blocked = f"not an http(s) URL: {url}"
        return report
    policy = AddressPolicy.from_urls([url])
    fetcher = Fetcher(policy, limits or Limits())
    try:
        _discover(url, report, fetcher, Scope(policy, max_size=fetcher.limits.max_bytes), now)
    finally:
        fetcher.close()
        report.requests = list(fetcher.requests)
        report.refused = list(fetcher.refused)
    return report


def _discover(url: str, report: OutletReport, fetcher: Fetcher, scope: Scope, now: datetime) -> None:
    home = site_root(url)
    forbidden = fetcher.robots_verdict(url)
    if forbidden is not None and fetcher.robots_verdict(home) is not None:
        report.blocked = forbidden
        return
    pages: list[ReadPage] = []
    for page_url in dict.fromkeys([url, home]):
        answer = fetcher.get(page_url)
        page = read_page(answer.body, answer.url, answer.charset) if answer.ok else None
        if page is not None:
            pages.append(page)
    if not pages:
        answer = fetcher.get(url)
        report.blocked = f"{url}: {answer.error or f'status {answer.status}'}; nothing to discover from"
        return
    home = site_root(pages[-1].url)  # after redirects (http to https, a bare domain to www.)
    report.name = source_name(home)
    report.language = next((page.language for page in pages if page.language), None)
    report.checks += _feeds(pages, home, fetcher, scope, now)
    report.checks += _sitemaps(home, fetcher, scope, now)
    report.checks += _listings(pages, fetcher, scope)


def _feeds(pages: list[ReadPage], home: str, fetcher: Fetcher, scope: Scope, now: datetime) -> list[EntryPointCheck]:
    """The declared feeds, checked; else the first feed found at a usual path."""
    declared = list(dict.fromkeys(feed for page in pages for feed in page.feeds))[:MAX_FEEDS]
    checks = [_feed(feed, "declared by <link rel=alternate>", fetcher, scope, now) for feed in declared]
    if any(check.usable for check in checks):
        return checks
    for path in COMMON_FEED_PATHS:
        check = _feed(home.rstrip("/") + path, "found at a usual path", fetcher, scope, now)
        if check.usable:
            return [*checks, check]
    return checks


def _feed(url: str, note: str, fetcher: Fetcher, scope: Scope, now: datetime) -> EntryPointCheck:
    answer = fetcher.get(url)
    if not answer.ok:
        return EntryPointCheck("feed", url, problem=answer.error or f"status {answer.status}", note=note)
    return check_feed(answer.body, answer.url, scope, now, note)


def _sitemaps(home: str, fetcher: Fetcher, scope: Scope, now: datetime) -> list[EntryPointCheck]:
    """The sitemaps robots.txt names (the source keeps the robots.txt, so a moved sitemap is followed);
    else the first sitemap found at a usual path."""
    robots = fetcher.robots_txt(home)
    named = article_sitemaps(dict.fromkeys(robots.sitemaps)) if robots is not None else []
    if named:
        reads = [_read_sitemap(sitemap, fetcher, scope) for sitemap in named[:MAX_SITEMAPS]]
        note = f"robots.txt names {len(named)} sitemap{'s' if len(named) != 1 else ''} of articles"
        readable = [r for r in reads if r.pages]
        problem = None if readable else next((r.problem for r in reads if r.problem), None)
        return [sitemap_check(home.rstrip("/") + "/robots.txt", readable, now, note, problem)]
    for path in COMMON_SITEMAP_PATHS:
        url = home.rstrip("/") + path
        read = _read_sitemap(url, fetcher, scope)
        check = sitemap_check(url, [read] if read.pages else [], now, "found at a usual path", read.problem)
        if check.usable:
            return [check]
    return []


def _read_sitemap(url: str, fetcher: Fetcher, scope: Scope, depth: int = 0) -> SitemapRead:
    """The pages a sitemap names; an index's first children (newest first) read in its place."""
    answer = fetcher.get(url)
    if not answer.ok:
        return SitemapRead(problem=answer.error or f"status {answer.status}")
    read = read_sitemap(answer.body, answer.url, scope)
    if not read.children or depth >= 2:
        return read
    first = article_sitemaps(dict.fromkeys(read.children))[:MAX_SITEMAPS]
    children = [_read_sitemap(child, fetcher, scope, depth + 1) for child in first]
    pages = tuple(dict.fromkeys(page for child in children for page in child.pages))
    newest = max((child.newest for child in children if child.newest), default=None)
    return SitemapRead(pages, newest, problem=None if pages else "an index whose sitemaps name no page")


def _listings(pages: list[ReadPage], fetcher: Fetcher, scope: Scope) -> list[EntryPointCheck]:
    """The pages already read that are listings; else the first section pages (the given article's own
    section first) that are."""
    checks = [
        check_listing(page, scope, "the page given" if i == 0 else "the home page") for i, page in enumerate(pages)
    ]
    if any(check.usable for check in checks):
        return checks
    sections = [*_parent_sections(pages[0].url)]
    for page in pages:
        sections += listing_leads(page, scope)[1]
    tried = {page.url for page in pages}
    for section in dict.fromkeys(sections):
        if len(tried) >= len(pages) + MAX_SECTIONS or fetcher.budget_left <= 0:
            break
        if section in tried:
            continue
        tried.add(section)
        answer = fetcher.get(section)
        section_page = read_page(answer.body, answer.url, answer.charset) if answer.ok else None
        if section_page is not None:
            check = check_listing(section_page, scope, "a section page")
            checks.append(check)
            if check.usable:
                break
    return checks


def _parent_sections(url: str) -> list[str]:
    """The folders above the page at ``url`` that are no dates, nearest first (``/tech/2026/11/a.html``:
    ``/tech/``), without the home page."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    folders = []
    for end in range(len(segments) - 1, 0, -1):
        if segments[end - 1].replace("-", "").isdigit():
            continue  # /2026/11/ holds a day's articles at most, and is seldom served
        path = "/" + "/".join(segments[:end]) + "/"
        folders.append(urlunsplit((parts.scheme, parts.netloc, path, "", "")))
    return folders


def describe_report(report: OutletReport) -> list[str]:
    """What discovery did for one URL, in lines for a terminal: each entry point checked and what it yielded,
    or why there is nothing to follow."""
    lines = [f"{report.url}: {len(report.requests)} requests"]
    if report.blocked is not None:
        return [*lines, f"  nothing discovered: {report.blocked}"]
    for check in report.checks:
        lines.append(f"  {check.kind:<8} {check.url}  {check.describe()}  ({check.note})")
    if report.refused:
        lines.append(f"  refused by the address policy: {', '.join(dict.fromkeys(report.refused))}")
    if not report.usable:
        lines.append(
            "  nothing usable: no feed, sitemap or listing page of this site names its articles; "
            "try the URL of a section page"
        )
    return lines
