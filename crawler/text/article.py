"""What extraction makes of a page (:class:`ExtractedArticle` or :class:`NotAnArticle`) and the name of the
extractor, apart from the extractor itself: the crawl process receives these from its workers without
importing trafilatura. Pure: no Scrapy, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version

#: The extractor that makes an article's fields, as kept with each article's page: a page whose
#: article was extracted by another one is worth extracting again (``ai4s reprocess``).
EXTRACTOR = f"trafilatura {version('trafilatura')}"


@dataclass(frozen=True)
class ExtractedArticle:
    """The fields of an article page."""

    text: str
    title: str | None
    published: datetime | None
    author: str | None
    site_name: str | None
    language: str | None
    encoding: str
    #: The URL the page names as its own (``<link rel="canonical">``, else ``og:url``), absolute; as the page gives it.
    declared_url: str | None = None


@dataclass(frozen=True)
class NotAnArticle:
    """A page that holds no article, and why (``outcome`` is ``no_text`` or ``not_html``; ``network_error`` for a
    page whose text could not be decoded: a failed fetch, tried again at the next crawl; ``extraction_error`` for
    a page whose extraction killed its worker or ran past its CPU time, tried again too)."""

    outcome: str
    reason: str
    encoding: str | None = None
