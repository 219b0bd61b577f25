"""Feeds and sitemaps: the formats seen on news sites, and hostile or broken XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.text.feeds import FeedError, parse_feed, parse_sitemap, read_json_feed, sitemaps_in_robots

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>Old</title><link>/2024/01/01/old.html</link><pubDate>Mon, 01 Jan 2024 08:00:00 +0800</pubDate></item>
<item><title>New &amp; shiny</title><link>http://news.example/2024/03/01/new.html</link><pubDate>Fri, 01 Mar 2024 08:00:00 GMT</pubDate></item>
<item><guid isPermaLink="true">http://news.example/2024/02/01/guid.html</guid></item>
</channel></rss>"""

ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>A</title><link rel="alternate" href="http://news.example/a-1.html"/><link rel="edit" href="http://x/edit"/>
<updated>2024-02-01T00:00:00Z</updated></entry></feed>"""

RDF = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<item rdf:about="http://news.example/rdf-item.html"><title>r</title><link>http://news.example/rdf-item.html</link></item></rdf:RDF>"""

LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss><channel><item><title>&lol3;&xxe;</title><link>http://news.example/x-&lol3;.html</link></item></channel></rss>"""


def test_rss_items_newest_first_and_absolute() -> None:
    urls = [e.url for e in parse_feed(RSS, "http://news.example/rss.xml")]
    assert urls == [
        "http://news.example/2024/03/01/new.html",
        "http://news.example/2024/01/01/old.html",
        "http://news.example/2024/02/01/guid.html",
    ]


def test_atom_and_rdf() -> None:
    assert [e.url for e in parse_feed(ATOM, "http://news.example/")] == ["http://news.example/a-1.html"]
    assert [e.url for e in parse_feed(RDF, "http://news.example/")] == ["http://news.example/rdf-item.html"]


def test_relative_links_are_read_against_the_xml_base_that_holds_them() -> None:
    # an Atom feed at /feeds/atom.xml whose xml:base names /news/: its relative links were read against the feed's
    # own URL, requested under /feeds/, answered 404 and recorded as gone for good
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://news.example/news/"><title>t</title>
<entry><title>A</title><link href="2024/a.html"/></entry>
<entry xml:base="/world/"><title>B</title><link href="b.html"/></entry>
<entry><title>C</title><link xml:base="https://other.example/c/" href="c.html"/></entry>
<entry><title>D</title><link href="http://news.example/d.html"/></entry></feed>"""
    assert [e.url for e in parse_feed(atom, "http://news.example/feeds/atom.xml")] == [
        "http://news.example/news/2024/a.html",
        "http://news.example/world/b.html",
        "https://other.example/c/c.html",
        "http://news.example/d.html",
    ]
    rss = b"""<rss version="2.0" xml:base="http://news.example/zh/"><channel><title>t</title>
