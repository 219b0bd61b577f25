"""The test suite's local news web: several loopback sites serving real pages from the test corpus.

:class:`NewsWeb` builds four small sites, each a :class:`~crawler.app.webserver.LocalSite` on its
own loopback address (127.0.0.2, 127.0.0.3, ...), so that hosts, robots.txt and per-site
politeness behave as on the real web. Nothing listens on anything but loopback and no page
points the crawler at the internet through a route of ours (the corpus pages themselves link
to their original, external sites, as real pages do; a crawler must stay on its sources' hosts).

The sites, with the faults each one exercises:

``feedsite`` (English, 127.0.0.2)
    ``/rss.xml`` (RSS 2.0) and ``/atom.xml`` (Atom) listing 15 articles, newest first, with
    dates. In the RSS feed one item 404s, one item is a PDF, one article is reached through a
    redirect chain (301 -> 302 -> article, also in the Atom feed, never linked directly), one
    article answers after a 2 s delay, and one is linked with ``?utm_source=rss&utm_medium=feed``
    while the Atom feed and the home page ``/`` link it without.
``sitemapsite`` (Chinese, 127.0.0.3)
    ``robots.txt`` with ``Sitemap:`` lines and ``Disallow: /private/``; a sitemap index naming a
    plain ``/sitemap.xml`` and a gzipped Google News sitemap ``/sitemap-news.xml.gz``. Pages are
    cwced pages with their real bytes: GB2312/GBK/GB18030 pages with the charset in the
    ``Content-Type`` header, GBK pages with *no* charset anywhere (sniffing), UTF-8 pages, one
    **synthetic Big5 page** (a zh-Hant page transcoded by us, see :func:`transcode_to_big5`),
    and two articles under ``/private/`` that are listed in the sitemap but disallowed.
``listingsite`` (English and Chinese, 127.0.0.4)
    ``/news/``, ``/news/?page=2``, ... (6 articles a page, ``rel=next``/``rel=prev``); article
    links with ``utm_*`` and ``spm`` tracking variants and ``;jsessionid=`` / ``?sid=`` session
    variants; an endless calendar trap under ``/calendar/``; one article that answers 500 the
    first time and 200 afterwards; about and contact pages that are not articles.
``repostsite`` (mixed, 127.0.0.5)
    Two articles of its own, plus reposts of one feedsite and one sitemapsite article under a
    different URL and template with the same body text (for content-hash deduplication).

Which corpus pages are used is decided by ``seed`` alone; dates are relative to ``now``.
The corpus is read where it lies (``../shared/corpus``); nothing of it is copied.
"""

from __future__ import annotations

import gzip
import html
import json
import random
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply

#: Loopback addresses of the sites, in the order they are made.
SITE_HOSTS: dict[str, str] = {
    "feedsite": "127.0.0.2",
    "sitemapsite": "127.0.0.3",
    "listingsite": "127.0.0.4",
    "repostsite": "127.0.0.5",
}

#: Pages whose ground-truth body is shorter than this are not used.
MIN_BODY_CHARS = 300
#: Pages larger than this (uncompressed) are not used, to keep the tests quick.
MAX_PAGE_BYTES = 1_000_000
#: Pages labelled English whose text has fewer very common English words than this share are not used
#: (the corpus labels some Xhosa, Zulu, Swahili and German pages ``en``).
MIN_ENGLISH_RATIO = 0.08
#: Delay of the slow feedsite article, in seconds (well under a 10 s download timeout).
SLOW_DELAY = 2.0
#: How long :meth:`NewsWeb.slow_articles` holds the article requests past its ``hold_after``, in seconds.
HOLD_DELAY = 60.0
#: Articles per listing page on the listing site.
PER_PAGE = 6
#: How many of the newest sitemapsite articles go into the Google News sitemap.
NEWS_SITEMAP_SIZE = 4
#: Time between the publication dates of consecutive articles of one site.
DATE_STEP = timedelta(hours=3)

_GB_ENCODINGS = ("gb2312", "gbk", "gb18030")
_NOT_FOUND = Reply(
    404, b"<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html; charset=utf-8"}
)


# -- what a correct crawl should find ----------------------------------------------------------
@dataclass(frozen=True)
class ExpectedArticle:
    """An article the web serves, with the ground truth a crawl of it should reproduce."""

    site: str
    """Name of the site (and of its source in :meth:`NewsWeb.sources_toml`)."""
    url: str
    """Canonical absolute URL on its site, without tracking or session parameters."""
    corpus_source: str
    corpus_id: str
    title: str | None
    """Title from the corpus (``None`` if the corpus has none; for some sources it is the HTML title)."""
    body: str
    """Ground-truth article text (paragraphs separated by newlines)."""
    language: str
    """Language label from the corpus (heuristic there: ``zh-Hans``, ``zh-Hant``, ``en``, ...)."""
    encoding: str
    """Charset of the served bytes (``big5`` for the synthetic page), whether or not the header names it."""
    synthetic: bool = False
    """True for the Big5 page we transcoded ourselves (no such page exists in the corpus)."""
    published: str | None = None
    """Publication date the site announces in its feeds/sitemaps/listings (ISO 8601, UTC)."""
    original_url: str | None = None
    """The page's URL on the real web (its ``rel=canonical`` usually points there), if known."""
    fault: str | None = None
    """The fault this article exercises, if any: ``redirect``, ``slow``, ``utm-variant``,
    ``spm-variant``, ``jsessionid-variant``, ``sid-variant``, ``retry-500``, ``no-charset``,
    ``synthetic-big5`` or ``repost`` (for the entries of :attr:`NewsWeb.reposts`)."""
    variants: tuple[str, ...] = ()
    """Other absolute URLs, linked somewhere on the site, that serve this same page."""


