"""HTML page → article fields, with trafilatura. Pure: no Scrapy, no database.

:func:`extract_article` is what the extraction pool runs for every fetched page. It decodes
the bytes (:mod:`crawler.text.charset`), extracts text and metadata, and decides whether the
page holds an article at all: index pages, error pages and non-HTML documents come back
as a :class:`NotAnArticle` with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from htmldate import find_date
from trafilatura import bare_extraction
from trafilatura.baseline import block_text
from trafilatura.json_metadata import extract_json, normalize_json
from trafilatura.metadata import (
    JSON_MINIFY,
    META_URL,
    TITLE_XPATHS,
    examine_meta,
    examine_title_element,
    extract_author,
    extract_sitename,
    extract_url,
)
from trafilatura.settings import Document, set_date_params
from trafilatura.utils import trim

from crawler.text.article import EXTRACTOR as EXTRACTOR  # where the crawler's modules have found it
from crawler.text.article import ExtractedArticle, NotAnArticle
from crawler.text.bylines import author_name, chinese_byline, has_role_label, labelled_byline
from crawler.text.charset import decode_html, is_implausible
from crawler.text.dates import moment_of_day, parse_date, shown_timestamp
from crawler.text.layout_tables import table_text
from crawler.text.normalize import strip_related_headlines
from crawler.text.script import CJK_CHAR, HAN, HAN_CHAR, HANGUL_CHAR, KANA_CHAR, character_class, weighted_length
from crawler.text.template_blocks import KeyedBlocks, block_key
from crawler.text.titles import headline

#: Below this many characters of text (CJK characters count double), a page holds no article.
MIN_ARTICLE_CHARS = 250

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LANG_CODE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})*$")


def is_html(content_type: str | None, body: bytes) -> bool:
    """True when the response is an HTML page, by its Content-Type or, if it has none, by its first bytes."""
    if content_type:
        return content_type.split(";")[0].strip().lower() in _HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<meta", b"<!--"))


def _html_lang(tree: lxml.html.HtmlElement | None) -> str | None:
    if tree is None:
        return None
    lang = (tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip()
    return lang.replace("_", "-") if _LANG_CODE.match(lang) else None


#: Shares of the CJK characters of a text above which it is Japanese (kana) or Korean (Hangul), not Chinese.
JAPANESE_KANA_SHARE = 0.05
KOREAN_HANGUL_SHARE = 0.3
#: Characters of a text whose script is counted (CJK or not).
SCRIPT_SAMPLE = 3000
#: Characters of a text py3langid reads. Its cost grows with them (1.7 ms a text at 3,000 characters, 0.4 ms at
#: 1,000), not its accuracy: on the 600 corpus articles with a labelled language, the same 589 are right with
#: 3,000, 1,000 or 600 characters.
LANGUAGE_SAMPLE = 1000


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``: by script for CJK, else by py3langid; the page's ``lang`` when they agree."""
    sample = text[:SCRIPT_SAMPLE]
    if not sample.strip():
        return declared.split("-")[0].lower() if declared else None
    cjk = len(CJK_CHAR.findall(sample))
    if cjk > 0.2 * len(sample.replace(" ", "")):
        # Japanese prose is a fifth to a half kana, Korean mostly Hangul; Chinese news holds a few of
        # either (a Japanese or Korean name, the katakana middle dot "・" used as a separator).
        kana = len(KANA_CHAR.findall(sample.replace("\u30fb", "")))
        if kana >= JAPANESE_KANA_SHARE * cjk:
            return "ja"
        if len(HANGUL_CHAR.findall(sample)) >= KOREAN_HANGUL_SHARE * cjk:
            return "ko"
        return "zh"
    detected, _ = _language_classifier()(sample[:LANGUAGE_SAMPLE])
    return detected


def _language_classifier():  # type: ignore[no-untyped-def]
    """py3langid's classifier, imported on first use: loading its model costs about half a second."""
    from py3langid import classify

    return classify


#: A page whose only date is in words of a language htmldate's own patterns do not cover: reading it loads
#: dateparser, which htmldate's extensive search imports on the first such page.
_DATE_IN_WORDS = "<html><body><article><p>Warm-up.</p><p>5 мая 2024 г.</p></article></body></html>"


