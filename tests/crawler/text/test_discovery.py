"""Discovery, without a crawl: what feeds, robots.txt files, sitemaps (indexes, urlsets, gzipped
or not) and listing pages as news sites publish them lead to, within a source's bounds, and how
links to other schemes, to internal addresses and to other sites are left out."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crawler.text.addresses import AddressPolicy
from crawler.text.discovery import (
    MAX_ENTRY_LINKS,
    ArticleLink,
    Discovery,
    EntryPage,
    FetchedEntryPage,
    PageLink,
    Scope,
    discover,
    discover_feed,
    discover_listing,
    discover_robots,
    discover_sitemap,
    gunzip,
    revisit,
    start_pages,
)

SITE = "https://www.science-daily.example"
#: The source's own host is a loopback address (as an intranet outlet, or the test web, would be).
OWN = "http://127.0.0.9:8080"
SCOPE = Scope(addresses=AddressPolicy.from_urls([f"{SITE}/rss/ai.xml", f"{OWN}/news/"]), max_depth=2, max_pagination=3)

#: An RSS 2.0 feed as a news site serves it: a ttl, items out of date order, and a few links no crawler should follow.
RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>Science Daily - AI</title><link>{SITE}/ai/</link><ttl>30</ttl>
  <atom:link href="{SITE}/rss/ai.xml" rel="self" type="application/rss+xml"/>
  <item><title>Older: protein design</title><link>{SITE}/2025/03/02/protein-design.html</link>
    <pubDate>Sun, 02 Mar 2025 09:00:00 +0000</pubDate></item>
  <item><title>Newest: weather model</title><link>/2025/03/04/ai-weather-model.html?utm_source=rss</link>
    <pubDate>Tue, 04 Mar 2025 07:30:00 +0000</pubDate></item>
  <item><title>Scripted</title><link>javascript:alert(1)</link><pubDate>Mon, 03 Mar 2025 10:00:00 +0000</pubDate></item>
  <item><title>Intranet</title><link>http://10.0.0.7/2025/03/03/leak.html</link>
    <pubDate>Mon, 03 Mar 2025 11:00:00 +0000</pubDate></item>
  <item><title>Own loopback host</title><link>{OWN}/2025/03/03/materials.html</link>
    <pubDate>Mon, 03 Mar 2025 12:00:00 +0000</pubDate></item>
  <item><title>FTP</title><link>ftp://www.science-daily.example/2025/03/01/a.html</link></item>
</channel></rss>""".encode()

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab news</title><updated>2025-03-04T00:00:00Z</updated>
<entry><title>Catalysts</title><link rel="alternate" href="/news/2025/ml-catalysts-screening"/>
<link rel="edit" href="/admin/edit/1"/><updated>2025-03-01T00:00:00Z</updated></entry>
<entry><title>Climate</title><link href="https://lab.example/news/2025/ai-climate-emulator"/>
<published>2025-03-03T00:00:00Z</published></entry>
</feed>"""

ROBOTS = f"""# robots.txt for {SITE}
User-agent: *
Disallow: /search
Disallow: /private/

User-agent: GPTBot
Disallow: /

Sitemap: {SITE}/sitemap_index.xml
sitemap: /sitemaps/news.xml.gz
Sitemap: http://192.168.1.20/sitemap.xml
Sitemap: {OWN}/sitemap.xml
""".encode()

INDEX = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{SITE}/sitemaps/2025-02.xml</loc><lastmod>2025-02-28T23:00:00+00:00</lastmod></sitemap>
  <sitemap><loc>{SITE}/sitemaps/2025-03.xml</loc><lastmod>2025-03-04T08:00:00+00:00</lastmod></sitemap>
  <sitemap><loc>gopher://www.science-daily.example/1/</loc></sitemap>
</sitemapindex>""".encode()

#: A Google News sitemap, dates from the news extension.
NEWS_URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>{SITE}/2025/03/03/quantum-chemistry-ml.html</loc>
    <news:news><news:publication><news:name>Science Daily</news:name><news:language>en</news:language></news:publication>
    <news:publication_date>2025-03-03T10:00:00+00:00</news:publication_date><news:title>Quantum chemistry</news:title>
    </news:news></url>
  <url><loc>{SITE}/2025/03/04/ai-drug-discovery-trial.html</loc>
    <news:news><news:publication><news:name>Science Daily</news:name><news:language>en</news:language></news:publication>
    <news:publication_date>2025-03-04T06:00:00+00:00</news:publication_date><news:title>Drug trial</news:title>
    </news:news></url>
  <url><loc>http://127.0.0.1:6379/2025/03/04/redis.html</loc></url>