<item><title>x</title><link>keji/1.html</link></item></channel></rss>"""
    assert [e.url for e in parse_feed(rss, "http://news.example/rss.xml")] == ["http://news.example/zh/keji/1.html"]


def test_entities_are_neither_expanded_nor_loaded() -> None:
    entries = parse_feed(LAUGHS, "http://news.example/")
    text = " ".join(f"{e.url} {e.title}" for e in entries)
    assert "lollol" not in text and "root:" not in text


def test_a_bare_ampersand_in_a_link_stays_in_the_link() -> None:
    """Broken feeds write query strings unescaped; recovery used to drop '&channel', giving '?id=101=4'."""
    rss = (
        b"<rss><channel><item><title>Q&A &nbsp;</title><link>http://news.example/content.jsp?id=101&channel=4</link>"
        b"</item><item><link><![CDATA[http://news.example/p?a=1&b=2]]></link></item>"
        b"<item><link>http://news.example/q?a=1&amp;b=2&#38;c=3</link></item></channel></rss>"
    )
    assert [e.url for e in parse_feed(rss, "http://news.example/")] == [
        "http://news.example/content.jsp?id=101&channel=4",
        "http://news.example/p?a=1&b=2",
        "http://news.example/q?a=1&b=2&c=3",
    ]
    sitemap = b"<urlset><url><loc>http://news.example/content.jsp?id=102&channel=4</loc></url></urlset>"
    assert [e.url for e in parse_sitemap(sitemap, "http://news.example/").children] == [
        "http://news.example/content.jsp?id=102&channel=4"
    ]


def test_an_item_with_a_text_over_ten_megabytes_loses_no_item() -> None:
    """libxml2 stops at a text node over 10 MB unless told it may be huge, and recovery dropped every later item."""
    items = "".join(
        f"<item><link>http://news.example/{i}.html</link><description>{'x' * (11_000_000 if i == 1 else 10)}"
        "</description></item>"
        for i in range(3)
    )
    body = f"<rss><channel>{items}</channel></rss>".encode()
    assert [e.url for e in parse_feed(body, "http://news.example/")] == [
        f"http://news.example/{i}.html" for i in range(3)
    ]
    sitemap = body.replace(b"<rss><channel>", b"<urlset>").replace(b"</channel></rss>", b"</urlset>")
    sitemap = sitemap.replace(b"item>", b"url>").replace(b"link>", b"loc>")
    assert [e.url for e in parse_sitemap(sitemap, "http://news.example/").children] == [
        f"http://news.example/{i}.html" for i in range(3)
    ]


@pytest.mark.parametrize("body", [b"", b"<html><body>Not a feed</body></html>", b"\x00\x01garbage"])
def test_not_a_feed_is_an_error(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, "http://news.example/")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html></html>",
        b'{"version": "1.1"}',
        b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000,
    ],
    ids=["empty", "html", "no-jsonfeed-version", "nested-100000-deep"],
)
def test_not_a_json_feed_is_an_error_however_deeply_it_nests(body: bytes) -> None:
    with pytest.raises(FeedError):
        read_json_feed(body, "http://news.example/feed.json")


def test_google_news_sitemap_and_index() -> None:
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
    <url><loc>http://news.example/a.html</loc><news:news><news:publication_date>2024-03-01T10:00:00+08:00</news:publication_date>
    <news:title>A</news:title></news:news></url><url><loc>http://news.example/b.html</loc><lastmod>2024-04-01</lastmod></url></urlset>"""
    sitemap = parse_sitemap(urlset, "http://news.example/sitemap.xml")
    assert not sitemap.is_index
    assert [e.url for e in sitemap.children] == ["http://news.example/b.html", "http://news.example/a.html"]
    assert sitemap.children[1].title == "A"
    # the news sitemap's publication date is a first publication; a lastmod is not
    assert sitemap.children[1].first_published == datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    assert sitemap.children[0].first_published is None and sitemap.children[0].published is not None
    index = parse_sitemap(
        b"<sitemapindex><sitemap><loc>/s1.xml.gz</loc></sitemap></sitemapindex>", "http://news.example/"
    )
    assert index.is_index and index.children[0].url == "http://news.example/s1.xml.gz"


def test_sitemaps_named_in_robots() -> None:
    robots = "User-agent: *\nDisallow: /private/\nSitemap: http://news.example/sitemap_index.xml\nsitemap: /news.xml\n"
    assert sitemaps_in_robots(robots, "http://news.example/robots.txt") == [
        "http://news.example/sitemap_index.xml",
        "http://news.example/news.xml",
    ]


def test_first_publication_is_what_a_feed_says_was_published_never_an_update() -> None:
    rss = {e.url: e.first_published for e in parse_feed(RSS, "http://news.example/rss.xml")}
    assert rss["http://news.example/2024/03/01/new.html"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert rss["http://news.example/2024/02/01/guid.html"] is None  # no pubDate
    # an Atom entry with only <updated> has a date to order by, but no first publication
    (atom,) = parse_feed(ATOM, "http://news.example/")
    assert atom.published is not None and atom.first_published is None
    published = ATOM.replace(b"<updated>", b"<published>2024-01-15T09:30:00Z</published><updated>")
    assert parse_feed(published, "http://news.example/")[0].first_published == datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("label", "codec", "rare"),
    [("gb2312", "gbk", "镕"), ("gbk", "gb18030", "𠮷"), ("big5", "big5hkscs", "㗎"), ("GB2312", "gb18030", "喆")],
)
def test_a_feed_declared_in_a_narrow_charset_keeps_every_item_past_a_character_only_its_superset_has(
    label: str, codec: str, rare: str
) -> None:
    # libxml2 read the declared table strictly and, recovering, dropped every item from the first such character
    titles = [f"科學智能{rare if i == 1 else ''}：人工智能驅動的科學研究第{i}篇" for i in range(4)]
    items = "".join(
        f"<item><title>{t}</title><link>http://x.example/{i}.html</link></item>" for i, t in enumerate(titles)
    )
    body = f'<?xml version="1.0" encoding="{label}"?><rss><channel>{items}</channel></rss>'.encode(codec)
    entries = parse_feed(body, "http://x.example/rss.xml")
    assert [e.title for e in entries] == titles
    urls = "".join(
        f"<url><loc>http://x.example/{i}.html</loc><news:news><news:title>{t}</news:title></news:news></url>"
        for i, t in enumerate(titles)
    )
    sitemap = (
        f'<?xml version="1.0" encoding="{label}"?><urlset xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"{urls}</urlset>"
    ).encode(codec)
    assert len(parse_sitemap(sitemap, "http://x.example/sitemap.xml").children) == 4