# -- the corpus --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusPage:
    """One page of the test corpus: its metadata and (read on demand) its bytes."""

    source: str
    id: str
    meta: dict = field(compare=False, hash=False, repr=False)
    root: Path = field(compare=False, hash=False, repr=False)

    @property
    def title(self) -> str | None:
        """The corpus title, or ``None`` if it is missing or empty."""
        title = (self.meta.get("title") or "").strip()
        return title or None

    @property
    def body(self) -> str:
        """The ground-truth body (empty if the corpus has none)."""
        return self.meta.get("body") or ""

    @property
    def encoding(self) -> str:
        """The charset the stored bytes decode with."""
        return self.meta["encoding"]

    @property
    def declared_charset(self) -> str | None:
        """The charset the page declares itself, if any."""
        return self.meta.get("declared_charset")

    @property
    def language(self) -> str:
        """The corpus language label."""
        return self.meta.get("language") or "und"

    @property
    def original_url(self) -> str | None:
        """The page's real-web URL: the corpus ``url``, else the cwced ``<text id=...>`` wrapper's."""
        if self.meta.get("url"):
            return self.meta["url"]
        match = re.match(rb"\s*<text\s+id=\"([^\"]+)\"", self.raw()[:2000])
        return match.group(1).decode("ascii", "replace") if match else None

    def raw(self) -> bytes:
        """The page's bytes exactly as stored in the corpus."""
        return _read_gz(self.root / self.source / self.meta["html_file"])

    def display_title(self) -> str:
        """A title to show in feeds and listings: the corpus title, else the body's first line."""
        if self.title:
            return self.title
        first = next((line.strip() for line in self.body.splitlines() if line.strip()), self.id)
        return first[:40]

    def problem(self, allow_base: bool = False) -> str | None:
        """Why this page is unfit to serve as an article (``None`` if it is fine).

        ``allow_base`` ignores a ``<base href>`` (for pages we rewrite anyway).
        """
        meta = self.meta
        if not meta.get("body_complete") or len(self.body.strip()) < MIN_BODY_CHARS:
            return "no complete ground-truth body of at least %d characters" % MIN_BODY_CHARS
        if "undecodable" in (meta.get("charset_note") or ""):
            return "bytes do not decode cleanly"
        if meta.get("bytes", 0) > MAX_PAGE_BYTES:
            return "too large"
        if self.language == "en" and _english_ratio(self.body) < MIN_ENGLISH_RATIO:
            return "labelled 'en' but the text does not read as English"
        head = self.raw().decode(self.encoding, "replace")
        if not allow_base and re.search(r"<base\s[^>]*href", head, re.I):
            return "<base href> would resolve its links on the original site"
        if re.search(r"http-equiv\s*=\s*[\"']?refresh", head, re.I):
            return "meta refresh would send a browser elsewhere"
        return None


_ENGLISH_WORDS = frozenset(
    "the of and to a in is that for it on was with as be by at are this from have has an not".split()
)


def _english_ratio(text: str) -> float:
    """Share of the words of ``text`` that are very common English words (about 0.3 for English prose)."""
    words = re.findall(r"[a-z]+", text.lower())
    return sum(word in _ENGLISH_WORDS for word in words) / max(1, len(words))