def warm_up() -> None:
    """Load everything extraction needs (the language model and the date parser included), so the first page
    is not slow."""
    detect_language("Warm-up text for the language model of the extraction workers.")
    find_date(_DATE_IN_WORDS, **set_date_params(True))


#: The text a reader sees: not scripts, styles or comments.
_VISIBLE_TEXT = "//body//text()[not(ancestor::script) and not(ancestor::style)]"
#: JSON-LD and the settings some CMS put in JSON: where trafilatura reads an article's metadata first.
_JSON_SCRIPTS = './/script[@type="application/ld+json" or @type="application/settings+json"]'
#: The tags that give the moment an article was published, with its time of day.
_PUBLISHED_TIME_TAGS = (
    "//meta[@property='article:published_time' or @name='article:published_time' or @itemprop='datePublished'"
    " or @name='pubdate' or @name='publishdate' or @name='parsely-pub-date']/@content"
    " | //time[@itemprop='datePublished' or @pubdate]/@datetime"
)
#: The author tags of library and scholarly metadata (Dublin Core, Highwire's citation tags): one author a tag,
#: written "Surname, Given names".
_SURNAME_FIRST_TAGS = (
    "//meta[translate(@name, 'DCREATORIUH', 'dcreatoriuh')='dc.creator'"
    " or translate(@name, 'CITATONUHR', 'citatonuhr')='citation_author']/@content"
)


#: What separates the names of an author tag.
_NAME_SEPARATOR = r"[\s、，,;；]+"
#: Chinese names in an author tag, one or more: two to four Han characters each (a compound surname and two more).
_HAN_NAMES = re.compile(rf"[{character_class(HAN)}]{{2,4}}(?:{_NAME_SEPARATOR}[{character_class(HAN)}]{{2,4}})*")
#: The end of an outlet's name, which some sites put in their author tag ("新华网", "新华社", "人民日报", "光明網").
_OUTLET_END = tuple("网網社报報台刊")


def _is_tagged_name(author: str, site_name: str | None) -> bool:
    """Whether the author a page's ``<meta>`` tags give may be a person's name: two words or more (one word is a
    site's account or name, as trafilatura has it), or, in Han characters, Chinese names (not spaced: two to four
    characters each); never the site's nor an outlet's name ("新华社", "央视新闻客户端")."""
    if HAN_CHAR.search(author):
        names = re.split(_NAME_SEPARATOR, author.strip())
        return (
            author != site_name
            and (" " in author.strip() or _HAN_NAMES.fullmatch(author.strip()) is not None)
            and not any(name.endswith(_OUTLET_END) for name in names)
        )
    return " " in author


def _given_name_first(author: str, tree: lxml.html.HtmlElement) -> str:
    """``author`` as trafilatura read it from tags written "Surname, Given names" (``dc.creator``,
    ``citation_author``), which it splits at the comma into two people ("Brazil; Rachel"): each author's names in
    reading order ("Rachel Brazil"); any other author as it is."""
    names = [name.strip() for name in tree.xpath(_SURNAME_FIRST_TAGS) if name.strip()]
    if not names or any(name.count(",") != 1 or ";" in name for name in names):
        return author
    pairs = [[piece.strip() for piece in name.split(",")] for name in names]
    if not all(_SURNAME.fullmatch(surname) and given for surname, given in pairs):
        return author  # "Jane Doe, Staff Writer", "Li Wei, Xinhua": a name and what follows it
    if {_piece_key(piece) for pair in pairs for piece in pair} != {_piece_key(piece) for piece in author.split(";")}:
        return author
    return "; ".join(f"{given} {surname}" for surname, given in pairs)


#: A surname as such tags write it: one word ("Brazil", "Castelvecchi", "O'Neil", "Lloyd-Jones"), or a particle's
#: words before it ("van der Berg", "de la Cruz").
_SURNAME = re.compile(r"(?:(?:van|von|der|den|de|del|della|di|da|du|dos|la|le|ten|ter|al|el|bin|ibn)\s+)*[^\s,;]+")


