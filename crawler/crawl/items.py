"""The one contract between the spider and the pipelines: what a fetch produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.text.discovery import EntryPage


@dataclass
class PageItem:
    """A fetched candidate article page, before extraction.

    ``requested_url`` is the URL the spider asked for, ``url`` where the response came
    from (they differ after redirects); both are remembered as fetched.
    """

    source: str
    url: str
    requested_url: str
    status: int
    body: bytes
    content_type: str | None
    header_charset: str | None
    via: str  # "feed", "sitemap", "listing" or "retry": how the URL was discovered (see crawler.crawl.requests)
    first_published: datetime | None = None  # when the feed or sitemap that named it says it was first published


@dataclass
class FetchFailure:
    """A candidate article that could not be fetched (after retries), and why."""

    source: str
    url: str
    outcome: str  # "gone", "http_error" or "network_error"
    http_status: int | None
    error: str
    #: A known page whose recorded outcome and article this URL takes instead (where a link redirects to it).
    same_as: str | None = None


@dataclass
class EntryPoll:
    """A feed, sitemap or listing page was polled: what to remember for the next poll.

    ``changed`` is false for a 304 or a body identical to the last poll's (then the
    validators and hash stay as they were). ``not_before`` is the earliest next poll the
    site allows (``Retry-After``, a feed's ``ttl``), if it said.
    """

    source: str
    url: str
    status: int
    changed: bool
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    not_before: datetime | None = None
    poll_hint: float | None = None  # the feed's own minimum interval (ttl), seconds
    children: list[EntryPage] | None = None  # the entry pages it led to
