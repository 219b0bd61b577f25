"""A local test web of real site templates: many articles wrapped in one real page of the test corpus per site.

Issue 11 found the product breaking on real templates it never saw: article pages fetched again on
sites whose article URLs are slug-only, template text (related stories, promo boxes, footers) leaking
into the extracted text, unrelated stories merged through shared template text. :class:`TemplateWeb`
is the web those fixes are measured on.

Each of its eight sites is a :class:`~crawler.app.webserver.LocalSite` on its own loopback address
(127.0.3.1-8) that wraps ALL its articles in ONE real page of ``../shared/corpus`` (a
:class:`PageTemplate`): the page's own ground-truth body is located in the parsed page and replaced by
the paragraphs of a labelled text of ``../shared/corpus/relevance``; title, dates and canonical link
are replaced too, everything else of the page (navigation, related links, promo and share blocks,
footer) is kept. Every generated page is checked (the new body present, the old one gone); a template
that fails the check is skipped for the next one.

The sites differ in what a crawler meets: the article URL shape (``/article/<slug>``,
``/news/<slug>.html``, ``/2025/03/02/<slug>/``, ``?p=123``, ``/p/<slug>``, ``/a/<id>/``,
``content_12345.htm``, ``/story/<slug>``), how articles are announced (a home page and two section
pages with slug-like URLs for all; RSS feeds, sitemaps named in robots.txt for some), the charset
(one Chinese site serves GB18030). About twelve stories are reposted on two or three sites with
different templates, as genuine copies are (a credit line added, another headline, the last
paragraph dropped). About a fifth of the articles are held back and published by
:meth:`TemplateWeb.publish_more`, newest first everywhere, so that a test can crawl, publish, crawl again.

Templates and texts are chosen by ``seed`` alone, by rule (language, size of the boilerplate),
never by file name; dates are relative to ``now``. The corpus is read where it lies; nothing of
it is copied.
"""

from __future__ import annotations

import copy
import html
import json
import random
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lxml.html
from lxml import etree

from crawler.app.webserver import LocalSite, Reply, RequestRecord, html_reply
from tests.localweb import CorpusPage, LoopbackWeb, bare_path, load_corpus, slugify

#: Loopback addresses of the sites, in the order of :data:`SITE_PLANS` (other test webs use 127.0.0.x).
SITE_HOSTS: tuple[str, ...] = tuple(f"127.0.3.{number}" for number in range(1, 9))
#: Corpus sources whose pages have a complete ground-truth body (the others cannot be used as templates).
TEMPLATE_SOURCES = ("zyte-aeb", "fundus", "readability-js", "cwced")
#: A template is *heavy* when the visible text around its body (navigation, related links, promo,
#: footer) is at least this long, in characters without white space, by language group.
HEAVY_BOILERPLATE_CHARS = {"en": 3000, "zh": 1200}
#: ... and the text of its links at least this long (long related-story and link blocks).
HEAVY_LINK_CHARS = {"en": 1000, "zh": 500}
#: Share of each site's articles held back at build, for :meth:`TemplateWeb.publish_more`.
HELD_BACK_SHARE = 0.2
#: How many stories are reposted (on two or three sites), per language group.
REPOSTED_STORIES = {"en": 6, "zh": 6}
#: Articles on a home page, and per page of the paginated section.
HOME_SIZE = 8
SECTION_PAGE_SIZE = 4
#: Time between the publication dates of consecutive articles of one site.
DATE_STEP = timedelta(hours=2)
#: A truth line at least this long (characters without white space) must be found and replaced.
LONG_LINE = {"en": 25, "zh": 12}
#: A body paragraph longer than this (characters) is split into groups of sentences.
LONG_PARAGRAPH = {"en": 450, "zh": 220}
#: Scrapy settings that keep a test crawl of this web quick (the product's own politeness is slower).
FAST_SETTINGS: tuple[str, ...] = (
    "-s",
    "DOWNLOAD_DELAY=0.05",
    "-s",
    "AUTOTHROTTLE_START_DELAY=0.05",
    "-s",
    "AI4S_RETRY_BACKOFF_BASE=0.2",
)

#: Elements whose text a reader never sees.
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title", "meta", "link", "iframe", "svg"})
#: Elements that may hold paragraphs: the place for the new body when the old one sat directly in one.
#: Elements that may show the page's title outside its body (headline, breadcrumb, link to itself).
_TITLE_TAGS = frozenset({"h1", "h2", "h3", "a", "span", "li", "div", "strong", "b"})
_BLOCKS = frozenset(
    {"p", "div", "td", "th", "li", "section", "article", "main", "blockquote", "pre", "dd", "figure", "center", "body"}
)
_PUBLISHED_META = frozenset(
    {
        "article:published_time",
        "article:modified_time",
        "og:updated_time",
        "og:published_time",
        "datepublished",
        "datemodified",
        "pubdate",
        "publishdate",
        "publish-date",
        "date",
        "dc.date",
        "dc.date.issued",
        "dcterms.created",
        "dcterms.modified",
        "sailthru.date",
        "parsely-pub-date",
        "last-modified",
        "published_time",
        "modified_time",
    }
)
_JSONLD_DATES = ("datePublished", "dateModified", "dateCreated", "uploadDate")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*(?=\S)")
_CJK = re.compile(r"[\u3400-\u9fff]")


class TemplateError(ValueError):
    """A corpus page that cannot serve as a template, or a generated page that failed its check."""