def _piece_key(piece: str) -> str:
    """A piece of an author as trafilatura gives it, compared without case, spacing or punctuation ("J." is "J")."""
    return re.sub(r"[\W_]+", "", piece).casefold()


def _moment(value: object) -> datetime | None:
    """A tagged publication time, where it gives a time of day (``2026-02-27T23:30:00-08:00``), not a day alone."""
    return parse_date(value) if isinstance(value, str) and ":" in value else None


def _json_published(schema: object, depth: int = 0) -> list[object]:
    """The ``datePublished`` values of a JSON-LD document, in its objects and their graphs (a few levels down)."""
    if depth > 4:
        return []
    if isinstance(schema, list):
        return [found for item in schema for found in _json_published(item, depth + 1)]
    if not isinstance(schema, dict):
        return []
    found = [schema["datePublished"]] if "datePublished" in schema else []
    return found + [value for key in ("@graph", "mainEntity") for value in _json_published(schema.get(key), depth + 1)]


def page_metadata(
    tree: lxml.html.HtmlElement,
    url: str | None,
    search_text_for_date: bool = True,
    feed_moment: datetime | None = None,
) -> Document:
    """Title, author, site name and publication date of a page, as trafilatura's ``extract_metadata`` finds them,
    without what the crawler never stores (categories, tags, licence) and without its regular-expression
    rescue of JSON-LD that does not parse (the most expensive step of all, for an author name). Where the page's
    tags, URL and marked-up dates give no date, its text is searched for one only if ``search_text_for_date``.
    The date is the moment the page tags, else ``feed_moment`` (its feed's), where that falls on the day found."""
    metadata = examine_meta(tree)  # <meta> and Open Graph tags: cheap
    moments = [tagged for value in tree.xpath(_PUBLISHED_TIME_TAGS) if (tagged := _moment(value))]
    if metadata.author:
        metadata.author = _given_name_first(metadata.author, tree)
    if metadata.author and not _is_tagged_name(metadata.author, metadata.sitename):
        metadata.author = None
    for element in tree.xpath(_JSON_SCRIPTS):
        if element.text:
            try:
                schema = json.loads(normalize_json(JSON_MINIFY.sub(r"\1", element.text)), strict=False)
            except (json.JSONDecodeError, RecursionError):  # broken, or nested deeper than the parser goes
                continue
            moments += [tagged for value in _json_published(schema) if (tagged := _moment(value))]
            try:
                metadata = extract_json(schema, metadata)
            except Exception:  # noqa: BLE001 - trafilatura's JSON-LD reader trips over odd shapes; the tags remain
                continue
    if not metadata.title:
        metadata.title = page_title(tree)
    if not metadata.author:
        metadata.author = extract_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    # htmldate's quick search (meta and JSON-LD tags, the URL, marked-up dates) first; its extensive search
    # (free text, dateparser's locales) only on the pages where that found nothing.
    metadata.date = find_date(tree, **{**set_date_params(False), "url": metadata.url})
    if not metadata.date and search_text_for_date:
        shown = shown_timestamp(tree.xpath(_VISIBLE_TEXT), datetime.now(UTC).date())
        metadata.date = shown.isoformat() if shown else None
    if not metadata.date and search_text_for_date:
        metadata.date = find_date(tree, **{**set_date_params(True), "url": metadata.url})
    if metadata.date and (moment := moment_of_day(parse_date(metadata.date), [*moments, feed_moment])) is not None:
        metadata.date = moment.isoformat()  # the tagged moment of that day, with its time and zone
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if metadata.sitename and "." not in metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        metadata.sitename = match[1]
    metadata.clean_and_trim()
    metadata.title = headline(
        metadata.title, _headings(tree), metadata.sitename, urlsplit(metadata.url or url or "").hostname
    )
    return metadata


#: The href of a ``<link>`` whose rel names ``canonical`` (among other values, in any case).
_CANONICAL_LINKS = (
    "//link[contains(concat(' ', translate(normalize-space(@rel), 'CANONICAL', 'canonical'), ' '), ' canonical ')]"
    "/@href"
)
_OG_URLS = (
    "//meta[translate(@property, 'OGURL', 'ogurl')='og:url' or translate(@name, 'OGURL', 'ogurl')='og:url']/@content"
)
_BASES = "//base/@href"