</urlset>""".encode()

LISTING = f"{SITE}/news/science/"


def article(path: str, via: str, first_published: datetime | None = None) -> ArticleLink:
    return ArticleLink(f"{SITE}{path}", via, first_published)


# -- feeds --------------------------------------------------------------------------------------


def test_a_feed_leads_to_its_items_newest_first_and_asks_for_its_ttl() -> None:
    found = discover_feed(RSS, f"{SITE}/rss/ai.xml", SCOPE)
    assert found.unreadable is None
    # each with the publication date the feed gives it
    assert found.leads == (
        article("/2025/03/04/ai-weather-model.html?utm_source=rss", "feed", datetime(2025, 3, 4, 7, 30, tzinfo=UTC)),
        ArticleLink(f"{OWN}/2025/03/03/materials.html", "feed", datetime(2025, 3, 3, 12, 0, tzinfo=UTC)),
        article("/2025/03/02/protein-design.html", "feed", datetime(2025, 3, 2, 9, 0, tzinfo=UTC)),
    )
    assert found.entry_pages == ()
    assert found.poll_hint == 30 * 60
    assert found.summary == "lists 6 items"  # what the feed lists, before the address policy
    # the intranet link is refused by the address policy, and said so; the javascript: and ftp: links are no web pages
    assert [(link.url, str(link.refusal)) for link in found.refused] == [
        ("http://10.0.0.7/2025/03/03/leak.html", "internal address not configured as a source: 10.0.0.7 (private)")
    ]


def test_an_atom_feed_leads_to_its_alternate_links_made_absolute() -> None:
    found = discover_feed(ATOM, "https://lab.example/feed.atom", Scope())
    assert [a.url for a in found.articles] == [
        "https://lab.example/news/2025/ai-climate-emulator",
        "https://lab.example/news/2025/ml-catalysts-screening",
    ]
    assert found.poll_hint is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b"<html><head><title>Moved</title></head><body><p>Our feeds moved</p></body></html>",
            "not an RSS or Atom feed",
        ),
        (b"<!doctype html><html><head><title>Moved</title></head><body>Gone</body></html>", "not XML"),
        (b"", "empty document"),
    ],
)
def test_a_page_that_is_no_feed_is_unreadable_and_leads_nowhere(body: bytes, why: str) -> None:
    found = discover_feed(body, f"{SITE}/rss/ai.xml", SCOPE)
    assert found.unreadable is not None and why in found.unreadable
    assert found.leads == () and found.poll_hint is None


# -- robots.txt and sitemaps -----------------------------------------------------------------------


def test_robots_txt_leads_to_the_sitemaps_it_names_in_scope() -> None:
    found = discover_robots(ROBOTS, f"{SITE}/robots.txt", SCOPE)
    assert found.leads == (
        EntryPage(f"{SITE}/sitemap_index.xml", "sitemap", 0, 1),
        EntryPage(f"{SITE}/sitemaps/news.xml.gz", "sitemap", 0, 1),
        EntryPage(f"{OWN}/sitemap.xml", "sitemap", 0, 1),
    )
    assert found.articles == ()


def test_a_robots_txt_that_opens_with_a_byte_order_mark_still_names_its_first_sitemap() -> None:
    found = discover_robots(b"\xef\xbb\xbfSitemap: /sitemap.xml\n", f"{SITE}/robots.txt", SCOPE)
    assert found.leads == (EntryPage(f"{SITE}/sitemap.xml", "sitemap", 0, 1),)


def test_a_robots_txt_naming_no_sitemap_is_unreadable() -> None:
    found = discover_robots(b"User-agent: *\nDisallow: /private/\n", f"{SITE}/robots.txt", SCOPE)
    assert found.unreadable == "no Sitemap: line" and found.leads == ()


def test_a_sitemap_index_leads_to_its_sitemaps_one_level_deeper_until_the_nesting_bound() -> None:
    found = discover_sitemap(INDEX, f"{SITE}/sitemap_index.xml", SCOPE, depth=1)
    assert found.leads == (
        EntryPage(f"{SITE}/sitemaps/2025-03.xml", "sitemap", 2, 1),
        EntryPage(f"{SITE}/sitemaps/2025-02.xml", "sitemap", 2, 1),
    )
    assert found.summary == "lists 3 sitemaps"
    bounded = discover_sitemap(INDEX, f"{SITE}/sitemap_index.xml", replace(SCOPE, max_sitemap_depth=1), depth=1)
    assert bounded == Discovery(summary="lists 3 sitemaps")  # read, but nested too deep to follow


LISTING_SITEMAPS = [
    "category-sitemap.xml",
    "post_tag-sitemap2.xml",
    "author-sitemap.xml",
    "page-sitemap.xml",
    "wp-sitemap-taxonomies-category-1.xml",
    "wp-sitemap-users-1.xml",
    "wp-sitemap-posts-page-1.xml",
    "sitemap-tags.xml",
    "sitemap_categories.xml.gz",
]
ARTICLE_SITEMAPS = ["post-sitemap.xml", "post-sitemap2.xml", "wp-sitemap-posts-post-1.xml", "sitemap-news.xml"]


def test_a_sitemap_index_leads_to_its_sitemaps_of_articles_not_of_categories_tags_authors_or_pages() -> None:
    # each category, tag or author page they list was stored as an article, its headlines as its text
    locs = "".join(f"<sitemap><loc>{SITE}/{name}</loc></sitemap>" for name in LISTING_SITEMAPS + ARTICLE_SITEMAPS)
    index = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'.encode()
    found = discover_sitemap(index, f"{SITE}/sitemap_index.xml", SCOPE)
    assert [lead.url for lead in found.leads] == [f"{SITE}/{name}" for name in ARTICLE_SITEMAPS]
    assert found.summary == "lists 13 sitemaps, 9 of them of categories, tags, authors or pages, not read"
    robots = "".join(f"Sitemap: {SITE}/{name}\n" for name in LISTING_SITEMAPS + ARTICLE_SITEMAPS).encode()
    named = discover_robots(robots, f"{SITE}/robots.txt", SCOPE)
    assert [lead.url for lead in named.leads] == [f"{SITE}/{name}" for name in ARTICLE_SITEMAPS]
    only_listings = "".join(f"Sitemap: {SITE}/{name}\n" for name in LISTING_SITEMAPS).encode()
    unread = discover_robots(only_listings, f"{SITE}/robots.txt", SCOPE)  # the source's next way in is tried
    assert unread.leads == () and unread.unreadable == (
        "its Sitemap: lines name only sitemaps of categories, tags, authors or pages"
    )


def test_a_gzipped_news_sitemap_leads_to_its_pages_newest_first() -> None:
    plain = discover_sitemap(NEWS_URLSET, f"{SITE}/sitemaps/news.xml", SCOPE)
    zipped = discover_sitemap(gzip.compress(NEWS_URLSET), f"{SITE}/sitemaps/news.xml.gz", SCOPE)
    assert zipped == plain
    assert plain.leads == (
        article("/2025/03/04/ai-drug-discovery-trial.html", "sitemap", datetime(2025, 3, 4, 6, 0, tzinfo=UTC)),
        article("/2025/03/03/quantum-chemistry-ml.html", "sitemap", datetime(2025, 3, 3, 10, 0, tzinfo=UTC)),
    )
    assert plain.summary == "lists 3 pages"


def test_a_sitemap_naming_more_pages_than_the_protocol_allows_is_read_to_its_newest_50000_each_once() -> None:
    # 10 MiB of sitemap can name 300,000 pages; and a generator can name one page many times
    urls = [f"<url><loc>{SITE}/2025/01/01/story-{n}.html</loc></url>" for n in range(MAX_ENTRY_LINKS + 5000)]
    repeated = f"<url><loc>{SITE}/2025/01/01/story-0.html</loc></url>" * 3
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{repeated}{"".join(urls)}</urlset>'
    found = discover_sitemap(body.encode(), f"{SITE}/sitemap.xml", SCOPE)
    assert found.summary == f"lists {MAX_ENTRY_LINKS + 5003} pages (the first 50,000 read)"
    assert [lead.url for lead in found.leads] == [
        f"{SITE}/2025/01/01/story-{n}.html" for n in range(MAX_ENTRY_LINKS - 3)
    ]


def test_a_gzipped_sitemap_larger_than_the_bound_or_broken_is_unreadable() -> None:
    url = f"{SITE}/sitemaps/news.xml.gz"
    too_big = discover_sitemap(gzip.compress(NEWS_URLSET), url, replace(SCOPE, max_size=len(NEWS_URLSET) - 1))
    assert too_big.unreadable is not None and too_big.unreadable.startswith("bad gzip: ")
    assert discover_sitemap(gzip.compress(NEWS_URLSET), url, replace(SCOPE, max_size=len(NEWS_URLSET))).leads
    broken = discover_sitemap(b"\x1f\x8b\x08" + b"\x00" * 7 + b"not deflate at all", url, SCOPE)
    assert broken.unreadable is not None and broken.unreadable.startswith("bad gzip: ") and broken.leads == ()


def test_a_truncated_gzipped_sitemap_gives_the_pages_before_the_cut() -> None:
    urls = [f"{SITE}/2025/03/{day:02d}/story-{n}-of-the-day.html" for day in range(1, 29) for n in range(40)]
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    urlset = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()
    zipped = gzip.compress(urlset)
    assert gunzip(zipped) == urlset
    cut = zipped[: len(zipped) // 2]
    partial = gunzip(cut)
    assert 0 < len(partial) < len(urlset) and urlset.startswith(partial)
    found = discover_sitemap(cut, f"{SITE}/sitemap.xml.gz", SCOPE)
    assert found.unreadable is None and 0 < len(found.articles) < len(urls)
    # the <loc> the cut went through comes out cut short too (it will not be found, once): every other is whole
    whole = [a.url for a in found.articles if a.url in urls]
    assert len(whole) >= len(found.articles) - 1 and whole == urls[: len(whole)]


# -- listing pages ---------------------------------------------------------------------------------

#: The links of a science section page: navigation, sections, articles, pagination, and hostile links.
SECTION_LINKS = (
    PageLink(f"{SITE}/", "Home"),
    PageLink(f"{SITE}/news/", "News"),
    PageLink(f"{SITE}/news/science/ai/", "AI"),
    PageLink(f"{SITE}/2025/03/04/ai-weather-model.html", "AI weather model beats physics"),
    PageLink(f"{SITE}/news/science/deepmind-materials-discovery-lab-results", "Materials discovery"),
    PageLink(f"{SITE}/2025/03/04/ai-weather-model.html", "Read more"),  # the same article again
    PageLink(f"{SITE}/images/2025/03/04/weather.jpg", "photo"),
    PageLink(f"{SITE}/files/2025/report-123456.pdf", "PDF report"),
    PageLink("https://other-news.example/2025/03/04/their-take.html", "Elsewhere"),
    PageLink("javascript:void(0)", "Menu"),
    PageLink("mailto:tips@science-daily.example", "Send us tips"),
    PageLink("http://169.254.169.254/latest/meta-data/", "metadata"),
    PageLink(f"{SITE}/news/science/?page=2", "2"),
    PageLink(f"{SITE}/news/science/?page=7", "Next", "next"),
)


def test_a_listing_page_leads_to_its_articles_its_next_page_and_its_sections_in_page_order() -> None:
    found = discover_listing(LISTING, SECTION_LINKS, SCOPE, depth=0, page=1)
    assert found.leads == (
        EntryPage(f"{SITE}/", "listing", 1, 1),
        EntryPage(f"{SITE}/news/", "listing", 1, 1),
        EntryPage(f"{SITE}/news/science/ai/", "listing", 1, 1),
        article("/2025/03/04/ai-weather-model.html", "listing"),
        article("/news/science/deepmind-materials-discovery-lab-results", "listing"),
        EntryPage(f"{SITE}/news/science/?page=2", "listing", 0, 2),  # the next page: as deep as this one
        EntryPage(f"{SITE}/news/science/?page=7", "listing", 0, 2),
    )
    assert found.poll_hint is None and found.unreadable is None


def test_listing_pages_stop_at_the_pagination_and_depth_bounds_but_their_articles_are_kept() -> None:
    last_page = discover_listing(f"{LISTING}?page=3", SECTION_LINKS, SCOPE, depth=0, page=3)
    assert f"{SITE}/news/science/?page=2" not in {p.url for p in last_page.entry_pages}
    assert all(p.depth == 1 for p in last_page.entry_pages)  # sections only
    deepest = discover_listing(LISTING, SECTION_LINKS, SCOPE, depth=2, page=1)
    assert deepest.entry_pages == (
        EntryPage(f"{SITE}/news/science/?page=2", "listing", 2, 2),
        EntryPage(f"{SITE}/news/science/?page=7", "listing", 2, 2),
    )
    for bounded in (last_page, deepest):
        assert bounded.articles == discover_listing(LISTING, SECTION_LINKS, SCOPE).articles


def test_a_listing_page_on_a_source_host_at_an_internal_address_may_link_to_that_host_only() -> None:
    links = [
        PageLink(f"{OWN}/2025/03/03/materials-for-batteries.html"),
        PageLink("http://127.0.0.10:8080/2025/03/03/neighbour.html"),
        PageLink("http://[::1]:8080/2025/03/03/loopback.html"),
    ]
    found = discover_listing(f"{OWN}/news/", links, SCOPE)
    assert found.leads == (ArticleLink(f"{OWN}/2025/03/03/materials-for-batteries.html", "listing"),)
    # the same host on another port is another origin: refused (links to other hosts are out of a listing's reach)
    other_port = discover_listing(f"{OWN}/news/", [PageLink("http://127.0.0.9:6379/2025/03/03/redis.html")], SCOPE)
    assert other_port.leads == () and [link.url for link in other_port.refused] == [
        "http://127.0.0.9:6379/2025/03/03/redis.html"
    ]
    assert discover_listing(f"{OWN}/news/", links, Scope()).leads == ()  # not a source's host: nothing


# -- the whole: what was fetched, within a scope --------------------------------------------------------


def test_discover_reads_each_kind_of_entry_page_as_its_kind() -> None:
    assert discover(FetchedEntryPage(f"{SITE}/rss/ai.xml", "feed", RSS), SCOPE) == discover_feed(
        RSS, f"{SITE}/rss/ai.xml", SCOPE
    )
    assert discover(FetchedEntryPage(f"{SITE}/robots.txt", "robots", ROBOTS), SCOPE).entry_pages
    nested = discover(FetchedEntryPage(f"{SITE}/sitemap_index.xml", "sitemap", INDEX, depth=2), SCOPE)
    assert {p.depth for p in nested.entry_pages} == {3}
    paged = discover(FetchedEntryPage(LISTING, "listing", b"<html/>", depth=1, page=3, links=SECTION_LINKS), SCOPE)
    assert paged == discover_listing(LISTING, SECTION_LINKS, SCOPE, depth=1, page=3)
    assert discover(FetchedEntryPage(LISTING, "listing", b"%PDF-1.4"), SCOPE).unreadable == "not a web page"
    with pytest.raises(ValueError, match="not an entry-page kind"):
        discover(FetchedEntryPage(LISTING, "article", b"<html/>"), SCOPE)


def test_a_source_starts_from_its_feeds_sitemaps_or_robots_txt_and_listing_pages() -> None:
    pages = start_pages([f"{SITE}/rss/ai.xml"], [f"{SITE}/robots.txt", f"{SITE}/sitemap_index.xml"], [LISTING])
    assert pages == [
        EntryPage(f"{SITE}/rss/ai.xml", "feed", 0, 1),
        EntryPage(f"{SITE}/robots.txt", "robots", 0, 1),
        EntryPage(f"{SITE}/sitemap_index.xml", "sitemap", 0, 1),
        EntryPage(LISTING, "listing", 0, 1),
    ]


def test_an_unchanged_page_leads_again_to_the_pages_it_led_to_that_are_still_in_scope() -> None:
    remembered = [(f"{SITE}/news/science/?page=2", "listing", 0, 2), ("http://10.1.2.3/news/", "listing", 1, 1)]
    assert revisit(remembered, SCOPE).leads == (EntryPage(f"{SITE}/news/science/?page=2", "listing", 0, 2),)


BROKEN_LINKS = ["http://[x/a", "http://127.0.0.1:99999/a", "http://x.example:abc/a", "http://x.example/\ud800"]


def test_a_link_that_is_no_url_is_passed_over_and_the_rest_of_its_entry_page_read() -> None:
    # urljoin and urlsplit raise on these: the whole feed, sitemap or listing was lost for one broken link
    good = f"{SITE}/2025/03/02/catalysts.html"
    items = "".join(f"<item><link>{link}</link></item>" for link in [*BROKEN_LINKS, good]).encode(
        "utf-8", "surrogatepass"
    )
    assert [
        lead.url for lead in discover_feed(b"<rss><channel>" + items + b"</channel></rss>", f"{SITE}/rss", SCOPE).leads
    ] == [good]
    locs = "".join(f"<url><loc>{link}</loc></url>" for link in [*BROKEN_LINKS, good]).encode("utf-8", "surrogatepass")
    assert [lead.url for lead in discover_sitemap(b"<urlset>" + locs + b"</urlset>", f"{SITE}/s.xml", SCOPE).leads] == [
        good
    ]
    links = [PageLink(link, "a link", "") for link in [*BROKEN_LINKS, good]]
    assert [lead.url for lead in discover_listing(f"{SITE}/news/", links, SCOPE).leads] == [good]