# -- text helpers ------------------------------------------------------------------------------
def squash(text: str) -> str:
    """``text`` NFKC-normalised without any white space: how page text and truth lines are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _visible_texts(root: etree._Element) -> dict[etree._Element, str]:
    """The visible text of every element under ``root`` (scripts, styles and comments left out)."""
    texts: dict[etree._Element, str] = {}

    def walk(element: etree._Element) -> str:
        parts = [element.text or ""]
        for child in element:
            if isinstance(child.tag, str) and child.tag.lower() not in _INVISIBLE:
                parts.append(walk(child))
            parts.append(child.tail or "")
        text = "".join(parts)
        texts[element] = text
        return text

    walk(root)
    return texts


def visible_text(root: etree._Element) -> str:
    """The text a reader sees in ``root`` (scripts, styles, comments and the head left out)."""
    return _visible_texts(root)[root]


def page_visible_text(page: bytes | str, encoding: str = "utf-8") -> str:
    """The visible text of the body of an HTML page (scripts, styles and comments left out)."""
    text = page.decode(encoding, "replace") if isinstance(page, bytes) else page
    tree = _parse(text)
    etree.strip_elements(tree, *_INVISIBLE, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    body = tree.find("body")
    return (body if body is not None else tree).text_content()


def language_group(language: str) -> str:
    """``zh`` for Chinese in either script, ``en`` for English (the two groups a template can serve)."""
    return "zh" if language.startswith("zh") else language


def split_paragraphs(body: str, language: str) -> list[str]:
    """The paragraphs of a text (one per non-empty line), a long paragraph split into groups of sentences."""
    limit = LONG_PARAGRAPH[language_group(language)]
    paragraphs: list[str] = []
    for line in (line.strip() for line in body.splitlines()):
        if not line:
            continue
        if len(line) <= limit:
            paragraphs.append(line)
            continue
        group = ""
        for sentence in _SENTENCE_END.split(line):
            if group and len(group) + len(sentence) > limit * 0.6:
                paragraphs.append(group.strip())
                group = ""
            group += sentence if _CJK.search(sentence[:1] or " ") else (" " if group else "") + sentence
        if group.strip():
            paragraphs.append(group.strip())
    return paragraphs


def _parse(text: str) -> etree._Element:
    """The page ``text`` parsed by lxml (an XML declaration dropped: lxml refuses one in a str)."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"))
    return lxml.html.document_fromstring(text)


# -- the labelled texts ------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelledText:
    """One text of ``relevance/``: what the sites publish."""

    id: str
    language: str
    label: str
    kind: str
    title: str
    body: str