def declared_url(tree: lxml.html.HtmlElement, url: str) -> str | None:
    """The http(s) URL a page names as its own: its ``<link rel="canonical">``, else its ``og:url``, made absolute
    against the page's ``<base>`` and URL."""
    bases = [_absolute(url, str(href)) for href in tree.xpath(_BASES)[:1]]
    base = bases[0] if bases and bases[0] else url
    for xpath in (_CANONICAL_LINKS, _OG_URLS):
        for value in tree.xpath(xpath):
            named = _absolute(base, str(value))
            if named:
                return named
    return None


def _absolute(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``, if that gives an http(s) URL with a host."""
    href = href.strip()
    if not href:
        return None
    try:
        named = urljoin(base, href)
        parts = urlsplit(named)
        return named if parts.scheme in ("http", "https") and parts.hostname else None
    except ValueError:  # a malformed address (an unclosed IPv6 bracket, a bad port)
        return None


def page_title(tree: lxml.html.HtmlElement) -> str | None:
    """The title of a page whose tags give none, as trafilatura's ``extract_title`` finds it (the only ``<h1>``,
    a heading whose class or id says title or headline, a part of the ``<title>`` element, the first ``<h1>``
    or ``<h2>``), except that a heading in the page's furniture (a menu, a comment form, a sidebar, hidden)
    is not taken: templates give their headings the same class names ("Hauptmenü", "Leave a reply"), and old
    blogs' sidebars their headings ("导航", "公告")."""
    headings = tree.findall(".//h1")
    if len(headings) == 1 and (title := block_text(headings[0])):
        return title
    page_chars: int | None = None
    for expression in TITLE_XPATHS:
        for element in expression(tree):
            text = trim(" ".join(element.itertext()))
            if not 2 < len(text) < 200:
                continue
            if page_chars is None:
                page_chars = _page_chars(tree)
            if not _in_furniture(element, page_chars):
                return text
    title, first, second = examine_title_element(tree)
    for part in (first, second, title):
        if part and "." not in part:
            return part
    page_chars = _page_chars(tree) if page_chars is None else page_chars
    for heading in [*headings, *tree.xpath("(.//h2)[1]")]:
        if (text := block_text(heading)) and not _in_furniture(heading, page_chars):
            return text
    return title or None


#: A word of the class or id of what holds a page's furniture, not its article (menus, comment forms,
#: sidebars, sharing buttons, related and popular articles, the site's name or logo), or a class that hides
#: a heading from the reader.
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|dropdown|comments?|respond|reply|sidebar|widget|social|share"
    r"|related|recommend|hot|rank|footer|logo|branding|site[-_]?(?:title|name))(?:$|[\s_-])"
    r"|element-invisible|visually-hidden|sr-only|screen-reader",
    re.IGNORECASE,
)
#: A container with at least this share of the page's text wraps the page, whatever its class says
#: ("overflow-hidden", "content-sidebar-wrap", "with-comments").
_WRAPPER_SHARE = 0.5


def _page_chars(tree: lxml.html.HtmlElement) -> int:
    """How many characters of text a page's body holds (its whole tree's, where it has no ``<body>``)."""
    body = tree.find(".//body")
    return len((body if body is not None else tree).text_content())


def _in_furniture(element: lxml.html.HtmlElement, page_chars: int) -> bool:
    """Whether ``element`` is part of the page's furniture: in a ``<nav>``, ``<aside>``, ``<footer>`` or
    ``<form>``, or in an element whose class or id says menu, comments, sidebar, sharing, site name or logo,
    that holds less than half of the page's ``page_chars`` characters of text; never within an ``<article>``
    or ``<main>`` but for such an element in it."""
    for node in (element, *element.iterancestors()):
        if node.tag in ("body", "html", "article", "main"):
            return False
        named = node.tag in ("nav", "aside", "footer", "form") or _FURNITURE.search(
            f"{node.get('class', '')} {node.get('id', '')}"
        )
        if named and len(node.text_content()) < page_chars * _WRAPPER_SHARE:
            return True
    return False


