"""What the spider makes of a Scrapy response: an entry page as discovery takes it (a listing
page with its links, through Scrapy's link extractor), a candidate article as the pipelines take
it (:class:`PageItem`), and what to remember of an entry page that was polled, read or unchanged
(:class:`EntryPoll`).
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawler.crawl.items import EntryPoll, PageItem
from crawler.crawl.requests import NotModified, entry_url
from crawler.text.charset import decode_html
from crawler.text.discovery import EntryPage, FetchedEntryPage, PageLink

#: The links of a listing page: every ``<a href>`` and ``<area href>``, each URL once.
LINK_EXTRACTOR = LinkExtractor(unique=True, tags=("a", "area"), attrs=("href",))


def fetched_entry_page(response: Response) -> FetchedEntryPage:
    """The entry page ``response`` brought, as discovery takes it (a listing page with its links)."""
    meta = response.meta
    kind = meta["ai4s_kind"]
    links = page_links(response) if kind == "listing" and isinstance(response, TextResponse) else None
    depth, page = meta.get("ai4s_depth", 0), meta.get("ai4s_page", 1)
    return FetchedEntryPage(response.url, kind, response.body, depth=depth, page=page, links=links)


def page_links(response: TextResponse) -> tuple[PageLink, ...]:
    """The links of a web page, absolute, with their text and ``rel`` values."""
    rels: dict[str, str] = {}
    for element in response.css("a[rel], link[rel]"):
        url = response.urljoin(element.attrib.get("href", ""))
        rels[url] = f"{rels.get(url, '')} {element.attrib.get('rel', '')}".strip()
    return tuple(
        PageLink(link.url, link.text or "", rels.get(link.url, "")) for link in LINK_EXTRACTOR.extract_links(response)
    )


def declares_article(response: Response) -> bool:
    """True when a web page says it is an article (Open Graph type, or a published time)."""
    if not isinstance(response, TextResponse):
        return False
    og_type = response.css('meta[property="og:type"]::attr(content)').get("")
    return og_type.strip().lower() == "article" or bool(response.css('meta[property="article:published_time"]'))


def _content_type(response: Response) -> str | None:
    """The response's ``Content-Type`` header, as text."""
    content_type = response.headers.get(b"Content-Type")
    return content_type.decode("latin-1") if content_type else None


def header_charset(content_type: str | None) -> str | None:
    """The charset a ``Content-Type`` header names, if any."""
    if content_type and "charset=" in content_type.lower():
        return content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip("'\"") or None
    return None


def in_page_charset(response: TextResponse) -> TextResponse:
    """``response`` read in the charset its page is in, as the extractor reads an article
    (:func:`crawler.text.charset.decode_html`): Scrapy takes the label as given, and a listing labelled ``utf-16``,
    ``rot13`` or ``utf-8`` over GBK bytes gave no links, or failed."""
    decoded = decode_html(response.body, header_charset(_content_type(response)))
    if codecs.lookup(decoded.encoding).name == codecs.lookup(response.encoding).name:
        return response
    return response.replace(encoding=decoded.encoding)


def page_item(response: Response, source: str, via: str) -> PageItem:
    """The fetched page of a candidate article of ``source``, found through ``via``."""
    content_type_text = _content_type(response)
    charset = header_charset(content_type_text)
    requested = response.request.meta.get("redirect_urls", [response.url])[0] if response.request else response.url
    return PageItem(
        source=source,
        url=response.url,
        requested_url=requested,
        status=response.status,
        body=response.body,
        content_type=content_type_text,
        header_charset=charset,
        via=via,
        first_published=response.meta.get("ai4s_first_published"),
    )


def entry_poll(response: Response, children: Sequence[EntryPage], poll_hint: float | None = None) -> EntryPoll:
    """What to remember of an entry page that was read: validators, body hash, the entry pages it led to,
    and the earliest next poll its own hint allows."""
    etag = response.headers.get(b"ETag")
    modified = response.headers.get(b"Last-Modified")
    return EntryPoll(
        source=response.meta["ai4s_source"],
        url=entry_url(response.request) if response.request else response.url,
        status=response.status,
        changed=True,
        etag=etag.decode("latin-1") if etag else None,
        last_modified=modified.decode("latin-1") if modified else None,
        body_hash=response.meta.get("ai4s_body_hash"),
        not_before=datetime.now(UTC) + timedelta(seconds=poll_hint) if poll_hint else None,
        poll_hint=poll_hint,
        children=list(children),
    )


def unchanged_poll(request: Request, unchanged: NotModified, poll_hint: float | None) -> EntryPoll:
    """What to remember of an entry page unchanged since its last poll: one more unchanged poll, and
    the earliest next one, as its own hint (a feed's ``ttl``) still asks."""
    not_before = datetime.now(UTC) + timedelta(seconds=poll_hint) if poll_hint else None
    source = request.meta.get("ai4s_source", "?")
    return EntryPoll(source, entry_url(request), unchanged.status, False, etag=unchanged.etag, not_before=not_before)