def load_labelled_texts(corpus_root: Path) -> tuple[LabelledText, ...]:
    """Every labelled text of ``relevance/`` under ``corpus_root``, in id order."""
    texts = []
    for path in sorted((corpus_root / "relevance").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        texts.append(
            LabelledText(data["id"], data["lang"], data["label"], data.get("kind") or "", data["title"], data["body"])
        )
    return tuple(texts)


def headline(title: str, body: str) -> str:
    """A headline of a sensible length: the text's title, cut at a word boundary if it is a whole sentence."""
    title = " ".join((title or body.strip().splitlines()[0]).split())
    limit = 40 if _CJK.search(title) else 110
    if len(title) <= limit:
        return title
    cut = title[:limit]
    if not _CJK.search(title) and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:，。；：、 ") + "…"


# -- templates ---------------------------------------------------------------------------------
class PageTemplate:
    """One real page of the corpus, ready to wrap other texts: where its body is, what its title was.

    Raises :class:`TemplateError` if the page's own body cannot be located well enough to be
    replaced (most truth lines not found, or found only inside elements that hold much else).
    """

    def __init__(self, page: CorpusPage) -> None:
        self.page = page
        self.id = f"{page.source}/{page.id}"
        self.group = language_group(page.language)
        self.base_url = page.original_url or f"https://{slugify(page.source + ' ' + page.id)}.template.invalid/"
        text = page.raw().decode(page.encoding, "replace")
        # cwced pages come inside the dataset's ``<text id=URL title=...>`` wrapper, no part of the real page.
        text = re.sub(r"</text>\s*$", "", re.sub(r"^\s*<text\s[^>]*>", "", text))
        tree = _parse(text)
        for base in tree.iter("base"):
            base.drop_tree()
        tree.make_links_absolute(self.base_url, resolve_base_href=False, handle_failures="discard")
        body = tree.find("body")
        if body is None:
            raise TemplateError(f"{self.id}: no <body>")
        self.tree = tree
        truth = [squash(line) for line in page.body.splitlines()]
        self.long_lines = [line for line in truth if len(line) >= LONG_LINE[self.group]]
        short_lines = {line for line in truth if 0 < len(line) < LONG_LINE[self.group]}
        if len(self.long_lines) < 2:
            raise TemplateError(f"{self.id}: fewer than two long lines of ground truth")
        texts = {element: squash(text) for element, text in _visible_texts(body).items()}
        chosen = self._locate(texts)
        container = _common_ancestor(chosen)
        # Short truth lines (subheads, bylines of the body) are removed only where the body is.
        for element in container.iter():
            if element in texts and texts[element] in short_lines and not _inside_any(element, chosen):
                chosen.append(element)
        order = _document_order(tree)
        chosen = sorted(_outermost(chosen), key=order.__getitem__)
        # Elements are found again in a copy of the tree by their position in document order.
        self.anchor_position = order[_block_of(chosen[0])]
        self.removed_positions = [order[element] for element in chosen[1:]]
        self.old_titles = _old_titles(tree, page)
        shown, has_h1 = _title_elements(body, texts, self.old_titles, chosen)
        self.title_positions = [order[element] for element in shown]
        self.needs_h1 = not has_h1  # no headline element: one is put before the body
        visible = squash(visible_text(body))
        body_chars = sum(len(texts[element]) for element in chosen)
        self.boilerplate_chars = max(0, len(visible) - body_chars)
        self.link_chars = sum(len(squash(visible_text(a))) for a in body.iter("a") if not _inside_any(a, chosen))
        self.heavy = (
            self.boilerplate_chars >= HEAVY_BOILERPLATE_CHARS[self.group]
            and self.link_chars >= HEAVY_LINK_CHARS[self.group]
        )

    def _locate(self, texts: dict[etree._Element, str]) -> list[etree._Element]:
        """The innermost elements holding the long truth lines (all occurrences), checked to hold little else."""
        chosen: list[etree._Element] = []
        found = 0
        for line in self.long_lines:
            holders = {element for element, text in texts.items() if line in text}
            if not holders:
                continue
            innermost = [e for e in holders if not any(child in holders for child in e)]
            if any(len(texts[e]) > 3 * len(line) + 400 for e in innermost):
                continue  # the line sits in a big mixed block: leave it, the check will refuse the page
            found += 1
            chosen.extend(e for e in innermost if e not in chosen)
        if found < 0.8 * len(self.long_lines):
            raise TemplateError(f"{self.id}: only {found} of {len(self.long_lines)} truth lines located")
        return chosen

    def render(self, title: str, paragraphs: list[str], published: datetime, url: str, charset: str = "utf-8") -> str:
        """The template with ``paragraphs`` as its body, ``title``, ``published`` and ``url`` as its own.

        Checked: raises :class:`TemplateError` if the new body or title is not on the page or the
        old body still is.
        """
        tree = copy.deepcopy(self.tree)
        elements = list(tree.iter())
        anchor = elements[self.anchor_position]
        removed = [elements[position] for position in self.removed_positions]
        shown = [elements[position] for position in self.title_positions]
        new = [_element("p", text) for text in paragraphs]
        if anchor.tag in ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"):
            parent = anchor.getparent()
            at = parent.index(anchor)
            for offset, element in enumerate(new):
                parent.insert(at + offset, element)
            new[-1].tail = anchor.tail
            anchor.tail = None
            parent.remove(anchor)
        else:
            tail = anchor.tail
            anchor.clear()
            anchor.tail = tail
            anchor.extend(new)
        for element in removed:
            if element.getparent() is not None:
                element.drop_tree()
        iso = published.astimezone(UTC).isoformat(timespec="seconds")
        if self.needs_h1:
            new[0].addprevious(_element("h1", title))
        _replace_titles(tree, self.old_titles, title, shown)
        _replace_dates(tree, iso, published, self.group)
        _replace_canonical(tree, url)
        _replace_jsonld(tree, self.old_titles, title, "\n".join(paragraphs), iso, url)
        _replace_descriptions(tree, paragraphs[0])
        _set_charset(tree, charset)
        doctype = self.tree.getroottree().docinfo.doctype or "<!DOCTYPE html>"
        text = doctype + "\n" + lxml.html.tostring(tree, encoding="unicode")
        self.check(text, title, paragraphs)
        return text

    def check(self, page: str, title: str, paragraphs: list[str]) -> None:
        """Raise :class:`TemplateError` unless ``page`` shows ``title`` and every paragraph, and no old truth line."""
        visible = squash(page_visible_text(page))
        missing = [p for p in paragraphs if squash(html.unescape(p)) not in visible]
        if missing:
            raise TemplateError(f"{self.id}: {len(missing)} of {len(paragraphs)} new paragraphs not on the page")
        if squash(title) not in visible:
            raise TemplateError(f"{self.id}: the new title is not on the page")
        left = [line for line in self.long_lines if line in visible]
        if left:
            raise TemplateError(f"{self.id}: {len(left)} lines of the old body are still on the page: {left[0][:40]!r}")


def _element(tag: str, text: str) -> etree._Element:
    element = lxml.html.Element(tag)
    element.text = text
    return element


def _inside_any(element: etree._Element, others: Iterable[etree._Element]) -> bool:
    """Whether ``element`` is one of ``others`` or inside one of them."""
    ancestors = {element, *element.iterancestors()}
    return any(other in ancestors for other in others)


def _outermost(elements: list[etree._Element]) -> list[etree._Element]:
    """``elements`` without those inside another of them, without repeats."""
    unique = list(dict.fromkeys(elements))
    return [e for e in unique if not any(a in unique for a in e.iterancestors())]


def _common_ancestor(elements: list[etree._Element]) -> etree._Element:
    """The innermost element that holds all of ``elements``."""
    chains = [[e, *e.iterancestors()] for e in elements]
    common = set(chains[0])
    for chain in chains[1:]:
        common &= set(chain)
    return next(e for e in chains[0] if e in common)


def _document_order(tree: etree._Element) -> dict[etree._Element, int]:
    """Position of every element of ``tree`` in document order (a key for sorting)."""
    return {element: position for position, element in enumerate(tree.iter())}


def _block_of(element: etree._Element) -> etree._Element:
    """``element`` if it may hold paragraphs (or is one), else its nearest ancestor that may."""
    while element.tag not in _BLOCKS and element.tag not in ("h2", "h3", "h4", "h5", "h6"):
        parent = element.getparent()
        if parent is None:
            break
        element = parent
    return element


def _old_titles(tree: etree._Element, page: CorpusPage) -> list[str]:
    """The titles the template page gives itself (corpus title, ``og:title``, ``<h1>``), longest first."""
    titles = {page.title or ""}
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in ("og:title", "twitter:title"):
            titles.add(meta.get("content") or "")
    for h1 in tree.iter("h1"):
        titles.add(" ".join(visible_text(h1).split()))
    for data in _jsonld_objects(tree):
        if isinstance(data.get("headline"), str):
            titles.add(data["headline"])
    return sorted({" ".join(t.split()) for t in titles if len(squash(t)) >= 6}, key=len, reverse=True)


def _title_elements(
    body: etree._Element, texts: dict[etree._Element, str], old_titles: list[str], body_elements: list[etree._Element]
) -> tuple[list[etree._Element], bool]:
    """The elements showing the template's old title (outside its body), and whether one of them is an ``<h1>``.

    When none is, the ``<h1>`` next to the body is taken, if there is one.
    """
    old = {squash(t) for t in old_titles}
    found = [
        element
        for element in body.iter()
        if element.tag in _TITLE_TAGS and texts.get(element) in old and not _inside_any(element, body_elements)
    ]
    found = _outermost(found)
    if any(element.tag == "h1" for element in found):
        return found, True
    near = [h for h in body.iter("h1") if _inside_any(body_elements[0], [h.getparent()])]
    return found + near[:1], bool(near)


def _replace_titles(tree: etree._Element, old_titles: list[str], title: str, shown: list[etree._Element]) -> None:
    """Put ``title`` in ``<title>`` (keeping a site suffix), the meta titles and the ``shown`` title elements."""
    head_title = tree.find(".//title")
    if head_title is not None:
        current = head_title.text or ""
        for candidate in old_titles:
            pattern = r"\s*".join(re.escape(word) for word in candidate.split())
            if re.search(pattern, current):
                head_title.text = re.sub(pattern, lambda _: title, current, count=1)
                break
        else:
            head_title.text = title
    for element in shown:
        for child in list(element):
            child.drop_tree()
        element.text = title
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in ("og:title", "twitter:title", "title"):
            meta.set("content", title)


def _replace_dates(tree: etree._Element, iso: str, published: datetime, group: str) -> None:
    """Date the page ``published``: meta dates, ``<time>`` elements; a page without a date meta gets one, as
    nearly every real article page has (``article:published_time``)."""
    dated = False
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _PUBLISHED_META:
            meta.set("content", iso)
            dated = True
    head = tree.find("head")
    if not dated and head is not None:
        meta = lxml.html.Element("meta")
        meta.set("property", "article:published_time")
        meta.set("content", iso)
        head.append(meta)
    shown = f"{published:%Y年%m月%d日 %H:%M}" if group == "zh" else f"{published:%B %d, %Y %H:%M} UTC"
    for time in tree.iter("time"):
        time.set("datetime", iso)
        if re.search(r"\d", visible_text(time)):
            for child in list(time):
                child.drop_tree()
            time.text = shown


def _replace_canonical(tree: etree._Element, url: str) -> None:
    """Point ``rel=canonical`` and ``og:url`` at ``url``."""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            link.set("href", url)
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in ("og:url", "twitter:url"):
            meta.set("content", url)


def _replace_descriptions(tree: etree._Element, lead: str) -> None:
    """The page's description metas summarise the new text."""
    summary = lead[:200]
    for meta in tree.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in (
            "description",
            "og:description",
            "twitter:description",
        ):
            meta.set("content", summary)


def _jsonld_scripts(tree: etree._Element) -> Iterator[tuple[etree._Element, object]]:
    """Each JSON-LD script of the page with its parsed data (scripts that do not parse are skipped)."""
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            try:
                yield script, json.loads(script.text)
            except ValueError:
                continue


def _jsonld_objects(tree: etree._Element) -> Iterator[dict]:
    """Every JSON object inside the page's JSON-LD."""
    for _, data in _jsonld_scripts(tree):
        yield from _walk_json(data)


def _walk_json(data: object) -> Iterator[dict]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk_json(value)
    elif isinstance(data, list):
        for value in data:
            yield from _walk_json(value)


def _replace_jsonld(tree: etree._Element, old_titles: list[str], title: str, body: str, iso: str, url: str) -> None:
    """The JSON-LD of the page describes the new article: headline, body, dates, URL."""
    old = {squash(t) for t in old_titles}
    for script, data in _jsonld_scripts(tree):
        for obj in _walk_json(data):
            if "headline" in obj or (isinstance(obj.get("name"), str) and squash(obj["name"]) in old):
                obj["headline" if "headline" in obj else "name"] = title
            if "articleBody" in obj:
                obj["articleBody"] = body
            if isinstance(obj.get("description"), str) and "headline" in obj:
                obj["description"] = body[:200]
            for key in _JSONLD_DATES:
                if key in obj:
                    obj[key] = iso
            if "headline" in obj or "articleBody" in obj or "datePublished" in obj:
                if "url" in obj:
                    obj["url"] = url
                if isinstance(obj.get("mainEntityOfPage"), dict):
                    obj["mainEntityOfPage"]["@id"] = url
                elif "mainEntityOfPage" in obj:
                    obj["mainEntityOfPage"] = url
        script.text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _set_charset(tree: etree._Element, charset: str) -> None:
    """One ``<meta charset>`` naming ``charset``, first in the head; other declarations removed."""
    for meta in list(tree.iter("meta")):
        if meta.get("charset") is not None or (meta.get("http-equiv") or "").lower() == "content-type":
            meta.drop_tree()
    head = tree.find("head")
    if head is None:
        head = lxml.html.Element("head")
        tree.insert(0, head)
    declaration = lxml.html.Element("meta")
    declaration.set("charset", charset)
    head.insert(0, declaration)


@lru_cache(maxsize=256)
def load_template(page: CorpusPage) -> PageTemplate:
    """The :class:`PageTemplate` of ``page`` (parsed once per process); raises :class:`TemplateError`."""
    return PageTemplate(page)


# -- the sites ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SitePlan:
    """What one site is made of, before a template and texts are chosen for it."""

    name: str
    group: str
    """``en`` or ``zh``: the language of its template and of its texts."""
    shape: str
    """The article-URL shape, one of :data:`SHAPES`."""
    sections: tuple[str, str]
    """Paths of its two section pages (the first paginated, ``<path>/page/N``)."""
    feed: str | None = None
    """Path of its RSS feed, if it has one."""
    sitemap: bool = False
    """Whether it has a sitemap (named in robots.txt)."""
    heavy: bool = False
    """Whether its template must be heavy (long related-link, promo and footer blocks)."""
    charset: str = "utf-8"


#: Article-URL shapes: the pattern of a path, from the article's number, date and slug.
SHAPES: dict[str, str] = {
    "article-slug": "/article/{slug}",
    "news-slug-html": "/news/{slug}.html",
    "dated-slug": "/{date:%Y/%m/%d}/{slug}/",
    "query-p": "/?p={number}",
    "p-slug": "/p/{slug}",
    "a-id": "/a/{number}/",
    "content-htm": "/tech/{date:%Y-%m/%d}/content_{number}.htm",
    "story-slug": "/story/{slug}",
}
#: Shapes whose URL says nothing but a slug (no date, no number, no extension): the hard case.
SLUG_ONLY_SHAPES = frozenset({"article-slug", "p-slug", "story-slug"})

SITE_PLANS: tuple[SitePlan, ...] = (
    SitePlan("wire", "en", "article-slug", ("/topics/ai-science", "/section/technology"), heavy=True),
    SitePlan("herald", "en", "news-slug-html", ("/topics/science", "/section/world"), feed="/rss.xml", heavy=True),
    SitePlan("ledger", "en", "dated-slug", ("/topics/research", "/section/business"), sitemap=True),
    SitePlan("blogwire", "en", "query-p", ("/category/ai", "/category/tech"), feed="/feed/"),
    SitePlan("keji", "zh", "p-slug", ("/topics/ai-science", "/channel/keji")),
    SitePlan("xinwen", "zh", "a-id", ("/channel/kexue", "/channel/caijing"), sitemap=True, heavy=True),
    SitePlan("ribao", "zh", "content-htm", ("/channel/tech", "/channel/news"), feed="/rss.xml", charset="gb18030"),
    SitePlan("zhoukan", "zh", "story-slug", ("/topics/frontier", "/section/society"), feed="/feed.xml", sitemap=True),
)


@dataclass(frozen=True)
class TemplateSite:
    """One site of the web, as tests and benchmarks see it."""

    name: str
    host: str
    base_url: str
    template: str
    """The corpus page its articles are wrapped in: ``source/id``."""
    shape: str
    language: str
    """``en`` or ``zh``."""
    charset: str
    heavy: bool
    home: str
    sections: tuple[str, ...]
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    """Absolute URLs: home page, section pages, RSS feeds, and robots.txt when it names a sitemap."""


@dataclass(frozen=True)
class TemplateArticle:
    """An article the web serves, with the ground truth a crawl of it should reproduce."""

    url: str
    site: str
    template: str
    shape: str
    title: str
    body: str
    """Exactly the inserted text: the page's paragraphs joined by newlines."""
    published: datetime | None
    """``None`` while the article is held back (see :meth:`TemplateWeb.publish_more`)."""
    language: str
    """Of the labelled text: ``en``, ``zh-Hans`` or ``zh-Hant``."""
    label: str
    """``relevant`` or ``negative``."""
    story: str
    """The labelled text's id: copies of one story share it."""
    variant: str
    """``original``, or how a repost differs: ``same``, ``credit``, ``headline``, ``drop-last``."""

    @property
    def path(self) -> str:
        """Path (with query) of the article on its site."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


#: Credit lines a repost adds, by language group.
CREDITS = {
    "en": ("Source: Xinhua", "Source: Reuters", "This story was first published by AFP."),
    "zh": ("来源：新华网", "来源：人民网", "本文转载自中国科技网"),
}
#: How a repost headline differs from the original's.
HEADLINE_PREFIXES = {"en": ("Report: ", "Explainer: ", "Update: "), "zh": ("【关注】", "快讯：", "【科技】")}
REPOST_VARIANTS = ("credit", "headline", "drop-last", "same")


@dataclass
class _Post:
    """An article as its site holds it."""

    article: TemplateArticle
    paragraphs: list[str]
    section: int
    number: int
    reply: Reply | None = None


class _Outlet:
    """One site: its LocalSite, its template, its posts (published, newest first, and held back)."""

    def __init__(self, web: TemplateWeb, plan: SitePlan, host: str) -> None:
        self.web = web
        self.plan = plan
        self.template: PageTemplate = None  # type: ignore[assignment]  # chosen by TemplateWeb._furnish
        self.site = LocalSite(plan.name, host)
        self.published: list[_Post] = []  # newest first
        self.held: list[_Post] = []
        self.article_paths: set[str] = set()
        self.site.add("/robots.txt", Reply(200, self.robots().encode(), {"Content-Type": "text/plain; charset=utf-8"}))
        self.site.add("/", self.home)
        for index, section in enumerate(plan.sections):
            self.site.add(section, lambda record, index=index: self.section(record, index))
        self.site.add_prefix(plan.sections[0] + "/page/", lambda record: self.section(record, 0))
        if plan.feed:
            self.site.add(plan.feed, self.feed)
        if plan.sitemap:
            self.site.add("/sitemap.xml", self.sitemap)

    @property
    def name(self) -> str:
        """The site's name (and its source's)."""
        return self.plan.name

    @property
    def zh(self) -> bool:
        """Whether the site is Chinese."""
        return self.plan.group == "zh"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this site."""
        return self.site.url(path)

    def robots(self) -> str:
        """The site's robots.txt (naming its sitemap, if it has one)."""
        text = "User-agent: *\nDisallow: /search\n"
        return text + (f"\nSitemap: {self.url('/sitemap.xml')}\n" if self.plan.sitemap else "")

    def info(self) -> TemplateSite:
        """What tests see of this site."""
        return TemplateSite(
            name=self.name,
            host=self.site.host,
            base_url=self.site.base_url,
            template=self.template.id,
            shape=self.plan.shape,
            language=self.plan.group,
            charset=self.plan.charset,
            heavy=self.template.heavy,
            home=self.url("/"),
            sections=tuple(self.url(s) for s in self.plan.sections),
            feeds=(self.url(self.plan.feed),) if self.plan.feed else (),
            sitemaps=(self.url("/robots.txt"),) if self.plan.sitemap else (),
        )

    # -- articles ------------------------------------------------------------------------------
    def path_for(self, slug: str, number: int, when: datetime) -> str:
        """The path of an article in this site's shape."""
        return SHAPES[self.plan.shape].format(slug=slug, number=number, date=when)

    def render(self, post: _Post) -> Reply:
        """The article page of ``post`` (checked: see :meth:`PageTemplate.render`)."""
        article = post.article
        when = article.published or self.web.now
        text = self.template.render(article.title, post.paragraphs, when, article.url, self.plan.charset)
        return html_reply(text.encode(self.plan.charset, "xmlcharrefreplace"), self.plan.charset)

    def publish(self, post: _Post, when: datetime, reply: Reply | None = None) -> TemplateArticle:
        """Serve ``post`` from now on, dated ``when``, at the top of every listing (``reply``: its page, if made)."""
        post.article = replace(post.article, published=when)
        post.reply = reply or self.render(post)
        path = post.article.path
        self.site.add(path, post.reply)
        self.article_paths.add(path)
        with self.web.lock:
            self.published.insert(0, post)
            self.published.sort(key=lambda p: p.article.published or when, reverse=True)
        return post.article

    # -- entry pages ---------------------------------------------------------------------------
    def _posts(self) -> list[_Post]:
        with self.web.lock:
            return list(self.published)

    def _page(self, title: str, main: str, head: str = "") -> Reply:
        """A listing-style page of this site: header with navigation, ``main``, footer."""
        lang = "zh-CN" if self.zh else "en"
        names = ("人工智能与科学", "综合新闻") if self.zh else ("AI & Science", "Technology")
        nav = " | ".join(f'<a href="{s}">{html.escape(n)}</a>' for s, n in zip(self.plan.sections, names, strict=True))
        feed = f' | <a href="{self.plan.feed}">RSS</a>' if self.plan.feed else ""
        site_title = self.name.capitalize() + (" 新闻网" if self.zh else " News")
        footer = (
            "版权所有 © 本站 保留所有权利" if self.zh else "© The " + self.name.capitalize() + ". All rights reserved."
        )
        text = (
            f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'{head}</head>\n<body>\n<header><a href="/">{html.escape(site_title)}</a> <nav><a href="/">'
            f"{'首页' if self.zh else 'Home'}</a> | {nav}{feed}</nav></header>\n<main>\n{main}\n</main>\n"
            f"<footer><p>{html.escape(footer)}</p></footer>\n</body></html>\n"
        )
        return html_reply(text)

    def _items(self, posts: list[_Post]) -> str:
        """A list of links with headline text and a teaser line."""
        return "".join(
            f'<li><a href="{html.escape(p.article.path)}">{html.escape(p.article.title)}</a>'
            f'<p class="teaser">{html.escape(p.paragraphs[0][:120])}</p>'
            f'<time datetime="{p.article.published:%Y-%m-%dT%H:%M:%SZ}">{p.article.published:%Y-%m-%d}</time></li>\n'
            for p in posts
        )

    def article_path(self, target: str) -> str | None:
        """The path of the published article a request target asks for (tracking parameters aside), if any."""
        query = parse_qs(urlsplit(target).query)
        for path in (target, bare_path(target), f"/?p={query.get('p', [''])[0]}"):
            if path in self.article_paths:
                return path
        return None

    def home(self, record: RequestRecord) -> Reply:
        """The home page: the latest articles and the two sections (``/?p=N``: article N, as WordPress does)."""
        if "p" in parse_qs(urlsplit(record.path).query):
            path = self.article_path(record.path)
            with self.web.lock:
                post = next((p for p in self.published if p.article.path == path), None)
            return post.reply if post and post.reply else _NOT_FOUND
        posts = self._posts()[:HOME_SIZE]
        heading = "最新" if self.zh else "Latest"
        return self._page(self.name, f'<h1>{heading}</h1>\n<ul class="latest">\n{self._items(posts)}</ul>')

    def section(self, record: RequestRecord, index: int) -> Reply:
        """Section ``index``: its articles, newest first (the first section paginated, ``/page/N``)."""
        base = self.plan.sections[index]
        posts = [p for p in self._posts() if p.section == index]
        number = 1
        if index == 0:
            match = re.fullmatch(re.escape(base) + r"(?:/page/(\d+))?/?", bare_path(record.path))
            if not match:
                return _NOT_FOUND
            number = int(match.group(1) or 1)
            pages = max(1, -(-len(posts) // SECTION_PAGE_SIZE))
            if not 1 <= number <= pages:
                return _NOT_FOUND
            posts = posts[(number - 1) * SECTION_PAGE_SIZE : number * SECTION_PAGE_SIZE]
        else:
            pages = 1
        head, pager = "", []
        if number > 1:
            previous = base if number == 2 else f"{base}/page/{number - 1}"
            head += f'<link rel="prev" href="{previous}">'
            pager.append(f'<a rel="prev" href="{previous}">«</a>')
        if number < pages:
            head += f'<link rel="next" href="{base}/page/{number + 1}">'
            pager.append(f'<a rel="next" href="{base}/page/{number + 1}">»</a>')
        title = f"{base.rsplit('/', 1)[-1]} – {self.name}" + (f" – {number}" if number > 1 else "")
        return self._page(
            title,
            f'<h1>{html.escape(title)}</h1>\n<ul class="list">\n{self._items(posts)}</ul>\n'
            f'<div class="pager">{" ".join(pager)}</div>',
            head,
        )

    def feed(self, _: RequestRecord) -> Reply:
        """The RSS 2.0 feed of every published article, newest first."""
        entries = "".join(
            f"<item><title>{html.escape(p.article.title)}</title><link>{html.escape(p.article.url)}</link>"
            f'<guid isPermaLink="true">{html.escape(p.article.url)}</guid>'
            f"<pubDate>{format_datetime(p.article.published, usegmt=True)}</pubDate>"
            f"<description>{html.escape(p.paragraphs[0][:200])}</description></item>\n"
            for p in self._posts()
            if p.article.published
        )
        text = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n'
            f"<title>{self.name}</title><link>{self.url('/')}</link><description>{self.name}</description>\n"
            f"{entries}</channel></rss>\n"
        )
        return Reply(200, text.encode(), {"Content-Type": "application/rss+xml; charset=utf-8"})

    def sitemap(self, _: RequestRecord) -> Reply:
        """The sitemap of every published article, newest first."""
        urls = "".join(
            f"<url><loc>{html.escape(p.article.url)}</loc>"
            f"<lastmod>{p.article.published:%Y-%m-%dT%H:%M:%S+00:00}</lastmod></url>\n"
            for p in self._posts()
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )
        return Reply(200, text.encode(), {"Content-Type": "application/xml; charset=utf-8"})


_NOT_FOUND = Reply(
    404, b"<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html; charset=utf-8"}
)