def _headings(tree: lxml.html.HtmlElement) -> list[str]:
    """The texts of a page's first ``<h1>`` elements, where its headline is."""
    return [heading.text_content() for heading in tree.xpath("(//h1)[position() <= 5]")]


#: The longest info line: a date, a source, the authors and a few links.
INFO_LINE_CHARS = 120
#: Text that may label a field ("作者：…"), after the page's first ``<h1>`` (where its info line is), or
#: anywhere in a page without one.
_LABEL_CONDITION = f"string-length(.) <= {INFO_LINE_CHARS} and (contains(., '：') or contains(., ':'))"
_LABEL_AFTER_HEADING = lxml.etree.XPath(f"(//h1)[1]/following::text()[{_LABEL_CONDITION}]")
_LABEL_TEXT = lxml.etree.XPath(f"//body//text()[{_LABEL_CONDITION}]")
#: Punctuation of a sentence, which an info line has none of.
_SENTENCE_MARK = re.compile("[，。？！；]")


def _byline(tree: lxml.html.HtmlElement, text: str, language: str | None) -> str | None:
    """The reporters a Chinese page names where its tags name none: in its text's byline, else in a short line
    of the page labelled with their role (the info line under the headline, which extraction leaves out):
    never a sentence of the text itself (an interview's "记者：…，…？" question), a line of a list, or of the
    page's furniture (a sidebar's or a comment's "作者：")."""
    if not (language or "").startswith("zh"):  # a Japanese page's Han names read as a Chinese byline
        return None
    found = chinese_byline(text)
    if found:
        return found
    labels = _LABEL_AFTER_HEADING(tree) if tree.find(".//h1") is not None else _LABEL_TEXT(tree)
    page_chars: int | None = None
    flat_text = " ".join(text.split())
    read: set[lxml.html.HtmlElement] = set()  # each line once: a block of thousands of labels was read as often
    for node in labels:
        if not has_role_label(node):
            continue
        holder = node.getparent()
        if holder is not None and node.is_tail:  # text after a child ("<br>作者：…"): its container's
            holder = holder.getparent()
        if (
            holder is None
            or holder in read
            or holder.tag in ("script", "style")
            or holder.xpath("ancestor-or-self::li")
        ):
            continue
        read.add(holder)
        line = " ".join(holder.text_content().split())
        if len(line) > INFO_LINE_CHARS or (line in flat_text and _SENTENCE_MARK.search(line)):
            continue
        if page_chars is None:
            page_chars = _page_chars(tree)
        if not _in_furniture(holder, page_chars) and (found := labelled_byline(line)):
            return found
    return None


def without_headline(text: str, title: str | None) -> str:
    """The text without a first line that only repeats the page's title (the headline above the body, which
    extraction keeps on many templates); a text that is nothing else stays as it is."""
    first, _, rest = text.partition("\n")
    if title and rest.strip() and block_key(first) is not None and block_key(first) == block_key(title):
        return rest.strip()
    return text


#: The least share of its title's terms that a text extracted again without the template must hold: the article's
#: own lead names what its headline does, a sign-up box or a comment form does not.
_OWN_TEXT_TITLE_SHARE = 0.3
#: A term of a title: a word of four or more letters, or two CJK characters in a row.
_TITLE_WORD = re.compile(r"[^\W\d_]{4,}")


def _title_share(title: str, text: str) -> float:
    """The share of the terms of ``title`` (words, or CJK character pairs) found in ``text``; 0 without terms."""
    folded_title, folded_text = title.lower(), text.lower()
    terms = {word for word in _TITLE_WORD.findall(folded_title) if not CJK_CHAR.search(word)}
    pairs = (folded_title[index : index + 2] for index in range(len(folded_title) - 1))
    terms |= {pair for pair in pairs if all(map(CJK_CHAR.match, pair))}
    return sum(term in folded_text for term in terms) / len(terms) if terms else 0.0


#: The elements that hold one line of extracted text: dropped before extracting again where they are template.
_LINE_ELEMENTS = frozenset("p li a span h1 h2 h3 h4 h5 h6 td dd dt blockquote figcaption".split())


