"""The pages a crawl needs not fetch (:class:`crawler.crawl.known.KnownUrls`): URLs by their canonical form, the
article pages found during the crawl, and the children of a listing that are known article pages."""

from __future__ import annotations

from crawler.crawl.known import KnownUrls
from crawler.text.urls import canonical_url
from storage.hashing import url_hash
from storage.polling import EntryPageState

STORED = "https://news.example/2025/06/01/ai-weather.html"
FOUND = "https://news.example/2025/06/02/protein-design.html"
LISTING = "https://news.example/science/"


def test_a_url_is_known_in_any_of_its_forms_and_an_article_found_is_known_from_then_on() -> None:
    known = KnownUrls([url_hash(canonical_url(STORED))])
    assert STORED in known and f"{STORED}?utm_source=rss" in known
    assert FOUND not in known
    known.note_article_pages(f"{FOUND}?utm_medium=feed")
    assert FOUND in known and url_hash(canonical_url(FOUND)) in known.hashes


def test_only_a_linked_first_listing_page_that_is_a_known_article_is_dropped_from_a_state() -> None:
    known = KnownUrls([url_hash(canonical_url(STORED))])
    children = (
        (STORED, "listing", 1, 1),  # linked from a listing, found to be an article: dropped
        (STORED, "listing", 0, 1),  # a configured start page: always polled
        (STORED, "listing", 1, 2),  # a next page of a listing: always polled
        (LISTING, "listing", 1, 1),  # a section page the corpus does not know: kept
    )
    states = known.without_known_articles({"key": EntryPageState(LISTING, children=children)})
    assert states["key"].children == children[1:]
    assert states["key"].url == LISTING