# -- the web -----------------------------------------------------------------------------------
class TemplateWeb(LoopbackWeb):
    """Eight loopback news sites, each wrapping its articles in one real template; see the module docstring.

    A context manager: ``with TemplateWeb(corpus_root, seed=0) as web:`` serves the sites. It cannot
    be restarted after it stopped (its ports would change).
    """

    def __init__(self, corpus_root: Path | str, seed: int = 0, now: datetime | None = None) -> None:
        """Choose templates and texts by ``seed``, bind every site (nothing is served before :meth:`start`)."""
        self.corpus_root = Path(corpus_root).resolve()
        self.seed = seed
        self.now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.lock = threading.RLock()
        self._clock = self.now  # the date of the last article published by publish_more
        self._outlets: list[_Outlet] = []
        rng = random.Random(seed)
        self._number = rng.randint(10_000, 89_999)
        drafts = self._allocate(load_labelled_texts(self.corpus_root), rng)
        candidates = _template_candidates(load_corpus(self.corpus_root), rng)
        try:
            for plan, host, site_drafts in zip(SITE_PLANS, SITE_HOSTS, drafts, strict=True):
                outlet = _Outlet(self, plan, host)
                self._outlets.append(outlet)  # at once, so that a failed build still closes its socket
                self._furnish(outlet, site_drafts, candidates)
        except BaseException:
            self.stop()
            raise
        self.local_sites: dict[str, LocalSite] = {o.name: o.site for o in self._outlets}
        self.sites: dict[str, TemplateSite] = {o.name: o.info() for o in self._outlets}

    # -- building ------------------------------------------------------------------------------
    def _allocate(self, texts: tuple[LabelledText, ...], rng: random.Random) -> list[list[_Draft]]:
        """The drafts of each site (by :data:`SITE_PLANS` order): every text once, some reposted elsewhere."""
        drafts: list[list[_Draft]] = [[] for _ in SITE_PLANS]
        for group in ("en", "zh"):
            sites = [index for index, plan in enumerate(SITE_PLANS) if plan.group == group]
            pool = [t for t in texts if language_group(t.language) == group]
            rng.shuffle(pool)
            for position, text in enumerate(pool):
                home = sites[position % len(sites)]
                drafts[home].append(_Draft(text, "original"))
                if position < REPOSTED_STORIES[group]:
                    others = [s for s in sites if s != home]
                    for copy_number, other in enumerate(rng.sample(others, 2 if position % 3 == 0 else 1)):
                        variant = REPOST_VARIANTS[(position + copy_number) % len(REPOST_VARIANTS)]
                        drafts[other].append(_Draft(text, variant))
        for site_drafts in drafts:
            rng.shuffle(site_drafts)
        return drafts

    def _furnish(self, outlet: _Outlet, drafts: list[_Draft], candidates: list[CorpusPage]) -> None:
        """Give ``outlet`` the first candidate template of its language (heavy if it must be) that wraps every
        draft, and its posts: all but the held-back share published, dated before ``now``."""
        plan = outlet.plan
        used = Counter(o.template.page.source for o in self._outlets if o.template and o.plan.group == plan.group)
        taken = {o.template.id for o in self._outlets if o.template}
        group = [p for p in candidates if language_group(p.language) == plan.group]
        # Spread the sites over the corpus sources: sources used least so far first (stable: the seeded order stays).
        for page in sorted(group, key=lambda p: used[p.source]):
            if f"{page.source}/{page.id}" in taken or page.problem(allow_base=True) is not None:
                continue
            try:
                template = load_template(page)
                if plan.heavy and not template.heavy:
                    continue
                outlet.template = template
                posts = self._posts(outlet, drafts, random.Random(f"{self.seed}/{plan.name}"))
            except TemplateError:
                continue
            for post, reply in posts:
                if post.article.published is None:
                    outlet.held.append(post)
                else:
                    outlet.publish(post, post.article.published, reply)
            return
        raise RuntimeError(f"no template in the test corpus fits site {plan.name!r} ({plan.group}, heavy={plan.heavy})")

    def _posts(self, outlet: _Outlet, drafts: list[_Draft], rng: random.Random) -> list[tuple[_Post, Reply]]:
        """The posts of ``outlet`` with their pages (held-back ones dated ``None``, their page only checked).

        Raises :class:`TemplateError` if the outlet's template fails on one of them.
        """
        held = set(rng.sample(range(len(drafts)), round(HELD_BACK_SHARE * len(drafts))))
        slugs: set[str] = set()
        when = self.now
        posts = []
        for index, draft in enumerate(drafts):
            number = self.next_number()
            slug = draft.slug(number)
            while slug in slugs:
                slug += "-2"
            slugs.add(slug)
            paragraphs = draft.paragraphs(rng)
            if index not in held:
                when -= DATE_STEP
            # A held-back article is published after ``now``: its URL carries that date.
            path = outlet.path_for(slug, number, self.now if index in held else when)
            article = TemplateArticle(
                url=outlet.url(path),
                site=outlet.name,
                template=outlet.template.id,
                shape=outlet.plan.shape,
                title=draft.title(rng),
                body="\n".join(paragraphs),
                published=None if index in held else when,
                language=draft.text.language,
                label=draft.text.label,
                story=draft.text.id,
                variant=draft.variant,
            )
            post = _Post(article, paragraphs, section=0 if draft.text.label == "relevant" else 1, number=number)
            posts.append((post, outlet.render(post)))
        return posts

    def next_number(self) -> int:
        """A fresh article number (for ``?p=``, ``/a/<id>/`` and ``content_<n>.htm`` URLs)."""
        with self.lock:
            self._number += 1
            return self._number

    # -- time ----------------------------------------------------------------------------------
    def publish_more(self, n: int) -> list[TemplateArticle]:
        """Publish up to ``n`` held-back articles (one site after the other), each newer than all before."""
        published: list[TemplateArticle] = []
        while len(published) < n and any(o.held for o in self._outlets):
            for outlet in self._outlets:
                if outlet.held and len(published) < n:
                    with self.lock:
                        self._clock += timedelta(minutes=1)
                        when = self._clock
                    published.append(outlet.publish(outlet.held.pop(0), when))
        return published

    # -- what the tests check against ----------------------------------------------------------
    @property
    def articles(self) -> list[TemplateArticle]:
        """Every article served now, newest first within each site."""
        with self.lock:
            return [p.article for o in self._outlets for p in o.published]

    @property
    def held_back(self) -> list[TemplateArticle]:
        """The articles not published yet (their ``published`` is ``None``)."""
        with self.lock:
            return [p.article for o in self._outlets for p in o.held]

    def sources_toml(self, every: str | None = None, max_pages: int | None = None) -> str:
        """The text of an ai4s sources file with one source per site (each polled ``every``, if given).

        Crawl it with :data:`FAST_SETTINGS` for a quick test crawl.
        """
        blocks = []
        for site in self.sites.values():
            lines = [
                "[[source]]",
                f"name = {json.dumps(site.name)}",
                f"language = {json.dumps(site.language)}",
                f"start_urls = {json.dumps([site.home])}",
            ]
            if site.feeds:
                lines.append(f"feeds = {json.dumps(list(site.feeds))}")
            if site.sitemaps:
                lines.append(f"sitemaps = {json.dumps(list(site.sitemaps))}")
            lines.append("max_depth = 2")
            if max_pages is not None:
                lines.append(f"max_pages = {int(max_pages)}")
            if every is not None:
                lines.append(f"every = {json.dumps(every)}")
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)

    def requests(self) -> list[tuple[str, RequestRecord]]:
        """``(site name, record)`` of every request so far, on all sites, in time order."""
        records = [(o.name, record) for o in self._outlets for record in list(o.site.log)]
        return sorted(records, key=lambda item: item[1].time)

    def article_requests(self) -> Counter[str]:
        """How many times each article page was requested (by its URL; tracking queries count as the page)."""
        counts: Counter[str] = Counter()
        outlets = {o.name: o for o in self._outlets}
        for name, record in self.requests():
            outlet = outlets[name]
            path = outlet.article_path(record.path)
            if path is not None:
                counts[outlet.url(path)] += 1
        return counts

    def servers(self) -> Iterable[LocalSite]:
        """The servers of its sites."""
        return self.local_sites.values()


