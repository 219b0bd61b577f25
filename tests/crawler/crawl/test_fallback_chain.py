"""The fallback chain's decisions (crawler/crawl/fallback.py), without a crawl: a failed entry point is stood
in for by a healthy sibling, else by its site's robots.txt and homepage (once a crawl); a stale one calls
for the site from the start when nothing else is healthy; a wait is no reason; new articles are credited to
every entry point that named them, and a cut source keeps only its failures."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.crawl.fallback import ENTRY_META, ROOT_META, FallbackChain, tag, tag_entry_point
from crawler.sources import Source
from crawler.text.discovery import EntryPage
from storage.entry_health import STALE_AFTER_POLLS, EntryHealth

SITE = "http://127.0.8.20"
FEED, SITEMAP, LISTING = f"{SITE}/feed.xml", f"{SITE}/sitemap.xml", f"{SITE}/news"


def meta_of(source: str, page: EntryPage) -> dict[str, object]:
    meta: dict[str, object] = {"ai4s_source": source}
    tag_entry_point(meta, page)
    return meta


def stored(source: str, url: str, kind: str, **fields: int) -> EntryHealth:
    moment = datetime(2026, 11, 30, tzinfo=UTC)
    values = {"consecutive_failures": 0, "polls_without_new": 0, "articles_found": 5} | fields
    return EntryHealth(source, url, kind, False, "read", 200, None, moment, moment, recent_found=(), **values,
                       last_new_article_at=None, unchanged_since=None)  # fmt: skip


def test_a_failed_feed_is_stood_in_for_by_a_healthy_sibling_and_nothing_more_is_requested() -> None:
    chain = FallbackChain()
    pages, fallback = chain.start(Source("s", feeds=(FEED,), start_urls=(f"{LISTING}/",)))
    assert [page.url for page in pages] == [FEED, f"{LISTING}/"] and fallback is None
    fallback = chain.note_poll(meta_of("s", pages[0]), "failed", 404, "HTTP 404")
    assert fallback is not None and fallback.pages == ()
    assert (
        f"feed {FEED} failed (HTTP 404); falling back to its other entry points: listing {LISTING}" in fallback.message
    )
    assert chain.fallbacks("s") == 1


def test_a_source_with_no_healthy_entry_point_left_falls_back_to_its_site_once() -> None:
    chain = FallbackChain()
    chain.load([stored("s", SITEMAP, "sitemap", consecutive_failures=2)])  # failing at its last polls too
    pages, _ = chain.start(Source("s", feeds=(FEED,), sitemaps=(SITEMAP,)))
    fallback = chain.note_poll(meta_of("s", pages[0]), "unreadable", 200, "not a feed")
    assert fallback is not None and fallback.pages == (
        EntryPage(f"{SITE}/robots.txt", "robots"),
        EntryPage(f"{SITE}/", "listing"),
    )
    again = chain.note_poll(meta_of("s", pages[1]), "failed", 500, "HTTP 500")
    assert again is not None and again.pages == () and chain.fallbacks("s") == 2  # asked once a crawl
    chain.note_poll(meta_of("s", fallback.pages[1]) | {"ai4s_fallback": True}, "failed", 503)  # no chain of chains
    assert chain.fallbacks("s") == 2


def test_a_wait_a_read_and_a_configured_robots_txt_call_for_no_more() -> None:
    chain = FallbackChain()
    pages, _ = chain.start(Source("s", feeds=(FEED,), sitemaps=(f"{SITE}/robots.txt",)))
    assert chain.note_poll(meta_of("s", pages[0]), "failed", 429, "wait", may_fall_back=False) is None
    assert chain.note_poll(meta_of("s", pages[1]), "read", 200) is None
    fallback = chain.note_poll(meta_of("s", pages[1]), "failed", 404)
    assert fallback is not None and fallback.pages == (EntryPage(f"{SITE}/", "listing"),)  # robots.txt: configured
    assert chain.note_poll({"ai4s_source": "s", ENTRY_META: FEED}, "failed", 404) is None  # not the entry point's own


def test_stale_entry_points_call_for_the_site_from_the_start_unless_another_is_healthy() -> None:
    chain = FallbackChain()
    chain.load([stored("s", FEED, "feed", polls_without_new=STALE_AFTER_POLLS)])
    _, fallback = chain.start(Source("s", feeds=(FEED,)))
    assert fallback is not None and f"named nothing new in {STALE_AFTER_POLLS}+ polls" in fallback.message
    assert [page.kind for page in fallback.pages] == ["robots", "listing"]

    chain = FallbackChain()
    chain.load([stored("t", FEED, "feed", polls_without_new=STALE_AFTER_POLLS)])
    assert chain.start(Source("t", feeds=(FEED,), sitemaps=(SITEMAP,)))[1] is None


def test_a_chain_that_is_off_says_so_and_requests_nothing() -> None:
    chain = FallbackChain(enabled=False)
    pages, _ = chain.start(Source("s", feeds=(FEED,)))
    fallback = chain.note_poll(meta_of("s", pages[0]), "failed", 404)
    assert fallback is not None and fallback.pages == () and "fallback chain is off" in fallback.message


def test_new_articles_are_credited_to_each_entry_point_that_named_them() -> None:
    chain = FallbackChain()
    feed, listing = chain.start(Source("s", feeds=(FEED,), start_urls=(LISTING,)))[0]
    feed_meta, listing_meta = meta_of("s", feed), meta_of("s", listing)
    section: dict[str, object] = {"ai4s_source": "s"}
    tag(section, listing_meta)  # a section the listing led to
    assert section[ENTRY_META] == LISTING and ROOT_META not in section
    for meta, url in (
        (feed_meta, f"{SITE}/a.html"),
        (feed_meta, f"{SITE}/b.html"),
        (section, f"{SITE}/b.html?utm_source=x"),
    ):
        chain.note_named(meta | {"ai4s_source": "s"}, url)
    chain.note_poll(feed_meta, "read", 200)
    chain.note_poll(listing_meta, "unchanged", 304)
    checks = {check.url: check for check in chain.checks([f"{SITE}/b.html"], complete=["s"])["s"]}
    assert (checks[FEED].new_articles, checks[LISTING].new_articles, checks[LISTING].outcome) == (1, 1, "unchanged")
    chain.note_poll(feed_meta, "failed", 500)
    assert [check.url for check in chain.checks([], complete=[])["s"]] == [FEED]  # cut short: failures only


def test_a_site_is_alive_once_it_answered_below_500_in_any_spelling_of_its_host() -> None:
    """What tells a feed that timed out on a live site (fallen back on) from a dead site (not: its homepage would
    time out too): an answer of the site in the crawl, its robots.txt's, in whichever spelling of its host."""
    chain = FallbackChain()
    assert not chain.site_answered(FEED)
    chain.note_answer("http://127.0.8.21/robots.txt", 503)  # a server in trouble: not alive
    chain.note_answer(f"{SITE}./robots.txt", 200)  # the site's robots.txt, its host with a trailing dot
    assert chain.site_answered(FEED) and chain.site_answered("http://2130708500/feed.xml")
    assert not chain.site_answered("http://127.0.8.21/feed.xml")
    chain.note_answer("http://127.0.8.21/news", 404)  # an error page is an answer
    assert chain.site_answered("http://127.0.8.21/feed.xml")