def _text_without_template(
    tree: lxml.html.HtmlElement, url: str, template: Collection[int], title: str | None
) -> str | None:
    """The text extracted from ``tree`` once the elements whose text is a line of ``template`` are dropped (from
    ``tree`` itself), or ``None`` where that leaves no text of its own."""
    lines = [element for element in tree.iter(*_LINE_ELEMENTS) if block_key(element.text_content().strip()) in template]
    for element in lines:
        if element.getparent() is not None:
            element.drop_tree()
    text = _main_text(tree, url, title)
    if not text or KeyedBlocks.of(text).all_in(template) or _title_share(title or "", text) < _OWN_TEXT_TITLE_SHARE:
        return None  # no text, or another of the template's blocks (a sign-up box, a comment form)
    return text


def _main_text(tree: lxml.html.HtmlElement, url: str, title: str | None) -> str | None:
    """The main text trafilatura extracts from ``tree`` (on a copy), its layout tables written as the lines a
    reader sees (:mod:`crawler.text.layout_tables`), without the headline ``title`` and other articles' headlines
    (:func:`crawler.text.normalize.strip_related_headlines`); ``None`` where it extracts nothing."""
    document = bare_extraction(
        tree, url=url, with_metadata=False, include_comments=False, include_tables=True, favor_precision=False
    )
    if document is None or isinstance(document, dict):
        return None
    text = (document.body is not None and table_text(document.body)) or document.text or ""
    return strip_related_headlines(without_headline(text.strip(), title)).strip()


def extract_article(
    body: bytes,
    url: str,
    header_charset: str | None = None,
    content_type: str | None = None,
    first_published: datetime | None = None,
    template: Collection[int] = frozenset(),
) -> ExtractedArticle | NotAnArticle:
    """The article in a fetched page, or why there is none. ``first_published``, the date the feed or sitemap
    that named the page gave, stands in for a date the page's tags, URL and marked-up dates do not give (in
    place of htmldate's search of the text: slow, and a guess where the publisher's feed says). ``template``,
    the block keys of the page's site's template (:mod:`crawler.text.template_blocks`): where extraction finds
    nothing but those lines (a short article in a page of long headline lists), the page is extracted again
    without them."""
    if not is_html(content_type, body):
        kind = (content_type or "unknown").split(";")[0].strip()
        return NotAnArticle("not_html", f"not a web page ({kind})")
    decoded = decode_html(body, header_charset)
    # The HTML parser's ``huge_tree`` lifts libxml2's limit of 256 nested elements (to 2,048), past which it
    # dropped the rest of a page (an old page's unclosed ``<font>`` and ``<b>`` tags nest that deep): the article was
    # lost as a page without text. The crawl's size limit bounds what a page can make the parser hold. (A parser a
    # page: lxml's parsers are not to be shared between threads.)
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        tree = lxml.html.fromstring(decoded.text.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        return NotAnArticle("no_text", f"unparseable HTML: {exc}", decoded.encoding)
    # before extraction, which works on (and prunes) a copy of the tree
    metadata = page_metadata(tree, url, search_text_for_date=first_published is None, feed_moment=first_published)
    text = _main_text(tree, url, metadata.title)
    if text is None:
        return NotAnArticle("no_text", "no article text (nothing extracted)", decoded.encoding)
    if template and KeyedBlocks.of(text).all_in(template):
        text = _text_without_template(tree, url, template, metadata.title) or text
    if weighted_length(text) < MIN_ARTICLE_CHARS:
        return NotAnArticle("no_text", f"no article text ({len(text)} characters extracted)", decoded.encoding)
    undecodable = is_implausible(f"{metadata.title or ''}\n{text}")
    if undecodable:  # never stored as mojibake: a failed fetch, tried again at the next crawl
        return NotAnArticle("network_error", f"undecodable as {decoded.encoding}: {undecodable}", decoded.encoding)
    language = detect_language(text, _html_lang(tree))
    return ExtractedArticle(
        text=text,
        title=(metadata.title or None),
        published=parse_date(metadata.date) or first_published,
        author=(metadata.author and author_name(metadata.author)) or _byline(tree, text, language),
        site_name=(metadata.sitename or None),
        language=language,
        encoding=decoded.encoding,
        declared_url=declared_url(tree, url),
    )
