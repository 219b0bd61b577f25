"""The requests of a crawl and what travels with them: how article and entry-page requests are
built, the meta keys they carry, the per-source stats keys, and the two ways an entry page is
not read (:class:`NotModified`, :class:`PollDeferred`).

The spider and the middlewares both build requests here, so a middleware that adds requests
(the pending retries) needs nothing from the spider. Request meta keys: ``ai4s_source`` (the
source name), ``ai4s_kind`` (one of :data:`ENTRY_KINDS` or ``article``), ``ai4s_max_pages``
(the source's budget), ``ai4s_via`` (how an article was discovered), ``ai4s_first_published`` (when the
feed or sitemap that named an article says it was first published), ``ai4s_depth`` and
``ai4s_page`` (of an entry page), ``ai4s_body_hash`` (set on the way back, for the poll).

A request built here names no callback: Scrapy hands its response to the spider's ``parse``,
which reads ``ai4s_kind``; the spider also handles the failures of every request of its crawl
(:meth:`crawler.crawl.spiders.news.NewsSpider.claim`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.text.discovery import ENTRY_PAGE_KINDS
from crawler.text.urls import canonical_url, clean_url

if TYPE_CHECKING:
    from crawler.sources import Source
    from storage.polling import EntryPageState

#: Request kinds that are entry pages (polled every crawl), as opposed to ``article`` pages (fetched once).
ENTRY_KINDS = frozenset(ENTRY_PAGE_KINDS)


#: The stats counter of requests a source's page budget (``max_pages``) dropped: a source cut short.
OVER_BUDGET = "over_budget"
#: The stats counter of a source's fetched pages the database would not take (locked past its wait, disk full):
#: a source crawled incompletely, whose entry pages must be read again in full next time.
UNSAVED = "unsaved"


def stat_key(source: str, counter: str) -> str:
    """The stats-collector key of a per-source counter."""
    return f"ai4s/{source}/{counter}"


def entry_url(request: Request) -> str:
    """The canonical URL an entry page is remembered by: the one first requested, before redirects."""
    return canonical_url(request.meta.get("redirect_urls", [request.url])[0])


def is_linked_listing(meta: Mapping[str, Any]) -> bool:
    """Whether the request with ``meta`` asks for a listing page only because a listing page linked it (the
    first page of a section, ``depth`` 1 or more), not for a configured start page nor a next page of a listing.
    Such a page may turn out to be an article once fetched."""
    return meta.get("ai4s_kind") == "listing" and meta.get("ai4s_depth", 0) >= 1 and meta.get("ai4s_page", 1) == 1


class NotModified(IgnoreRequest):
    """An entry page unchanged since the last poll (a 304, or the very same body): not parsed again."""

    def __init__(self, reason: str, state: EntryPageState | None, status: int, etag: str | None = None) -> None:
        super().__init__(reason)
        self.state = state
        self.status = status
        self.etag = etag


class PollDeferred(IgnoreRequest):
    """An entry page not requested: the site asked not to be polled before a later time."""


def _source_request(url: str, source: Source, kind: str, **meta: Any) -> Request:
    return Request(
        clean_url(url),
        meta={"ai4s_source": source.name, "ai4s_kind": kind, "ai4s_max_pages": source.max_pages, **meta},
    )


def article_request(url: str, source: Source, via: str, first_published: datetime | None = None) -> Request:
    """A request for a candidate article page of ``source``, found through ``via`` (``feed``,
    ``sitemap``, ``listing`` or ``retry``), with the publication date its feed or sitemap gave, if any."""
    if first_published is None:
        return _source_request(url, source, "article", ai4s_via=via)
    return _source_request(url, source, "article", ai4s_via=via, ai4s_first_published=first_published)


def entry_request(source: Source, child: tuple[str, str, int, int]) -> Request:
    """A request for an entry page of ``source`` (feed, robots.txt, sitemap or listing page), given as
    ``(url, kind, depth, page)``: a :class:`crawler.text.discovery.EntryPage` or a stored tuple."""
    url, kind, depth, page = child
    if kind not in ENTRY_KINDS:
        raise ValueError(f"not an entry-page kind: {kind!r}")
    return _source_request(url, source, kind, ai4s_depth=depth, ai4s_page=page)
