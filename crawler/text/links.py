"""How a URL found on a listing page looks: an article, another listing page, or neither. Pure.

News sites give their articles recognisable URLs (a date, a numeric id, a long slug, an
``.html`` file, a slug or short id under ``/article/``, ``/p/``, ``/a/``, a WordPress ``?p=<id>``);
section, tag and pagination pages look different. These heuristics are general, not per site,
and only a guess: the fetched page decides (an article linked as if it were a listing is stored
as an article and never polled again, see :mod:`crawler.text.pages`), and every article
candidate is checked by the extractor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from crawler.text.urls import INDEX_FILE

_SKIP_EXTENSIONS = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|bmp|tiff?|css|js|json|mp[34]|m4a|avi|mov|wmv|flv|webm|ogg|wav|"
    r"zip|rar|7z|gz|tgz|bz2|exe|dmg|apk|pdf|docx?|xlsx?|pptx?|woff2?|ttf|eot)$",
    re.IGNORECASE,
)
_DATE_IN_PATH = re.compile(
    r"(?:^|/)(?:19|20)\d\d(?:[-/_]?)(?:0[1-9]|1[0-2])(?:[-/_]?)(?:0[1-9]|[12]\d|3[01])(?:/|[-_]|\.|$)"
    r"|(?:^|/)(?:19|20)\d\d[-/](?:0[1-9]|1[0-2])/(?:0[1-9]|[12]\d|3[01])/"
    r"|/(?:19|20)\d\d/(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])/"
)
_DOCUMENT = re.compile(r"\.(?:s?html?|php|aspx?|jsp|cms)$", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{5,}")
_LISTING_WORDS = re.compile(
    r"^(?:index|default|list|lists|page|pages|tag|tags|topic|topics|category|categories|section|archive|"
    r"archives|search|author|authors|about|contact|login|register|feed|rss|sitemap|calendar)(?:[_-]\d+)?$",
    re.IGNORECASE,
)
#: A path that ends at a date (``/2024/03/15/``, ``/news/2024/0315/``, ``/2024/03/``): that day's or month's archive.
_DATE_AT_END = re.compile(r"/(?:19|20)\d\d[-/_](?:0[1-9]|1[0-2])(?:[-/_]?(?:0[1-9]|[12]\d|3[01]))?/?$")
#: Path segments under which a name is a taxonomy's listing (``/tag/ai-for-science``,
#: ``/topics/artificial-intelligence-for-science``, ``/category/research-news``), whatever its length.
_TAXONOMY_PARENTS = frozenset(
    {"tag", "tags", "topic", "topics", "category", "categories", "section", "author", "authors"}
)
#: Path segments under which a slug or a short id names one article (``/p/<slug>``, ``/a/<id>/``).
_ARTICLE_PARENTS = frozenset({"a", "p", "article", "articles", "post", "posts", "story", "stories", "blog", "detail"})
_SHORT_ID = re.compile(r"^(?=[A-Za-z_]*\d)[A-Za-z0-9_]{4,20}$")
#: Parents under which a number of two digits or more is an article's id (``/article/45``); under ``/blog/`` or
#: ``/p/`` it may be a page number (``/blog/2``).
_NUMERIC_ID_PARENTS = frozenset({"article", "articles", "story", "stories", "detail"})
_NUMBER = re.compile(r"^\d{2,20}$")
_POST_ID = re.compile(r"^\d{3,}$")
#: Query parameters that number a listing's pages, lowercase (``?PageNo=2``, ASP.NET's ``?PageIndex=2`` too).
_PAGE_PARAMETERS = frozenset(
    {"page", "p", "pg", "pn", "pageno", "page_no", "pagenum", "paged", "start", "offset", "pageindex", "curpage"}
)
_NUMBERED_FILE = re.compile(r"^(.*?)[_-]\d{1,3}\.s?html?$", re.IGNORECASE)
_PAGED_PATH = re.compile(r"(?:/page/\d+/?$|[_-]\d{1,3}\.s?html?$|/\d{1,3}/?$)", re.IGNORECASE)
#: A listing's path and its page number as a last segment: ``/news/page/3/`` (page 3 of ``/news``), ``/news/3``.
_PAGE_SEGMENT = re.compile(r"^(.*?)(?:/page/(\d+)|/(\d{1,3}))/?$", re.IGNORECASE)
#: A bare number as a last segment is a page number only this far past the current page's: beyond it, it is an
#: id (``/news/873`` linked from ``/news/`` is an article, ``/news/2/`` its next page).
MAX_PAGE_STEP = 10
NEXT_LINK_TEXTS = frozenset(
    {
        "next",
        "next page",
        "older",
        "older posts",
        "more",
        "›",
        "»",
        ">",
        ">>",
        "下一页",
        "下页",
        "下一頁",
        "下頁",
        "更多",
        "次へ",
        "다음",
    }
)


#: A sitemap of a site's listing and static pages rather than its articles, as the common generators name them:
#: Yoast and Rank Math (``category-sitemap.xml``, ``post_tag-sitemap2.xml``, ``author-sitemap.xml``,
#: ``page-sitemap.xml``), WordPress itself (``wp-sitemap-taxonomies-category-1.xml``, ``wp-sitemap-users-1.xml``,
#: ``wp-sitemap-posts-page-1.xml``) and others (``sitemap-tags.xml``, ``sitemap_categories.xml``).
_LISTING_SITEMAP = re.compile(
    r"^(?:(?:category|post_tag|tag|author|page|product_cat|post_format)-sitemap\d*"
    r"|wp-sitemap-(?:taxonomies-[a-z_]+|users|posts-page)-\d+"
    r"|sitemap[-_](?:tags?|categor(?:y|ies)|authors?|users|pages|topics?)\d*)\.xml(?:\.gz)?$",
    re.IGNORECASE,
)


def is_listing_sitemap(url: str) -> bool:
    """True when ``url`` names a sitemap of a site's category, tag, author or static pages (no articles)."""
    return bool(_LISTING_SITEMAP.match(urlsplit(url).path.rsplit("/", 1)[-1]))