@lru_cache(maxsize=64)
def _read_gz(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


@lru_cache(maxsize=4)
def load_corpus(root: Path) -> tuple[CorpusPage, ...]:
    """All pages of the corpus at ``root`` (``index.jsonl`` plus each page's JSON), in index order."""
    pages = []
    with open(root / "index.jsonl", encoding="utf-8") as index:
        for line in index:
            if not line.strip():
                continue
            entry = json.loads(line)
            meta = json.loads((root / entry["source"] / f"{entry['id']}.json").read_text(encoding="utf-8"))
            pages.append(CorpusPage(entry["source"], entry["id"], meta, root))
    return tuple(pages)


def transcode_to_big5(raw: bytes, encoding: str) -> bytes:
    """SYNTHETIC: the page ``raw`` (in ``encoding``) re-encoded as Big5, its charset declarations saying big5.

    The corpus has no Big5 page with ground truth, so a traditional-Chinese page is transcoded.
    Characters Big5 lacks become numeric character references, so the text is unchanged. A
    ``<base href>`` (pointing at the original site) is removed, and a comment marks the page synthetic.
    """
    text = raw.decode(encoding).lstrip("\ufeff")
    text = re.sub(r"<base\s[^>]*>", "", text, flags=re.I)
    text, count = re.subn(r"(<meta\b[^>]*?charset\s*=\s*[\"']?)([A-Za-z0-9_:.-]+)", r"\1big5", text, flags=re.I)
    text = re.sub(r"(<\?xml[^>]*encoding\s*=\s*[\"'])([A-Za-z0-9_.-]+)", r"\1big5", text, flags=re.I)
    if count == 0:
        head = re.search(r"<head[^>]*>", text, re.I)
        at = head.end() if head else 0
        text = text[:at] + '<meta charset="big5">' + text[at:]
    text = "<!-- SYNTHETIC test page: transcoded to Big5 by tests/localweb.py -->\n" + text
    return text.encode("big5", errors="xmlcharrefreplace")


def tiny_pdf(text: str) -> bytes:
    """A small, structurally valid one-page PDF showing ``text`` (ASCII)."""
    safe = text.encode("ascii", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 18 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- small helpers -----------------------------------------------------------------------------
def slugify(title: str, fallback: str = "story") -> str:
    """A URL slug of ``title``: its first seven ASCII words, lower case, joined by hyphens (``fallback`` if none)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_title)
    return "-".join(words[:7]) or fallback


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _w3c(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _page(title: str, body: str, lang: str = "en", head: str = "") -> Reply:
    """A small UTF-8 HTML page of our own making (listings, navigation pages, reposts)."""
    return html_reply(
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{_esc(title)}</title>{head}'
        f"</head>\n<body>\n{body}\n</body></html>\n"
    )


def _article_reply(raw: bytes, charset: str | None, **headers: str) -> Reply:
    """A corpus page's bytes, with ``charset`` in the Content-Type header (none if ``charset`` is None)."""
    content_type = f"text/html; charset={charset}" if charset else "text/html"
    return Reply(200, raw, {"Content-Type": content_type, **headers})


def _xml_reply(text: str) -> Reply:
    return Reply(200, text.encode("utf-8"), {"Content-Type": "application/xml; charset=utf-8"})


def bare_path(path: str) -> str:
    """The path of a request target without its query and without ``;params``."""
    return urlsplit(path).path.split(";", 1)[0]


#: :meth:`CorpusPage.problem` of the pages looked at so far, by (corpus root, source, id).
_PROBLEMS: dict[tuple[Path, str, str], str | None] = {}


class _Picker:
    """Hands out corpus pages in a seeded order, each page at most once."""

    def __init__(self, pages: Iterable[CorpusPage], seed: int) -> None:
        self.pages = sorted(pages, key=lambda p: (p.source, p.id))
        random.Random(seed).shuffle(self.pages)
        self.used: set[tuple[str, str]] = set()

    def usable(self, page: CorpusPage) -> bool:
        """Whether ``page`` is unused and has no :meth:`CorpusPage.problem`."""
        if (page.source, page.id) in self.used:
            return False
        key = (page.root, page.source, page.id)
        if key not in _PROBLEMS:
            _PROBLEMS[key] = page.problem()
        return _PROBLEMS[key] is None

    def take(self, n: int, accept: Callable[[CorpusPage], bool], what: str) -> list[CorpusPage]:
        """The next ``n`` usable pages that ``accept`` takes; raises if the corpus runs out."""
        chosen: list[CorpusPage] = []
        for page in self.pages:
            if len(chosen) == n:
                break
            if accept(page) and self.usable(page):
                self.used.add((page.source, page.id))
                chosen.append(page)
        if len(chosen) < n:
            raise RuntimeError(f"the test corpus has too few unused {what} pages (wanted {n}, found {len(chosen)})")
        return chosen


def _english(page: CorpusPage) -> bool:
    return (
        page.source in ("zyte-aeb", "readability-js", "fundus") and page.language == "en" and page.encoding == "utf-8"
    )


def _chinese(page: CorpusPage) -> bool:
    return page.source == "cwced" and page.language == "zh-Hans"


# -- the sites ---------------------------------------------------------------------------------
@dataclass
class _Post:
    """An article as one site publishes it."""

    page: CorpusPage
    path: str
    when: datetime
    expected: ExpectedArticle
    link_path: str = ""  # how feeds/listings link it, if not by ``path``

    @property
    def link(self) -> str:
        return self.link_path or self.path


class _Site:
    """What the four sites share: a LocalSite, a clock, a number sequence and the article paths."""

    name = ""
    language: str | None = None
    etags = False  # ETag / 304 support (the feed site has it; the others are re-polled by body hash)

    def __init__(self, web: NewsWeb) -> None:
        self.web = web
        self.site = LocalSite(self.name, SITE_HOSTS[self.name], etags=self.etags)
        web._sites.append(self)  # at once, so that a failed build still closes this socket
        self.posts: list[_Post] = []  # newest first
        self.article_paths: set[str] = set()
        self.site.add("/robots.txt", Reply(200, self.robots().encode(), {"Content-Type": "text/plain; charset=utf-8"}))

    def robots(self) -> str:
        """The site's robots.txt."""
        return "User-agent: *\nDisallow:\n"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this site."""
        return self.site.url(path)

    def next_date(self, new: bool) -> datetime:
        """The date for the next article: older than all (building) or newer than all (:meth:`NewsWeb.add_articles`)."""
        if not self.posts:
            return self.web.now - DATE_STEP
        if new:
            newest = max(p.when for p in self.posts)
            return max(newest + timedelta(minutes=1), datetime.now(UTC).replace(microsecond=0))
        return min(p.when for p in self.posts) - DATE_STEP

    def expected(
        self, page: CorpusPage, path: str, when: datetime, encoding: str | None = None, **extra: object
    ) -> ExpectedArticle:
        """The :class:`ExpectedArticle` of ``page`` published at ``path``."""
        return ExpectedArticle(
            site=self.name,
            url=self.url(path),
            corpus_source=page.source,
            corpus_id=page.id,
            title=page.title,
            body=page.body,
            language=page.language,
            encoding=encoding or page.encoding,
            published=_iso(when),
            original_url=page.original_url,
            **extra,  # type: ignore[arg-type]
        )

    def serve(self, path: str, reply: Reply | Callable[[RequestRecord], Reply]) -> None:
        """Serve an article at ``path``."""
        self.site.add(path, reply)
        self.article_paths.add(path)

    def insert(self, post: _Post, new: bool) -> None:
        """Add ``post`` at the top (``new``) or the bottom of the site's article list."""
        with self.web.lock:
            if new:
                self.posts.insert(0, post)
            else:
                self.posts.append(post)


class _FeedSite(_Site):
    """English site announcing its articles in RSS and Atom feeds."""

    name = "feedsite"
    language = "en"
    etags = True
    SIZE = 15

    def __init__(self, web: NewsWeb, picker: _Picker) -> None:
        super().__init__(web)
        self.faulty_items: list[tuple[int, str, str]] = []  # (position, title, path) of the 404 and PDF items
        for index, page in enumerate(picker.take(self.SIZE, _english, "English article")):
            fault = {1: "utm-variant", 2: "redirect", 5: "slow"}.get(index)
            self.publish(page, new=False, fault=fault)
        when = self.posts[2].when
        pdf_path = f"/files/{when:%Y}/annual-report-{self.web.number()}.pdf"
        self.site.add(
            pdf_path, Reply(200, tiny_pdf("Annual report: figures and tables"), {"Content-Type": "application/pdf"})
        )
        gone = f"/articles/{when:%Y/%m/%d}/withdrawn-story-{self.web.number()}.html"  # never served: 404
        self.faulty_items = [(3, "Withdrawn story", gone), (7, "Annual report (PDF)", pdf_path)]
        self.site.add("/", self.home)
        self.site.add("/rss.xml", self.rss)
        self.site.add("/atom.xml", self.atom)

    def publish(self, page: CorpusPage, new: bool, fault: str | None = None) -> ExpectedArticle:
        """Serve ``page`` as a new article of this site, with ``fault`` if given."""
        when = self.next_date(new)
        number = self.web.number()
        path = f"/articles/{when:%Y/%m/%d}/{slugify(page.display_title())}-{number}.html"
        reply = _article_reply(page.raw(), page.encoding)
        link, variants = "", ()
        if fault == "slow":
            reply = Reply(reply.status, reply.body, reply.headers, delay=SLOW_DELAY)
        elif fault == "utm-variant":
            link = path + "?utm_source=rss&utm_medium=feed"
            variants = (self.url(link),)
        elif fault == "redirect":
            hop1, hop2 = f"/r/{number}", f"/go/{number}"
            self.site.add(hop1, Reply(301, b"", {"Location": self.url(hop2)}))
            self.site.add(hop2, Reply(302, b"", {"Location": self.url(path)}))
            link = hop1
        self.serve(path, reply)
        expected = self.expected(page, path, when, fault=fault, variants=variants)
        self.insert(_Post(page, path, when, expected, link), new)
        return expected

    def _items(self) -> list[tuple[str, str, datetime, str]]:
        """(title, RSS link path, date, summary) of every feed item, newest first, faulty ones included."""
        with self.web.lock:
            posts = list(self.posts)
        items = [(p.page.display_title(), p.link, p.when, p.page.body[:200]) for p in posts]
        for position, title, path in self.faulty_items:
            at = min(position, len(items))
            neighbour = items[at - 1][2] - timedelta(minutes=30) if at else self.web.now
            items.insert(at, (title, path, neighbour, title))
        return items

    def rss(self, _: RequestRecord) -> Reply:
        """The RSS 2.0 feed."""
        entries = "".join(
            f"<item><title>{_esc(title)}</title><link>{_esc(self.url(path))}</link>"
            f'<guid isPermaLink="true">{_esc(self.url(path))}</guid>'
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f"<description>{_esc(summary)}</description></item>\n"
            for title, path, when, summary in self._items()
        )
        return Reply(
            200,
            (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
                f"<title>Feed Site News</title><link>{self.url('/')}</link>"
                "<description>Latest stories</description><language>en</language>\n"
                f"{entries}</channel></rss>\n"
            ).encode(),
            {"Content-Type": "application/rss+xml; charset=utf-8"},
        )

    def atom(self, _: RequestRecord) -> Reply:
        """The Atom feed (every article, by its canonical URL except the redirected one)."""
        with self.web.lock:
            posts = list(self.posts)
        updated = _iso(max(p.when for p in posts))
        entries = "".join(
            f"<entry><title>{_esc(p.page.display_title())}</title>"
            f'<link rel="alternate" type="text/html" href="{_esc(self.url(self._atom_link(p)))}"/>'
            f"<id>{_esc(self.url(p.path))}</id><published>{_iso(p.when)}</published>"
            f"<updated>{_iso(p.when)}</updated><summary>{_esc(p.page.body[:200])}</summary></entry>\n"
            for p in posts
        )
        return Reply(
            200,
            (
                '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
                f"<title>Feed Site News</title><id>{self.url('/atom.xml')}</id><updated>{updated}</updated>"
                f'<link rel="self" href="{self.url("/atom.xml")}"/>\n{entries}</feed>\n'
            ).encode(),
            {"Content-Type": "application/atom+xml; charset=utf-8"},
        )

    @staticmethod
    def _atom_link(post: _Post) -> str:
        """The Atom feed links the redirected article through its redirect, all others by their canonical path."""
        return post.link if post.expected.fault == "redirect" else post.path

    def home(self, _: RequestRecord) -> Reply:
        """The home page: every article by its canonical URL, except the redirected one."""
        with self.web.lock:
            posts = [p for p in self.posts if p.expected.fault != "redirect"]
        items = "".join(f'<li><a href="{p.path}">{_esc(p.page.display_title())}</a></li>\n' for p in posts)
        return _page(
            "Feed Site News",
            f'<h1>Feed Site News</h1>\n<p><a href="/rss.xml">RSS</a> '
            f'<a href="/atom.xml">Atom</a></p>\n<ul>\n{items}</ul>',
        )


class _SitemapSite(_Site):
    """Chinese site announcing its articles in sitemaps, with a robots.txt disallowing /private/."""

    name = "sitemapsite"
    language = "zh"

    def __init__(self, web: NewsWeb, picker: _Picker) -> None:
        super().__init__(web)
        self.private: list[_Post] = []

        def gb(encoding: str) -> Callable[[CorpusPage], bool]:
            return lambda p: _chinese(p) and p.encoding == encoding and p.declared_charset is not None

        declared = [picker.take(1, gb(enc), f"{enc} Chinese")[0] for enc in (*_GB_ENCODINGS, "gb2312")]
        undeclared = picker.take(
            2,
            lambda p: _chinese(p) and p.encoding == "gbk" and p.declared_charset is None,
            "GBK Chinese without charset declaration",
        )
        utf8 = picker.take(2, lambda p: _chinese(p) and p.encoding == "utf-8", "UTF-8 Chinese")
        # Prefer the readability-js page (its text is all in Big5); the cwced zh-Hant page is the fallback.
        hant = sorted(
            (p for p in picker.pages if p.language == "zh-Hant"), key=lambda p: (p.source != "readability-js", p.id)
        )
        big5 = next(
            (p for p in hant if (p.source, p.id) not in picker.used and p.problem(allow_base=True) is None), None
        )
        if big5 is None:
            raise RuntimeError("the test corpus has no usable traditional-Chinese page to transcode to Big5")
        picker.used.add((big5.source, big5.id))
        self.publish(big5, new=False, synthetic_big5=True)
        order = [undeclared[0], declared[0], utf8[0], declared[1], undeclared[1], declared[2], utf8[1], declared[3]]
        for page in order:
            self.publish(page, new=False, no_charset=page in undeclared)
        for page in picker.take(2, _chinese, "Chinese"):
            when = self.next_date(new=False)
            path = f"/private/{when:%Y-%m-%d}/content_{self.web.number()}.htm"
            self.site.add(path, _article_reply(page.raw(), page.encoding))
            self.article_paths.add(path)
            self.private.append(_Post(page, path, when, self.expected(page, path, when)))
        self.site.add("/", self.home)
        self.site.add("/sitemap_index.xml", self.sitemap_index)
        self.site.add("/sitemap.xml", self.sitemap)
        self.site.add("/sitemap-news.xml.gz", self.news_sitemap)

    def robots(self) -> str:
        """Disallows /private/ and names the sitemaps."""
        return (
            f"User-agent: *\nDisallow: /private/\n\nSitemap: {self.url('/sitemap_index.xml')}\n"
            f"Sitemap: {self.url('/sitemap-news.xml.gz')}\n"
        )

    def publish(
        self, page: CorpusPage, new: bool, no_charset: bool = False, synthetic_big5: bool = False
    ) -> ExpectedArticle:
        """Serve ``page`` as a new article (without a charset header, or transcoded to Big5, if asked)."""
        when = self.next_date(new)
        path = f"/news/{when:%Y-%m-%d}/content_{self.web.number()}.htm"
        if synthetic_big5:
            reply = _article_reply(
                transcode_to_big5(page.raw(), page.encoding),
                "big5",
                **{"X-Synthetic": f"big5 transcoding of corpus page {page.source}/{page.id}"},
            )
            expected = self.expected(page, path, when, encoding="big5", synthetic=True, fault="synthetic-big5")
        else:
            reply = _article_reply(page.raw(), None if no_charset else page.encoding)
            expected = self.expected(page, path, when, fault="no-charset" if no_charset else None)
        self.serve(path, reply)
        self.insert(_Post(page, path, when, expected), new)
        return expected

    def _split(self) -> tuple[list[_Post], list[_Post]]:
        """(newest articles for the news sitemap, the older ones for the plain sitemap)."""
        with self.web.lock:
            posts = list(self.posts)
        return posts[:NEWS_SITEMAP_SIZE], posts[NEWS_SITEMAP_SIZE:]

    def sitemap_index(self, _: RequestRecord) -> Reply:
        """The sitemap index naming the plain and the gzipped news sitemap."""
        news, plain = self._split()
        lastmod_plain = _w3c(max(p.when for p in plain + self.private))
        return _xml_reply(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"<sitemap><loc>{self.url('/sitemap.xml')}</loc><lastmod>{lastmod_plain}</lastmod></sitemap>\n"
            f"<sitemap><loc>{self.url('/sitemap-news.xml.gz')}</loc>"
            f"<lastmod>{_w3c(max(p.when for p in news))}</lastmod></sitemap>\n</sitemapindex>\n"
        )

    def sitemap(self, _: RequestRecord) -> Reply:
        """The plain sitemap: the older articles and the private ones."""
        _, plain = self._split()
        urls = "".join(
            f"<url><loc>{_esc(self.url(p.path))}</loc><lastmod>{_w3c(p.when)}</lastmod>"
            "<changefreq>never</changefreq></url>\n"
            for p in plain + self.private
        )
        return _xml_reply(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )

    def news_sitemap(self, _: RequestRecord) -> Reply:
        """The gzipped Google News sitemap of the newest articles."""
        news, _ = self._split()
        urls = "".join(
            f"<url><loc>{_esc(self.url(p.path))}</loc><news:news><news:publication>"
            "<news:name>Sitemap Site</news:name><news:language>zh</news:language></news:publication>"
            f"<news:publication_date>{_w3c(p.when)}</news:publication_date>"
            f"<news:title>{_esc(p.page.display_title())}</news:title></news:news></url>\n"
            for p in news
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
            f"{urls}</urlset>\n"
        )
        return Reply(200, gzip.compress(text.encode("utf-8"), mtime=0), {"Content-Type": "application/x-gzip"})

    def home(self, _: RequestRecord) -> Reply:
        """A home page linking the public articles and one private one."""
        with self.web.lock:
            posts = list(self.posts)
        items = "".join(f'<li><a href="{p.path}">{_esc(p.page.display_title())}</a></li>\n' for p in posts)
        private = f'<p><a href="{self.private[0].path}">会员专区</a></p>' if self.private else ""
        return _page("新闻网", f"<h1>新闻网</h1>\n<ul>\n{items}</ul>\n{private}", lang="zh-CN")


class _ListingSite(_Site):
    """A site crawled from its section listing: pagination, URL variants, a calendar trap, a flaky article."""

    name = "listingsite"
    SIZE_EN, SIZE_ZH = 12, 6
    TRAP = "/calendar/"

    def __init__(self, web: NewsWeb, picker: _Picker) -> None:
        super().__init__(web)
        pages = picker.take(self.SIZE_EN, _english, "English article") + picker.take(self.SIZE_ZH, _chinese, "Chinese")
        random.Random(web.seed + 1).shuffle(pages)
        faults = {1: "utm-variant", 2: "spm-variant", 3: "jsessionid-variant", 4: "retry-500", 8: "sid-variant"}
        for index, page in enumerate(pages):
            self.publish(page, new=False, fault=faults.get(index))
        by_fault = {p.expected.fault: p for p in self.posts}
        # The "most read" box, the same on every listing page: (post, link path).
        self.sidebar = [
            (by_fault["utm-variant"], by_fault["utm-variant"].path),
            (by_fault["spm-variant"], by_fault["spm-variant"].link),
            (by_fault["jsessionid-variant"], by_fault["jsessionid-variant"].link),
            (by_fault["sid-variant"], by_fault["sid-variant"].link),
        ]
        self.site.add("/", self.home)
        self.site.add("/news/", self.listing)
        self.site.add(
            "/about/",
            _page(
                "About us – Listing Site",
                self.nav() + "<h1>About us</h1><p>We are a small newsroom covering science and technology.</p>",
            ),
        )
        self.site.add(
            "/contact/",
            _page(
                "Contact – Listing Site",
                self.nav() + "<h1>Contact</h1><p>Write to newsroom at listing site. We read every letter.</p>",
            ),
        )
        self.site.add_prefix(self.TRAP, self.calendar)

    def publish(self, page: CorpusPage, new: bool, fault: str | None = None) -> ExpectedArticle:
        """Serve ``page`` as a new article, with ``fault`` if given."""
        when = self.next_date(new)
        number = self.web.number()
        slug = slugify(page.display_title(), "article")
        path = f"/news/{when:%Y/%m/%d}/{slug}-{number}.html"
        reply: Reply | Callable[[RequestRecord], Reply] = _article_reply(page.raw(), page.encoding)
        link = ""
        if fault == "utm-variant":
            link = path + "?utm_source=homepage&utm_medium=referral&utm_campaign=latest"
        elif fault == "spm-variant":
            link = path + f"?spm=a2c4g.{number}.0.0&utm_source=sidebar"
        elif fault == "jsessionid-variant":
            link = path + f";jsessionid=8F2A9C{number}D41E7B"
            self.site.add(link, reply)
        elif fault == "sid-variant":
            link = path + f"?sid=5f2b{number}c9e1"
        elif fault == "retry-500":
            reply = self._flaky(reply)
        self.serve(path, reply)
        variants = (self.url(link),) if link else ()
        expected = self.expected(page, path, when, fault=fault, variants=variants)
        self.insert(_Post(page, path, when, expected, link), new)
        return expected

    @staticmethod
    def _flaky(reply: Reply) -> Callable[[RequestRecord], Reply]:
        """A handler answering 500 to the first request and ``reply`` to all later ones."""
        lock, calls = threading.Lock(), [0]

        def handler(_: RequestRecord) -> Reply:
            with lock:
                calls[0] += 1
                first = calls[0] == 1
            if first:
                return Reply(
                    500,
                    b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                    {"Content-Type": "text/html; charset=utf-8"},
                )
            return reply

        return handler

    def nav(self) -> str:
        """The navigation bar of our own pages."""
        month = f"{self.web.now:%Y/%m}"
        return (
            f'<nav><a href="/">Home</a> | <a href="/news/">News</a> | <a href="/about/">About us</a> | '
            f'<a href="/contact/">Contact</a> | <a href="{self.TRAP}{month}/">Events calendar</a></nav>\n'
        )

    def home(self, _: RequestRecord) -> Reply:
        """The home page: navigation and the three newest headlines."""
        with self.web.lock:
            posts = self.posts[:3]
        items = "".join(f'<li><a href="{p.path}">{_esc(p.page.display_title())}</a></li>\n' for p in posts)
        return _page("Listing Site", self.nav() + f"<h1>Listing Site</h1>\n<ul>\n{items}</ul>")

    def pages(self) -> int:
        """How many listing pages there are now."""
        with self.web.lock:
            return max(1, -(-len(self.posts) // PER_PAGE))

    @staticmethod
    def page_path(number: int) -> str:
        """Path of listing page ``number`` (page 1 is ``/news/``)."""
        return "/news/" if number == 1 else f"/news/?page={number}"

    def listing(self, record: RequestRecord) -> Reply:
        """Listing page ``?page=N`` (``/news/`` is page 1)."""
        try:
            number = int(parse_qs(urlsplit(record.path).query).get("page", ["1"])[0])
        except ValueError:
            return _NOT_FOUND
        total = self.pages()
        if not 1 <= number <= total:
            return _NOT_FOUND
        with self.web.lock:
            posts = self.posts[(number - 1) * PER_PAGE : number * PER_PAGE]
        items = "".join(
            f'<li><a href="{_esc(p.link if p.expected.fault == "utm-variant" else p.path)}">'
            f"{_esc(p.page.display_title())}</a> "
            f'<time datetime="{_iso(p.when)}">{p.when:%Y-%m-%d %H:%M}</time></li>\n'
            for p in posts
        )
        head, pager = "", []
        if number > 1:
            head += f'<link rel="prev" href="{_esc(self.page_path(number - 1))}">'
            pager.append(f'<a rel="prev" href="{_esc(self.page_path(number - 1))}">« Newer</a>')
        pager.append(f"Page {number} of {total}")
        if number < total:
            head += f'<link rel="next" href="{_esc(self.page_path(number + 1))}">'
            pager.append(f'<a rel="next" href="{_esc(self.page_path(number + 1))}">Older »</a>')
        sidebar = "".join(
            f'<li><a href="{_esc(link)}">{_esc(p.page.display_title())}</a></li>\n' for p, link in self.sidebar
        )
        return _page(
            f"News – page {number} – Listing Site",
            self.nav()
            + f'<main><h1>Latest news</h1>\n<ul class="articles">\n{items}</ul>\n'
            + f'<div class="pagination">{" | ".join(pager)}</div></main>\n'
            + f"<aside><h2>Most read</h2>\n<ul>\n{sidebar}</ul></aside>",
            head=head,
        )

    def calendar(self, record: RequestRecord) -> Reply:
        """The trap: a page for any month, linking the previous and the next month, forever."""
        match = re.fullmatch(r"/calendar/(\d{4})/(\d{2})/?", bare_path(record.path))
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            return _NOT_FOUND
        year, month = int(match.group(1)), int(match.group(2))
        prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        rng = random.Random(year * 100 + month)
        kinds = ["Book club", "Town hall", "Science café", "Open lab day", "Film night", "Coding dojo"]
        events = "".join(
            f"<li>{month:02d}/{rng.randint(1, 28):02d}: {rng.choice(kinds)} #{rng.randint(100, 999)}</li>"
            for _ in range(4)
        )
        return _page(
            f"Events calendar {year}-{month:02d} – Listing Site",
            self.nav()
            + f"<h1>Events in {year}-{month:02d}</h1>\n<ul>{events}</ul>\n"
            + f'<p><a href="{self.TRAP}{prev_year:04d}/{prev_month:02d}/">« previous month</a> | '
            + f'<a href="{self.TRAP}{next_year:04d}/{next_month:02d}/">next month »</a></p>',
        )


class _RepostSite(_Site):
    """A site with two articles of its own and reposts (new URL and template, same text) of two others."""

    name = "repostsite"
    SIZE = 2

    def __init__(self, web: NewsWeb, picker: _Picker, originals: list[ExpectedArticle]) -> None:
        super().__init__(web)
        self.reposts: dict[str, ExpectedArticle] = {}
        for page in picker.take(self.SIZE, _english, "English article"):
            when = self.next_date(new=False)
            path = f"/story/{when:%Y%m%d}/{self.web.number()}.html"
            self.serve(path, _article_reply(page.raw(), page.encoding))
            self.insert(_Post(page, path, when, self.expected(page, path, when)), new=False)
        self.repost_posts: list[_Post] = []
        for original in originals:
            when = self.next_date(new=False)
            path = f"/story/{when:%Y%m%d}/{self.web.number()}.html"
            title = original.title or original.body.strip().splitlines()[0][:40]
            paragraphs = "".join(
                f"<p>{_esc(line.strip())}</p>\n" for line in original.body.splitlines() if line.strip()
            )
            lang = "zh-CN" if original.language.startswith("zh") else original.language
            self.serve(
                path,
                _page(
                    f"{title} | The Daily Repost",
                    (
                        '<header><a href="/">The Daily Repost</a> <nav><a href="/">Home</a> <a href="/feed.xml">RSS</a>'
                        f"</nav></header>\n<article><h1>{_esc(title)}</h1>\n"
                        f'<p class="byline">Republished from <a href="{_esc(original.url)}">{_esc(original.site)}</a></p>\n'
                        f"{paragraphs}</article>\n<footer>© The Daily Repost. Republished with permission.</footer>"
                    ),
                    lang=lang,
                ),
            )
            self.reposts[self.url(path)] = original
            self.repost_posts.append(
                _Post(
                    original_page(web, original),
                    path,
                    when,
                    ExpectedArticle(
                        site=self.name,
                        url=self.url(path),
                        corpus_source=original.corpus_source,
                        corpus_id=original.corpus_id,
                        title=original.title,
                        body=original.body,
                        language=original.language,
                        encoding="utf-8",
                        published=_iso(when),
                        original_url=original.url,
                        fault="repost",
                    ),
                )
            )
        self.site.add("/", self.home)
        self.site.add("/feed.xml", self.feed)

    def all_posts(self) -> list[_Post]:
        """Own articles and reposts, newest first."""
        return sorted(self.posts + self.repost_posts, key=lambda p: p.when, reverse=True)

    def home(self, _: RequestRecord) -> Reply:
        """The home page linking every story."""
        items = "".join(f'<li><a href="{p.path}">{_esc(p.page.display_title())}</a></li>\n' for p in self.all_posts())
        return _page("The Daily Repost", f"<h1>The Daily Repost</h1>\n<ul>\n{items}</ul>")

    def feed(self, _: RequestRecord) -> Reply:
        """An RSS feed of every story."""
        entries = "".join(
            f"<item><title>{_esc(p.page.display_title())}</title><link>{_esc(self.url(p.path))}</link>"
            f"<pubDate>{format_datetime(p.when, usegmt=True)}</pubDate></item>\n"
            for p in self.all_posts()
        )
        return Reply(
            200,
            (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>The Daily Repost</title><link>{self.url('/')}</link>"
                f"<description>Stories</description>\n{entries}</channel></rss>\n"
            ).encode(),
            {"Content-Type": "application/rss+xml; charset=utf-8"},
        )


def original_page(web: NewsWeb, article: ExpectedArticle) -> CorpusPage:
    """The corpus page behind ``article``."""
    return next(
        p for p in load_corpus(web.corpus_dir) if p.source == article.corpus_source and p.id == article.corpus_id
    )


# -- the web -----------------------------------------------------------------------------------
class LoopbackWeb:
    """A web of :class:`~crawler.app.webserver.LocalSite` servers, started and stopped together (and in a
    ``with`` block); a subclass names its servers in :meth:`servers`."""

    def servers(self) -> Iterable[LocalSite]:
        """The servers of the web."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start serving every site; returns the web."""
        for server in self.servers():
            server.start()
        return self

    def stop(self) -> None:
        """Stop every site and release its port (all at once: each stop waits up to half a second)."""
        stoppers = [threading.Thread(target=server.stop) for server in self.servers()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class NewsWeb(LoopbackWeb):
    """Four loopback news sites built from the test corpus; see the module docstring for what each holds.

    Build it with :meth:`build`, then :meth:`start` it (or use it as a context manager). It
    cannot be restarted after :meth:`stop` (its ports would change).
    """

    def __init__(self, corpus_dir: Path, seed: int, now: datetime) -> None:
        """Use :meth:`build`."""
        self.corpus_dir = corpus_dir
        self.seed = seed
        self.now = now
        self.lock = threading.RLock()
        self._numbers = random.Random(seed).randint(10_000, 89_999)
        self._picker = _Picker(load_corpus(corpus_dir), seed)
        self._sites: list[_Site] = []
        try:
            self.feed = _FeedSite(self, self._picker)
            self.sitemap = _SitemapSite(self, self._picker)
            self.listing = _ListingSite(self, self._picker)
            originals = [
                next(p.expected for p in self.feed.posts if p.expected.fault is None),
                next(p.expected for p in self.sitemap.posts if p.expected.fault is None),
            ]
            self.repost = _RepostSite(self, self._picker, originals)
        except BaseException:
            self.stop()
            raise
        self.sites: dict[str, LocalSite] = {s.name: s.site for s in self._sites}
        self.trap_prefixes: dict[str, str] = {self.listing.name: _ListingSite.TRAP}
        self.disallowed_urls: list[str] = [p.expected.url for p in self.sitemap.private]
        self.reposts: dict[str, ExpectedArticle] = dict(self.repost.reposts)
        """Repost URL -> the original article it copies (the reposts are not in :attr:`articles`)."""

    def number(self) -> int:
        """A fresh number for an article URL."""
        with self.lock:
            self._numbers += 1
            return self._numbers

    @classmethod
    def build(cls, corpus_dir: Path | str, seed: int = 0, now: datetime | None = None) -> NewsWeb:
        """Build the web from the corpus at ``corpus_dir``: pages chosen by ``seed``, dated before ``now``.

        ``now`` defaults to the current UTC time rounded down to the hour. The sites' sockets
        are bound (so every URL is known) but nothing is served until :meth:`start`.
        """
        if now is None:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return cls(Path(corpus_dir).resolve(), seed, now)

    # -- what the tests check against ----------------------------------------------------------
    @property
    def articles(self) -> list[ExpectedArticle]:
        """Every article a correct crawl should store (reposts, 404, PDF, private and trap pages excluded)."""
        with self.lock:
            return [p.expected for site in self._sites for p in site.posts]

    def sources_toml(self, max_pages: int | None = None, every: str | None = None) -> str:
        """The text of a sources file with one source per site (each polled ``every``, if given)."""

        def strings(urls: list[str]) -> str:
            return "[" + ", ".join(json.dumps(u) for u in urls) + "]"

        entries = [
            (
                self.feed,
                {
                    "feeds": [self.feed.url("/rss.xml"), self.feed.url("/atom.xml")],
                    "start_urls": [self.feed.url("/")],
                    "max_depth": 1,
                },
            ),
            (self.sitemap, {"sitemaps": [self.sitemap.url("/robots.txt")]}),
            (self.listing, {"start_urls": [self.listing.url("/news/")], "max_depth": 5}),
            (
                self.repost,
                {"feeds": [self.repost.url("/feed.xml")], "start_urls": [self.repost.url("/")], "max_depth": 1},
            ),
        ]
        blocks = []
        for site, keys in entries:
            lines = ["[[source]]", f"name = {json.dumps(site.name)}"]
            if site.language:
                lines.append(f"language = {json.dumps(site.language)}")
            for key in ("feeds", "sitemaps", "start_urls"):
                if key in keys:
                    lines.append(f"{key} = {strings(keys[key])}")  # type: ignore[arg-type]
            if "max_depth" in keys:
                lines.append(f"max_depth = {keys['max_depth']}")
            if max_pages is not None:
                lines.append(f"max_pages = {int(max_pages)}")
            if every is not None:
                lines.append(f"every = {json.dumps(every)}")
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)

    def add_articles(self, n: int = 2) -> list[ExpectedArticle]:
        """Publish ``n`` new, so far unused corpus articles on each of feedsite, sitemapsite and listingsite.

        They are dated now and appear at the top of the feeds, of the news sitemap and of
        listing page 1 (older listing entries move on to later pages). Returns the ``3 * n`` new
        articles, which are also in :attr:`articles` from now on.
        """
        new: list[ExpectedArticle] = []
        for page in self._picker.take(n, _english, "English article"):
            new.append(self.feed.publish(page, new=True))
        for page in self._picker.take(n, _chinese, "Chinese"):
            new.append(self.sitemap.publish(page, new=True))
        for page in self._picker.take(n, _english, "English article"):
            new.append(self.listing.publish(page, new=True))
        return new

    # -- what the sites saw --------------------------------------------------------------------
    def requests(self) -> list[tuple[str, RequestRecord]]:
        """``(site name, record)`` of every request so far, on all sites, in time order."""
        records = [(name, record) for name, site in self.sites.items() for record in list(site.log)]
        return sorted(records, key=lambda item: item[1].time)

    def article_requests(self) -> list[str]:
        """Absolute URLs (as requested, query included) of the requests that hit an article page.

        Article pages are those of :attr:`articles`, the private pages and the reposts; the
        first, failing request of the flaky article counts too. Redirect hops do not.
        """
        paths = {s.name: set(s.article_paths) for s in self._sites}
        return [
            self.sites[name].url(record.path)
            for name, record in self.requests()
            if bare_path(record.path) in paths[name]
        ]

    def slow_articles(self, seconds: float, hold_after: int | None = None) -> None:
        """Answer every article page ``seconds`` later than usual (0 for the usual speed).

        With ``hold_after``, only the first ``hold_after`` article requests from now on get that
        delay; every later one is held for :data:`HOLD_DELAY`, so a crawl is certain to be still
        running (and not yet finished) when a test interrupts it.
        """
        answered = 0
        lock = threading.Lock()

        def delay(record: RequestRecord, paths: set[str]) -> float:
            nonlocal answered
            if bare_path(record.path) not in paths:
                return 0.0
            with lock:
                answered += 1
                held = hold_after is not None and answered > hold_after
            return HOLD_DELAY if held else seconds

        for site in self._sites:
            paths = site.article_paths  # the live set: articles published later are slow too
            site.site.extra_delay = lambda record, paths=paths: delay(record, paths)  # type: ignore[misc]

    def servers(self) -> Iterable[LocalSite]:
        """The servers of its sites."""
        return self.sites.values()