def test_atom_links_are_relative_to_xml_base() -> None:
    """An Atom feed that sets ``xml:base`` once and writes every link relative to it: the links were joined to the
    feed's own URL (``/feeds/2026/story.html``), every article was a 404 and recorded gone."""
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://news.example/news/"><title>t</title>
<link rel="self" href="/feeds/atom.xml"/>
<entry><title>A</title><link rel="alternate" href="2026/story-a.html"/><updated>2026-12-03T10:00:00Z</updated></entry>
<entry xml:base="/world/"><title>B</title><link href="story-b.html"/><updated>2026-12-03T09:00:00Z</updated></entry>
<entry><title>C</title><link xml:base="https://cdn.example/x/" href="c.html"/><updated>2026-12-03T08:00:00Z</updated></entry>
<entry><title>D</title><link href="/top/d.html"/><updated>2026-12-03T07:00:00Z</updated></entry>
</feed>"""
    assert [e.url for e in parse_feed(atom, "http://news.example/feeds/atom.xml")] == [
        "http://news.example/news/2026/story-a.html",
        "http://news.example/world/story-b.html",
        "https://cdn.example/x/c.html",
        "http://news.example/top/d.html",
    ]


def test_a_relative_xml_base_is_relative_to_the_feed() -> None:
    """``xml:base="/blog/"`` (relative itself) is joined to the feed's URL; a feed without one keeps its URL."""
    atom = (
        b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/"><entry><link href="p-1.html"/></entry></feed>"""
    )
    rss = b"""<rss><channel><item><link>item-1.html</link></item></channel></rss>"""
    assert [e.url for e in parse_feed(atom, "http://news.example/feeds/atom.xml")] == [
        "http://news.example/blog/p-1.html"
    ]
    assert [e.url for e in parse_feed(rss, "http://news.example/feeds/rss.xml")] == [
        "http://news.example/feeds/item-1.html"
    ]


def test_an_xml_base_that_is_no_url_leaves_the_links_relative_to_the_feed() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://[x/"><entry><link href="a.html"/></entry></feed>"""
    assert [e.url for e in parse_feed(atom, "http://news.example/f/atom.xml")] == ["http://news.example/f/a.html"]


PHP_WARNING = (
    b"\n<br />\n<b>Deprecated</b>:  Function create_function() is deprecated in <b>/var/www/wp-includes/feed.php</b>"
    b" on line <b>12</b><br />\n"
)


def test_a_warning_printed_before_the_xml_declaration_is_passed_over() -> None:
    """A PHP notice before the declaration made ``<br>`` the root element: the feed or sitemap was unreadable."""
    sitemap = (
        b'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://news.example/2026/12/03/a.html</loc></url></urlset>"
    )
    assert [e.url for e in parse_feed(PHP_WARNING + RSS, "http://news.example/feed/")] == [
        e.url for e in parse_feed(RSS, "http://news.example/feed/")
    ]
    assert [e.url for e in parse_sitemap(PHP_WARNING + sitemap, "http://news.example/").children] == [
        "http://news.example/2026/12/03/a.html"
    ]


def test_a_declaration_quoted_inside_a_feed_is_no_place_to_start() -> None:
    """A feed without a declaration whose item quotes one (in CDATA) is read from its start."""
    rss = (
        b"<rss><channel><item><title>XML how-to</title><link>http://news.example/xml-how-to-101.html</link>"
        b'<description><![CDATA[Write <?xml version="1.0"?> first.]]></description></item>'
        b"<item><link>http://news.example/second-202.html</link></item></channel></rss>"
    )
    assert len(parse_feed(rss, "http://news.example/")) == 2


def test_a_text_sitemap_lists_one_url_a_line() -> None:
    """sitemaps.org's text form (``sitemap.txt``, often the one robots.txt names) was read as broken XML: unreadable."""
    text = b"\xef\xbb\xbfhttp://news.example/2026/12/03/a.html\r\nhttps://news.example/b-story.html\n\n"
    sitemap = parse_sitemap(text, "http://news.example/sitemap.txt")
    assert not sitemap.is_index
    assert [e.url for e in sitemap.children] == [
        "http://news.example/2026/12/03/a.html",
        "https://news.example/b-story.html",
    ]


@pytest.mark.parametrize("body", [b"Not found\n", b"http://news.example/a.html\nsee also the archive\n", b" \n"])
def test_text_that_is_not_a_list_of_urls_is_no_sitemap(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_sitemap(body, "http://news.example/sitemap.txt")


def test_an_xml_base_that_makes_no_web_address_is_passed_over() -> None:
    # a base of non-ASCII characters is read as written; a javascript: or urn: base would lose every link under it
    atom = """<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/新/"><title>t</title>
<entry><title>A</title><link href="a.html"/></entry>
<entry xml:base="javascript:void(0)"><title>B</title><link href="b.html"/></entry></feed>""".encode()
    assert [e.url for e in parse_feed(atom, "https://news.example/feed.xml")] == [
        "https://news.example/新/a.html",
        "https://news.example/新/b.html",
    ]