def article_sitemaps(urls: Iterable[str]) -> list[str]:
    """The sitemaps of ``urls`` that may list articles, in their order: not those of categories, tags, authors or
    static pages (:func:`is_listing_sitemap`), each of whose pages would be taken for an article."""
    return [url for url in urls if not is_listing_sitemap(url)]


def is_fetchable_link(url: str) -> bool:
    """False for links to images, scripts, archives and office documents, which are never pages to crawl."""
    return not _SKIP_EXTENSIONS.search(urlsplit(url).path)


def looks_like_article(url: str) -> bool:
    """True when ``url`` has the shape of a news article's URL (a date, an id, a long slug)."""
    parts = urlsplit(url)
    path = parts.path
    segments = [s for s in path.split("/") if s]
    query = dict(parse_qsl(parts.query))
    if _POST_ID.match(query.get("p", "")):  # WordPress: ?p=<post id> (?p=2 next to ?p=1 is a page number)
        return True
    if not segments:
        return False
    last = segments[-1]
    stem = _DOCUMENT.sub("", last)
    if _LISTING_WORDS.match(stem) or _DATE_AT_END.search(path):
        return False
    if len(segments) >= 2 and segments[-2].lower() in _TAXONOMY_PARENTS:
        return False
    if _DATE_IN_PATH.search(path):
        return True
    if _LONG_NUMBER.search(last) or (_DOCUMENT.search(last) and re.search(r"\d{3,}", last)):
        return True
    words = [w for w in re.split(r"[-_]", stem) if w]
    if len(words) >= 4 and len(stem) >= 20:
        return True
    if len(words) >= 3 and _DOCUMENT.search(last):  # /news/<slug>.html
        return True
    if len(segments) >= 2 and segments[-2].lower() in _ARTICLE_PARENTS:  # /article/<slug>, /p/<slug>, /a/<id>/
        if len(words) >= 2 or _SHORT_ID.match(stem):
            return True
        if segments[-2].lower() in _NUMERIC_ID_PARENTS and _NUMBER.match(stem):
            return True
    return any(key.lower() in {"id", "aid", "articleid", "article_id", "newsid", "docid", "story"} for key in query)


