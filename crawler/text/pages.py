"""What kind of page a fetched web page is: an article or a listing (a home, section, tag or search page). Pure.

A link's URL shape is only a guess (:mod:`crawler.text.links`); the fetched page decides. :func:`page_kind`
reads the parsed page (the lxml tree Scrapy already built, so nothing is parsed twice) and weighs:

- what the page declares: its JSON-LD ``@type`` (``NewsArticle``, ``BlogPosting``... against ``CollectionPage``,
  ``ItemList``, ``SearchResultsPage``; nodes of an ``@graph`` too), ``og:type`` and ``article:published_time``;
- its shape: the longest *run of prose* (text outside links in consecutive blocks that no headline link
  interrupts: an article's body is one long run, a listing's teasers are short runs between headlines) against
  the *longest list of headlines* (sibling blocks that each hold a headline link: a link that stands alone in
  its block, as a listing's items do; a link inside a sentence is not one). The longer the list, the longer
  the run an article needs. CJK characters count double (:func:`crawler.text.script.weighted_length`).

The shape decides when it is clear; declarations decide what it leaves open. ``og:type`` alone never makes a
page full of headlines an article: some sites mark every page, home and sections included, ``og:type=article``.
Measured by ``benchmarks/page_kinds.py`` (real article pages of the test corpus, listings made from their
templates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from crawler.text.script import weighted_length

#: JSON-LD types of a page that is one article.
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "liveblogposting",
        "techarticle",
        "scholarlyarticle",
        "report",
        "satiricalarticle",
        "advertisercontentarticle",
        "socialmediaposting",
    }
)
#: JSON-LD types of a page that lists others.
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "blog", "profilepage"})

#: A run of prose this long (weighted characters) is an article's body, on a page whose lists are short ...
ARTICLE_RUN = 500
#: ... and each item of its longest list of headlines beyond the first :data:`LONG_LIST` asks this much more.
RUN_PER_ITEM = 10
#: A list of this many headlines (blocks that each hold a headline link) is what a listing shows.
LONG_LIST = 10
#: Below this, the longest run of prose is no article's body: a teaser, a caption, a footer.
SHORT_RUN = 200
#: A list of this many headlines, on a page that declares nothing, asks for a full :data:`ARTICLE_RUN` of prose
#: (a small section page lists a handful of headlines with teasers, and a teaser can be as long as a short run).
SHORT_LIST = 3
#: A link's text must weigh this much to be a headline (about 3 English words, 6 Chinese characters).
HEADLINE_MIN = 12

_BLOCK_TAGS = frozenset(
    "p div li ul ol dl dd dt td th tr tbody thead tfoot table h1 h2 h3 h4 h5 h6 section article main header "
    "footer nav aside blockquote figure figcaption form pre center address details summary fieldset body".split()
)
_SKIPPED_TAGS = frozenset(
    "script style noscript template select option textarea button svg iframe head title object embed".split()
)


@dataclass(frozen=True)
class PageKind:
    """What a page is (``article`` or ``listing``), and the evidence it was judged on."""

    kind: str
    longest_run: int  # weighted characters of the longest run of prose
    headline_links: int
    longest_list: int  # headlines in the longest list of them
    declared: str | None  # what the page says it is: "article", "listing" or None
    evidence: tuple[str, ...] = field(default=())

    @property
    def is_article(self) -> bool:
        """Whether the page is an article."""
        return self.kind == "article"


def page_kind(tree: Any) -> PageKind:
    """Whether the parsed page ``tree`` (an lxml element of the document, or its root) is an article or a
    listing, with the evidence."""
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    declared, evidence = declared_kind(root)
    body = _first(root, "body")
    shape = _Shape()
    if body is not None:
        try:
            shape.block(body)
        except RecursionError:  # nested deeper than the walk goes (hundreds of levels): what it declares decides
            evidence.append("too deeply nested to measure in full")
            return PageKind(declared or "listing", 0, 0, 0, declared, tuple(evidence))
    run, headlines, listed = shape.longest_run, shape.headlines, shape.largest_list
    evidence += [f"longest run of prose {run}", f"{headlines} headline links", f"longest list of headlines {listed}"]
    if declared == "listing":
        kind = "listing"
    elif run >= ARTICLE_RUN + RUN_PER_ITEM * max(0, listed - LONG_LIST):
        kind = "article"  # the shape is clear
    elif "json-ld article" in evidence and listed < 2 * LONG_LIST:
        kind = "article" if run >= SHORT_RUN else "listing"
    elif declared == "article" and listed < LONG_LIST:  # og:type alone never outweighs a long list
        kind = "article" if run >= SHORT_RUN // 2 else "listing"
    else:  # nothing declared: a short run makes an article only where no list of headlines competes with it
        kind = "article" if run >= SHORT_RUN and listed < SHORT_LIST else "listing"
    return PageKind(kind, run, headlines, listed, declared, tuple(evidence))


def declared_kind(root: Any) -> tuple[str | None, list[str]]:
    """What the page says it is in its metadata (``article``, ``listing`` or ``None``), and where it says so."""
    evidence: list[str] = []
    types = {kind.lower() for kind in json_ld_types(root)}
    if types & ARTICLE_TYPES:
        evidence.append("json-ld article")
    if types & LISTING_TYPES:
        evidence.append("json-ld listing")
    og_type = _meta(root, "og:type").lower()
    if og_type:
        evidence.append(f"og:type {og_type}")
    if _meta(root, "article:published_time"):
        evidence.append("article:published_time")
    if "json-ld listing" in evidence and "json-ld article" not in evidence:
        return "listing", evidence
    if "json-ld article" in evidence or og_type == "article" or "article:published_time" in evidence:
        return "article", evidence
    return None, evidence


def json_ld_types(root: Any) -> Iterator[str]:
    """The ``@type`` of each top-level JSON-LD node of the page (an ``@graph``'s nodes included)."""
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):  # broken, or nested deeper than the parser goes
            continue
        nodes = data if isinstance(data, list) else [data]
        for node in nodes:
            if not isinstance(node, dict):
                continue
            graph = node.get("@graph")
            for member in [node, *(graph if isinstance(graph, list) else [])]:
                if isinstance(member, dict):
                    kinds = member.get("@type")
                    for kind in kinds if isinstance(kinds, list) else [kinds]:
                        if isinstance(kind, str):
                            yield kind.rsplit("/", 1)[-1]