@dataclass(frozen=True)
class _Draft:
    """A labelled text as one site will publish it: the original, or a repost ``variant``."""

    text: LabelledText
    variant: str

    @property
    def group(self) -> str:
        """``en`` or ``zh``."""
        return language_group(self.text.language)

    def title(self, rng: random.Random | None = None) -> str:
        """The headline (another one for a ``headline`` repost)."""
        title = headline(self.text.title, self.text.body)
        if self.variant == "headline":
            prefixes = HEADLINE_PREFIXES[self.group]
            title = (rng or random.Random(0)).choice(prefixes) + title
        return title

    def paragraphs(self, rng: random.Random) -> list[str]:
        """The paragraphs the page shows (a credit line added or the last paragraph dropped for those reposts)."""
        paragraphs = split_paragraphs(self.text.body, self.text.language)
        if self.variant == "credit":
            credit = rng.choice(CREDITS[self.group])
            paragraphs = [credit, *paragraphs] if rng.random() < 0.5 else [*paragraphs, credit]
        elif self.variant == "drop-last" and len(paragraphs) >= 3:
            paragraphs = paragraphs[:-1]
        return paragraphs

    def slug(self, number: int) -> str:
        """A URL slug: the headline's words, or for a Chinese headline the kind of text and letters."""
        if self.group == "en":
            return slugify(self.text.title, "story")
        letters = ""
        while number:
            number, digit = divmod(number, 26)
            letters += chr(ord("a") + digit)
        return f"{self.text.kind.removeprefix('ai4s-')}-{letters}"


def _template_candidates(pages: Iterable[CorpusPage], rng: random.Random) -> list[CorpusPage]:
    """Corpus pages that may be templates (complete truth, English or Chinese), in a seeded order."""
    candidates = sorted(
        (
            p
            for p in pages
            if p.source in TEMPLATE_SOURCES
            and p.meta.get("body_complete")
            and language_group(p.language) in ("en", "zh")
        ),
        key=lambda p: (p.source, p.id),
    )
    rng.shuffle(candidates)
    return candidates
