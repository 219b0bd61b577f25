"""Feeds (RSS 0.9x/1.0/2.0, Atom, JSON Feed) and sitemaps (urlset, sitemap index, Google News) → URLs. Pure.

XML from the open web is parsed with entity expansion off, no network access and no
DTD loading (no "billion laughs", no external entities), in recovering mode so a feed
with a stray ampersand still yields its links. A document that is not a feed or a
sitemap at all raises :class:`FeedError`. A text of any length is read (libxml2's "huge" mode): its default
limit of 10 MB a text node made recovery drop every item after a long one, and the download's size limit
already bounds the document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from urllib.parse import urljoin, urlsplit

import lxml.etree

from crawler.text.charset import SINGLE_BYTE, SUPERSETS, codec_for
from crawler.text.dates import parse_date

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


class FeedError(ValueError):
    """A feed or sitemap that cannot be read."""


@dataclass(frozen=True)
class Entry:
    """A URL announced by a feed or sitemap, with its date if given (newest first is the crawl order) and, where
    the entry says so, when the page was first published (a feed's ``pubDate``, ``published`` or
    ``date_published``, a news sitemap's ``publication_date``; never an update time nor a sitemap's ``lastmod``)."""

    url: str
    published: datetime | None = None
    title: str | None = None
    first_published: datetime | None = None


def _parser(encoding: str | None = None) -> lxml.etree.XMLParser:
    return lxml.etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=True,
    )


#: The parser's complaints about an ``&`` that starts no entity it knows ("?id=101&channel=4", "&nbsp;"): recovery
#: drops the ampersand and the name after it, so the link would be requested as "?id=101=4".
_STRAY_AMPERSAND_ERRORS = frozenset({"ERR_ENTITYREF_SEMICOL_MISSING", "ERR_UNDECLARED_ENTITY", "WAR_UNDECLARED_ENTITY"})
#: Where CDATA sections (their text is never escaped) open and close, and ampersands that start no character or XML
#: entity.
_CDATA_OPEN, _CDATA_CLOSE = b"<![CDATA[", b"]]>"
_STRAY_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|(?:amp|lt|gt|quot|apos);)")


def _escaped_ampersands(body: bytes) -> bytes:
    """``body`` with every ``&`` outside CDATA that starts no character or XML entity written ``&amp;``."""
    parts: list[bytes] = []
    position = 0
    while True:  # each CDATA section found once (a lazy pattern scanned to the end from every unclosed one)
        start = body.find(_CDATA_OPEN, position)
        end = body.find(_CDATA_CLOSE, start) if start >= 0 else -1
        if end < 0:
            parts.append(_STRAY_AMPERSAND.sub(b"&amp;", body[position:]))
            return b"".join(parts)
        parts += [_STRAY_AMPERSAND.sub(b"&amp;", body[position:start]), body[start : end + len(_CDATA_CLOSE)]]
        position = end + len(_CDATA_CLOSE)


#: The charset an XML declaration names.
_DECLARED_ENCODING = re.compile(rb"<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")


def _in_declared_superset(body: bytes) -> tuple[bytes, str | None]:
    """``body``, and the encoding to parse it with: a document declared in a charset that real documents outgrow
    (GB2312 or GBK with GB18030's characters, as 朱镕基's 镕; Big5 with HKSCS's) comes back as UTF-8, decoded with
    the wider table. libxml2 reads the declared table strictly and, recovering, drops every item from the first
    character it lacks."""
    declared = _DECLARED_ENCODING.match(body)
    if declared is None:
        return body, None
    try:  # valid UTF-8 is UTF-8, whatever the declaration says (as pages are read, crawler.text.charset)
        body.decode("utf-8")
        return body, "utf-8"
    except UnicodeDecodeError:
        pass
    label = declared.group(1).decode("ascii")
    codec = codec_for(label)
    if codec is None or codec not in SUPERSETS.values() or codec in SINGLE_BYTE:
        return body, None
    return body.decode(codec, errors="replace").encode("utf-8"), "utf-8"


#: The XML declaration, and the root elements of feeds and sitemaps (where the document itself starts).
_XML_DECLARATION = b"<?xml"
_DOCUMENT_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|rdf|urlset|sitemapindex)[\s>]", re.IGNORECASE)
#: How far into a body an XML declaration is looked for behind what a server printed before it.
_DECLARATION_WINDOW = 65536


def _without_leading_output(body: bytes) -> bytes:
    """``body`` from its XML declaration on, where a server printed something else before it (a PHP warning or
    notice, ``<br />\n<b>Deprecated</b>: ...``, is the usual, and WordPress feeds carry it for months): libxml2 read
    that ``<br>`` as the root element and the whole feed was unreadable. A body whose root element comes before
    any declaration is left as it is."""
    start = body.find(_XML_DECLARATION, 0, _DECLARATION_WINDOW)
    if start <= 0 or _DOCUMENT_ROOT.search(body, 0, start):
        return body
    return body[start:]


def _root(body: bytes) -> lxml.etree._Element:
    """The root element of an XML document, parsed as :func:`_parser` says."""
    body = _without_leading_output(body.lstrip())
    if not body:
        raise FeedError("empty document")
    body, encoding = _in_declared_superset(body)
    try:
        parser = _parser(encoding)
        root = lxml.etree.parse(BytesIO(body), parser).getroot()
        if any(error.type_name in _STRAY_AMPERSAND_ERRORS for error in parser.error_log):
            root = lxml.etree.parse(BytesIO(_escaped_ampersands(body)), _parser(encoding)).getroot()
    except lxml.etree.XMLSyntaxError as exc:
        raise FeedError(f"not XML: {exc}") from None
    if root is None:
        raise FeedError("not XML: no root element")
    return root


def _absolute(base_url: str, link: str) -> str:
    """``link`` made absolute against ``base_url``; as given where it is no URL (``http://[x/``), for discovery to
    pass over: one broken link loses that link, never the feed."""
    try:
        return urljoin(base_url, link)
    except ValueError:
        return link


#: The attribute that sets the base of the relative links in an element and those inside it (RFC 4287 §2).
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def _link_bases(root: lxml.etree._Element, base_url: str) -> dict[lxml.etree._Element, str]:
    """The URL each element's relative links are read against, where the document sets ``xml:base`` (Atom feeds
    write ``xml:base="https://site/news/"`` once and every link relative to it): its own, read against the one
    above it, else the one above it, from ``base_url`` down. Empty where the document sets none: every link is read
    against ``base_url``. One pass (lxml's ``base`` walks every ancestor for every item: a 200 KB feed nested 2,000
    levels deep took minutes)."""
    if not root.xpath("boolean(//@xml:base)"):
        return {}
    bases: dict[lxml.etree._Element, str] = {}
    for element in root.iter(lxml.etree.Element):
        parent = element.getparent()
        above = bases.get(parent, base_url) if parent is not None else base_url
        own = (element.get(_XML_BASE) or "").strip()
        bases[element] = _web_base(above, own) if own else above
    return bases


def _web_base(above: str, base: str) -> str:
    """``base`` read against ``above``, where that makes a web address; else ``above`` (a ``javascript:`` or
    ``urn:`` base, or no URL, would lose every link under it)."""
    try:
        joined = urljoin(above, base)
        return joined if urlsplit(joined).scheme.lower() in ("http", "https") else above
    except ValueError:  # http://[x/
        return above


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element: lxml.etree._Element, *names: str) -> str | None:
    for child in element:
        if _local(child.tag) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def _newest_first(entries: list[Entry]) -> list[Entry]:
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: e.published or oldest, reverse=True)


#: Seconds of the ``sy:updatePeriod`` values (RSS 1.0 syndication module).
_UPDATE_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}
#: A feed's own poll hint is honoured up to this: a wrong ``ttl`` must not silence a source for weeks.
MAX_POLL_HINT = 86400.0


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its item links, and the shortest poll interval it asks for (seconds), if any."""

    entries: list[Entry]
    poll_hint: float | None = None


def _poll_hint(root: lxml.etree._Element) -> float | None:
    """The interval a feed asks readers to wait between polls: RSS ``ttl`` (minutes), or the
    syndication module's ``updatePeriod`` / ``updateFrequency``; capped at :data:`MAX_POLL_HINT`."""
    ttl = period = frequency = None
    for element in root.iter():
        name = _local(element.tag)
        text = (element.text or "").strip() if isinstance(element.tag, str) else ""
        if name == "ttl" and text.isdigit():
            ttl = int(text) * 60.0
        elif name == "updateperiod" and text.lower() in _UPDATE_PERIODS:
            period = float(_UPDATE_PERIODS[text.lower()])
        elif name == "updatefrequency" and text.isdigit() and int(text) > 0:
            frequency = int(text)
        elif name in ("item", "entry"):
            break  # the hints belong to the channel, before its items
    hints = [h for h in (ttl, period / (frequency or 1) if period else None) if h]
    return min(max(hints), MAX_POLL_HINT) if hints else None


def parse_feed(body: bytes, base_url: str) -> list[Entry]:
    """The item links of an RSS or Atom feed, newest first, made absolute against ``base_url``."""
    return read_feed(body, base_url).entries


def read_feed(body: bytes, base_url: str) -> Feed:
    """An RSS, Atom or JSON feed: its item links (newest first, absolute) and its poll hint."""
    if body.lstrip()[:1] == b"{":
        return read_json_feed(body, base_url)
    root = _root(body)
    kind = _local(root.tag)
    entries: list[Entry] = []
    bases = _link_bases(root, base_url)
    if kind == "feed":  # Atom
        for entry in root:
            if _local(entry.tag) != "entry":
                continue
            href = None
            for link in entry:
                if _local(link.tag) == "link" and link.get("rel", "alternate") == "alternate" and link.get("href"):
                    href = _absolute(bases.get(link, base_url), link.get("href", "").strip())
                    break
            if href:
                date = _child_text(entry, "published", "updated", "issued", "modified")
                first = parse_date(_child_text(entry, "published", "issued"))
                entries.append(Entry(href, parse_date(date), _child_text(entry, "title"), first))
    elif kind in ("rss", "rdf"):
        for item in root.iter():
            if _local(item.tag) != "item":
                continue
            link = _child_text(item, "link") or item.get(f"{{{RDF}}}about")
            if not link:
                for child in item:
                    if _local(child.tag) == "guid" and child.get("isPermaLink", "true") != "false" and child.text:
                        link = child.text.strip()
            if link:
                date = _child_text(item, "pubdate", "date", "published", "updated")
                first = parse_date(_child_text(item, "pubdate", "date", "published"))
                url = _absolute(bases.get(item, base_url), link)
                entries.append(Entry(url, parse_date(date), _child_text(item, "title"), first))
    else:
        raise FeedError(f"not an RSS or Atom feed (root element <{_local(root.tag) or '?'}>)")
    return Feed(_newest_first(entries), _poll_hint(root))


def read_json_feed(body: bytes, base_url: str) -> Feed:
    """A JSON Feed (jsonfeed.org, version 1 or 1.1): its item links, newest first, made absolute."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError(f"not JSON: {exc}") from None
    except RecursionError:  # Python's parser recurses once per level: a hostile feed nests thousands
        raise FeedError("not a JSON Feed: nested too deeply") from None
    if not isinstance(document, dict) or "jsonfeed.org" not in str(document.get("version", "")):
        raise FeedError("not a JSON Feed (no jsonfeed.org version)")
    items = document.get("items")
    entries = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if isinstance(link, str) and link.strip():
            date = item.get("date_published") or item.get("date_modified")
            first = item.get("date_published")
            title = item.get("title")
            entries.append(
                Entry(
                    _absolute(base_url, link.strip()),
                    parse_date(date) if isinstance(date, str) else None,
                    title if isinstance(title, str) else None,
                    parse_date(first) if isinstance(first, str) else None,
                )
            )
    return Feed(_newest_first(entries))


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: either an index (``children`` are sitemaps) or a urlset (``children`` are pages)."""

    is_index: bool
    children: list[Entry]


def parse_sitemap(body: bytes, base_url: str) -> Sitemap:
    """The entries of a sitemap or sitemap index (Google News dates included), newest first; or of a text sitemap,
    one URL a line, in its order."""
    text_sitemap = _text_sitemap(body)
    if text_sitemap is not None:
        return text_sitemap
    root = _root(body)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise FeedError(f"not a sitemap (root element <{kind or '?'}>)")
    entries = []
    for element in root:
        if _local(element.tag) not in ("url", "sitemap"):
            continue
        loc = _child_text(element, "loc")
        if not loc:
            continue
        date = _child_text(element, "lastmod")
        title = first = None
        for child in element:
            if _local(child.tag) == "news":  # Google News sitemap
                first = _child_text(child, "publication_date")
                date = first or date
                title = _child_text(child, "title")
        entries.append(Entry(_absolute(base_url, loc), parse_date(date), title, parse_date(first)))
    return Sitemap(kind == "sitemapindex", _newest_first(entries))


def _text_sitemap(body: bytes) -> Sitemap | None:
    """The sitemap ``body`` is where it is a text sitemap (sitemaps.org: one absolute http(s) URL a line, in UTF-8),
    else ``None``. Sites that write one (``sitemap.txt``, named in robots.txt) had it taken for broken XML."""
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text or text.startswith("<"):
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not all(_TEXT_SITEMAP_LINE.match(line) for line in lines):
        return None
    return Sitemap(False, [Entry(line) for line in dict.fromkeys(lines)])


#: A line of a text sitemap: one absolute http(s) URL, nothing else.
_TEXT_SITEMAP_LINE = re.compile(r"^https?://\S+$", re.IGNORECASE)


def sitemaps_in_robots(text: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs declared in a robots.txt."""
    urls = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and value.strip():
            urls.append(_absolute(base_url, value.strip()))
    return urls