def _meta(root: Any, name: str) -> str:
    """The content of the page's first ``<meta property=name>`` (or ``name=name``), else ``""``."""
    for meta in root.iter("meta"):
        if name in (meta.get("property"), meta.get("name")):
            return (meta.get("content") or "").strip()
    return ""


def _first(root: Any, tag: str) -> Any:
    return next(iter(root.iter(tag)), None)


def _weight(text: str | None) -> int:
    return weighted_length(" ".join(text.split())) if text else 0


class _Shape:
    """One walk of a page's body measuring its runs of prose and its headline links."""

    def __init__(self) -> None:
        self.longest_run = 0
        self.headlines = 0
        self.largest_list = 0

    def block(self, element: Any) -> tuple[int, bool]:
        """Walk the block ``element``: its text outside links, and whether a headline link is in it."""
        own_text = _weight(element.text)
        links: list[int] = []  # the weights of the links that stand in this block itself
        children: list[tuple[int, bool, bool]] = []  # (text, has a headline, is a block) of each child
        self._inline_children(element, links, children)
        own_text += sum(text for text, _, is_block in children if not is_block)
        headline_here = [weight for weight in links if weight >= HEADLINE_MIN and own_text < 2 * weight]
        self.headlines += len(headline_here)
        items = sum(1 for _, has_headline, is_block in children if has_headline and is_block)
        self.largest_list = max(self.largest_list, items)
        run = _weight(element.text)
        for text, has_headline, is_block in children:
            if has_headline and is_block:
                self.longest_run, run = max(self.longest_run, run), 0
            else:
                run += text
        self.longest_run = max(self.longest_run, run)
        total = sum(text for text, _, _ in children) + _weight(element.text)
        return total, bool(headline_here) or any(has for _, has, is_block in children if is_block)

    def _inline_children(self, element: Any, links: list[int], children: list[tuple[int, bool, bool]]) -> None:
        """Measure the children of ``element``: blocks on their own, inline elements as part of it."""
        for child in element:
            tail = _weight(child.tail)
            tag = child.tag if isinstance(child.tag, str) else ""
            tag = tag.rsplit("}", 1)[-1].lower()
            if not tag or tag in _SKIPPED_TAGS:
                children.append((tail, False, False))
            elif tag == "a" and child.get("href"):
                links.append(_weight(etree.tostring(child, method="text", encoding="unicode", with_tail=False)))
                children.append((tail, False, False))
            elif tag in _BLOCK_TAGS:
                text, has_headline = self.block(child)
                children.append((text, has_headline, True))
                children.append((tail, False, False))
            else:
                children.append((_weight(child.text), False, False))
                self._inline_children(child, links, children)
                children.append((tail, False, False))