def is_pagination(url: str, current_url: str, link_text: str = "", rel: str = "") -> bool:
    """True when ``url`` is the next page of the listing at ``current_url`` (rel=next, a "next" label,
    or the same path with another page number)."""
    if "next" in rel.lower().split():
        return True
    if is_next_label(link_text):
        return True
    target, current = urlsplit(url), urlsplit(current_url)
    if target.netloc != current.netloc:
        return False
    if target.path == current.path and target.query != current.query:
        target_query, current_query = _lower_keys(target.query), _lower_keys(current.query)
        changed = {k for k, v in target_query} ^ {k for k, v in current_query}
        differing = {k for k, v in target_query ^ current_query}
        return bool(differing) and differing <= _PAGE_PARAMETERS and not (changed - _PAGE_PARAMETERS)
    if not _PAGED_PATH.search(target.path):
        return False
    numbered = _NUMBERED_FILE.match(target.path.rsplit("/", 1)[-1])
    if numbered is None:  # /page/2/ or /2/
        return _is_next_page_path(target.path, current.path)
    if target.path.rsplit("/", 2)[0] != current.path.rsplit("/", 2)[0]:
        return False
    # index_2.html is the next page of index.html (or of index_1.html), story-4.html of no page but itself
    current_file = _NUMBERED_FILE.match(current.path.rsplit("/", 1)[-1])
    current_stem = current_file.group(1) if current_file else _DOCUMENT.sub("", current.path.rsplit("/", 1)[-1])
    return numbered.group(1) == current_stem or bool(_LISTING_WORDS.match(numbered.group(1)))


#: The labels of :data:`NEXT_LINK_TEXTS` that say "next" once decorated: not "more" (``More »`` under a box of
#: headlines leads to its section, or to the teaser's article).
_DECORATED_NEXT_LABELS = NEXT_LINK_TEXTS - {"more", "更多"}
#: What decorates a "next" link's label: brackets, arrows, guillemets (``Next »``, ``[下一页]``, ``下一页>>``).
_LABEL_DECORATION = re.compile(r"[\s\[\]【】()（）<>《》«»‹›→⟩〉…|]+")


def is_next_label(text: str) -> bool:
    """True when a link's text labels the next page: a label of :data:`NEXT_LINK_TEXTS`, bare (``»``) or decorated
    with arrows and brackets (``Next »``, ``Next Page ›``, ``[下一页]``, ``下一页 >>``)."""
    bare = text.strip().lower()
    return bare in NEXT_LINK_TEXTS or _LABEL_DECORATION.sub(" ", bare).strip() in _DECORATED_NEXT_LABELS


def _lower_keys(query: str) -> set[tuple[str, str]]:
    """The parameters of ``query``, their names in lowercase."""
    return {(key.lower(), value) for key, value in parse_qsl(query)}


def _page_of_path(path: str) -> tuple[str, int, bool]:
    """A listing path's own path without its page number, the number (1 where it has none), and whether the
    number is labelled (``/page/3``) rather than bare (``/3``)."""
    path = INDEX_FILE.sub("/", path)  # /news/index.html is /news/'s first page (as URL identity has it)
    match = _PAGE_SEGMENT.match(path)
    if match is None:
        return path.rstrip("/"), 1, False
    labelled = match.group(2)
    return match.group(1), int(labelled or match.group(3)), labelled is not None


def _is_next_page_path(target: str, current: str) -> bool:
    """Whether the path ``target`` is another page of the listing at ``current``: the same listing, with a
    labelled page number, or a bare one just past the current page's."""
    target_listing, number, labelled = _page_of_path(target)
    current_listing, current_number, _ = _page_of_path(current)
    if target_listing != current_listing:
        return False
    return labelled or current_number < number <= current_number + MAX_PAGE_STEP
