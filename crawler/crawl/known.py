"""The pages a crawl needs not fetch: the canonical URLs the corpus knew when the crawl started (an article is
stored under them, or their last fetch was a final answer), and the article pages the crawl has found since.

The crawl context reads them once (:func:`storage.repository.known_url_hashes`) and hands them round: the
known-URL filter drops the requests they name, the spider, the store pipeline and the URL claims add what
they find, and the entry-page states a listing left are read and saved without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from crawler.text.urls import canonical_url
from storage.hashing import url_hash
from storage.polling import EntryPageState

#: A page an entry page led to, as its state keeps it: ``(url, kind, depth, page)``.
Child = tuple[str, str, int, int]


class KnownUrls:
    """The URL hashes (of canonical URLs) the crawl needs no fetch of, growing as it finds article pages."""

    def __init__(self, hashes: Iterable[str] = ()) -> None:
        self.hashes = set(hashes)
        self.skipped: set[str] = set()  # the known pages a link to was dropped, each counted once

    def skip(self, key: str) -> bool:
        """Note a link dropped because the page of URL hash ``key`` is known (known from now on, if it was not);
        whether it is the first in this crawl, to be counted as skipped: once per page, however often it is
        linked, by whichever step drops it."""
        self.hashes.add(key)
        if key in self.skipped:
            return False
        self.skipped.add(key)
        return True

    def skip_url(self, url: str) -> bool:
        """:meth:`skip` for the page at ``url``."""
        return self.skip(url_hash(canonical_url(url)))

    def __contains__(self, url: str) -> bool:
        """Whether the corpus needs no fetch of ``url`` again (stored, final, or an article found by this crawl)."""
        return url_hash(canonical_url(url)) in self.hashes

    def note_article_pages(self, *urls: str) -> None:
        """Know the canonical forms of ``urls`` from now on as article pages found by this crawl (pages reached
        as listings that turned out to be articles): no listing keeps them among its children, and no request
        of a listing page reaches them again."""
        self.hashes.update(url_hash(canonical_url(url)) for url in urls)

    def is_known_article(self, child: Child) -> bool:
        """Whether a remembered child page, linked from a listing, is known as an article page (a start page or a
        next page of a listing never is: those are polled whatever they are)."""
        url, kind, depth, page = child
        return kind == "listing" and depth >= 1 and page == 1 and url in self

    def without_known_articles(self, states: dict[str, EntryPageState]) -> dict[str, EntryPageState]:
        """The entry-page states without the children that are known article pages: an older crawl may have kept
        one among a listing's children (a link it requested as an article, or found to be one only later), and a
        listing unchanged since is never to lead to it again."""
        return {
            key: replace(state, children=tuple(child for child in state.children if not self.is_known_article(child)))
            for key, state in states.items()
        }
