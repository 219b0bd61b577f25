"""The one contract between the spider and the pipelines: what a fetch produced."""

from __future__ import annotations

from dataclasses import dataclass


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
    via: str  # "feed", "sitemap" or "listing": how the URL was discovered


@dataclass
class FetchFailure:
    """A candidate article that could not be fetched (after retries), and why."""

    source: str
    url: str
    outcome: str  # "gone", "http_error" or "network_error"
    http_status: int | None
    error: str
