"""Tests of the offline demo news web (crawler/app/demo.py) and of the real sources file (seeds/sources.toml).

Only the standard library talks to the sites (urllib, html.parser, ElementTree), so these tests check
what any HTTP client sees, independent of the crawler.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.error
import urllib.request
import urllib.robotparser
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from crawler.app.demo import DemoWeb
from crawler.sources import load_sources, parse_sources
from crawler.text.normalize import to_simplified

ROOT = Path(__file__).resolve().parents[3]
SOURCES_FILE = ROOT / "seeds" / "sources.toml"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
W3C_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$")
REPOST_SEED = "seeds/001_9f60c6357115246a.txt"


@dataclass
class Fetched:
    """One HTTP answer as urllib saw it."""

    url: str
    status: int
    headers: Message
    body: bytes

    @property
    def charset(self) -> str:
        """The charset named in Content-Type (utf-8 when none)."""
        return self.headers.get_content_charset() or "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with the declared charset."""
        return self.body.decode(self.charset)


def fetch(url: str) -> Fetched:
    """GET ``url`` with urllib, returning error statuses instead of raising."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return Fetched(url, response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Fetched(url, error.code, error.headers, error.read())


class PageOutline(HTMLParser):
    """What a reader sees of an HTML page: lang, title, metas, links, h1 and the article's paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype = ""
        self.lang = ""
        self.title = ""
        self.meta: dict[str, str] = {}
        self.charset = ""
        self.links: list[str] = []
        self.h1 = ""
        self.article_paragraphs: list[str] = []
        self.tags: set[str] = set()
        self._open: list[str] = []
        self._text: list[str] = []
        self._in_article = 0

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        self.tags.add(tag)
        if tag == "html":
            self.lang = values.get("lang", "")
        elif tag == "meta":
            if "charset" in values:
                self.charset = values["charset"]
            key = values.get("property") or values.get("name")
            if key:
                self.meta[key] = values.get("content", "")
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"])
        elif tag == "article":
            self._in_article += 1
        if tag in ("title", "h1", "p"):
            self._open.append(tag)
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._in_article -= 1
        if self._open and self._open[-1] == tag:
            self._open.pop()
            text = "".join(self._text).strip()
            if tag == "title":
                self.title = text
            elif tag == "h1":
                self.h1 = text
            elif tag == "p" and self._in_article:
                self.article_paragraphs.append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)


def outline(page: Fetched) -> PageOutline:
    """Parse a fetched HTML page."""
    parser = PageOutline()
    parser.feed(page.text)
    parser.close()
    return parser


def absolute_links(page: Fetched) -> list[str]:
    """The page's links made absolute, fragments dropped."""
    return [urljoin(page.url, link).split("#")[0] for link in outline(page).links]


@pytest.fixture(scope="module")
def web() -> Iterator[DemoWeb]:
    """The demo web, serving for the whole module."""
    demo = DemoWeb()
    demo.start()
    try:
        yield demo
    finally:
        demo.stop()


def urls_of(web: DemoWeb, site: str) -> list[str]:
    """The article URLs of one demo site."""
    return [web.article_url(a) for a in web.articles if a.site == site]


def repost_urls(web: DemoWeb) -> dict[str, str]:
    """Site name → URL of the reposted seed story."""
    return {a.site: web.article_url(a) for a in web.articles if a.origin == REPOST_SEED}


# -- the web as a whole -----------------------------------------------------------------
def test_sites_serve_on_distinct_loopback_hosts(web: DemoWeb) -> None:
    hosts = [urlsplit(site.base_url).hostname for site in web.sites.values()]
    assert len(set(hosts)) == len(hosts) == 3
    for site in web.sites.values():
        assert ipaddress.ip_address(site.host).is_loopback
        home = fetch(site.url("/"))
        assert home.status == 200 and home.headers.get_content_type() == "text/html"
        robots = fetch(site.url("/robots.txt"))
        assert robots.status == 200 and "User-agent: *" in robots.text
        assert fetch(site.url("/no/such/page.html")).status == 404


def test_feed_is_rss_whose_links_are_article_pages(web: DemoWeb) -> None:
    feed = fetch(web.feed_url())
    assert feed.status == 200 and "xml" in feed.headers.get_content_type()
    rss = ET.fromstring(feed.body)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    items = rss.findall("./channel/item")
    assert len(items) == len(urls_of(web, "demo-xinhua")) >= 3
    for item in items:
        title, link = item.findtext("title"), item.findtext("link")
        assert title and link and item.findtext("guid") == link
        published = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert published.tzinfo is not None
        page = fetch(link)
        assert page.status == 200 and page.headers.get_content_type() == "text/html"
        assert outline(page).h1 == title


def test_sitemap_declared_in_robots_lists_existing_pages(web: DemoWeb) -> None:
    robots = fetch(web.robots_url("demo-sjtu")).text
    declared = [line.split(":", 1)[1].strip() for line in robots.splitlines() if line.lower().startswith("sitemap:")]
    assert len(declared) == 1
    urlset = ET.fromstring(fetch(declared[0]).body)
    assert urlset.tag == f"{SITEMAP_NS}urlset"
    locs = [entry.findtext(f"{SITEMAP_NS}loc") or "" for entry in urlset.findall(f"{SITEMAP_NS}url")]
    assert sorted(locs) == sorted(urls_of(web, "demo-sjtu"))
    for entry in urlset.findall(f"{SITEMAP_NS}url"):
        assert W3C_DATETIME.match(entry.findtext(f"{SITEMAP_NS}lastmod") or "")
    for loc in locs:
        page = fetch(loc)
        assert page.status == 200 and outline(page).lang == "en"


def test_listing_paginates_over_every_portal_article(web: DemoWeb) -> None:
    first = fetch(web.listing_url())
    assert first.status == 200
    articles = set(urls_of(web, "demo-portal"))
    page_two = [link for link in absolute_links(first) if link.endswith("/news/index_2.html")]
    assert page_two, "the first listing page has no link to page 2"
    second = fetch(page_two[0])
    assert second.status == 200
    assert web.listing_url() in absolute_links(second), "page 2 does not link back to page 1"
    on_first = articles & set(absolute_links(first))
    on_second = articles & set(absolute_links(second))
    assert on_first and on_second and not on_first & on_second
    assert on_first | on_second == articles


def test_repost_has_the_same_body_on_both_sites(web: DemoWeb) -> None:
    urls = repost_urls(web)
    assert set(urls) == {"demo-xinhua", "demo-portal"}
    original, repost = fetch(urls["demo-xinhua"]), fetch(urls["demo-portal"])
    assert original.status == repost.status == 200
    assert urlsplit(original.url).path != urlsplit(repost.url).path
    a, b = outline(original), outline(repost)
    assert len(a.article_paragraphs) > 10
    # the repost carries the story in traditional script, with an editor's line: a near copy, not an exact one
    assert a.article_paragraphs != b.article_paragraphs and len(b.article_paragraphs) == len(a.article_paragraphs) + 1
    assert b.article_paragraphs[-1].startswith("（責任編輯")
    assert [to_simplified(p) for p in b.article_paragraphs[:3]] == a.article_paragraphs[:3]
    assert to_simplified(b.h1) == a.h1 and a.title != b.title  # same story, another template


def test_gbk_site_serves_gbk_bytes(web: DemoWeb) -> None:
    for url in urls_of(web, "demo-portal") + [web.listing_url()]:
        page = fetch(url)
        assert page.charset == "gbk"
        text = page.body.decode("gbk")
        assert outline(page).charset == "gbk"
        with pytest.raises(UnicodeDecodeError):
            page.body.decode("utf-8")
        assert "门户新闻" in text


def test_robots_disallows_the_portal_search(web: DemoWeb) -> None:
    robots = urllib.robotparser.RobotFileParser(web.robots_url("demo-portal"))
    robots.read()
    assert not robots.can_fetch("ai4s-monitor", web.sites["demo-portal"].url("/search/"))
    assert all(robots.can_fetch("ai4s-monitor", url) for url in urls_of(web, "demo-portal"))
    assert fetch(web.sites["demo-portal"].url("/about/")).status == 200
    assert fetch(web.sites["demo-portal"].url("/contact/")).status == 200


# -- the article pages ------------------------------------------------------------------
def test_article_pages_look_like_news_pages(web: DemoWeb) -> None:
    for article in web.articles:
        page = fetch(web.article_url(article))
        assert page.status == 200
        seen = outline(page)
        assert seen.doctype.lower() == "doctype html"
        assert seen.lang == article.language and seen.charset == page.charset
        assert article.title in seen.title and seen.meta.get("og:title") == article.title
        assert seen.h1 == article.title
        assert "article" in seen.tags and "/" in seen.links  # an article inside a site with a home link
        assert len(seen.article_paragraphs) >= 3
        related = set(absolute_links(page)) & set(web.article_urls())
        assert related and web.article_url(article) not in related
        if article.published is not None:
            assert seen.meta["article:published_time"] == article.published.isoformat()
        else:
            assert "article:published_time" not in seen.meta
        assert "Copyright" in page.text or "©" in page.text or "&#169;" in page.text
        body = "\n".join(seen.article_paragraphs)
        assert "![" not in body and "**" not in body


def test_seed_noise_is_kept(web: DemoWeb) -> None:
    bodies = {}
    for article in web.articles:
        if article.origin.startswith("seeds/") and article.origin[6:9] not in bodies:  # first copy of each seed
            bodies[article.origin[6:9]] = "\n".join(outline(fetch(web.article_url(article))).article_paragraphs)
    assert set(bodies) == {"000", "001", "002", "003", "004"}
    assert "新華網(wǎng)" in bodies["000"] and "NetEase Hao" in bodies["000"]
    assert "本文转载自新华网" in bodies["001"]
    assert "Objects365" in bodies["002"]
    assert "標(biāo)簽" in bodies["003"] and "?" in bodies["003"]
    assert "Latest News" in bodies["004"]


def test_demo_has_ordinary_news_in_both_languages(web: DemoWeb) -> None:
    ordinary = [a for a in web.articles if a.origin.startswith("demo_content/")]
    assert 4 <= len(ordinary) <= 6
    assert {a.language for a in ordinary} >= {"zh-Hans", "en"}
    for article in ordinary:
        assert len(article.paragraphs) >= 3
        assert "AI" not in article.title and "人工智能" not in "".join(article.paragraphs)


def test_expected_article_count_is_what_discovery_finds(web: DemoWeb) -> None:
    feed = ET.fromstring(fetch(web.feed_url()).body)
    from_feed = {item.findtext("link") for item in feed.findall("./channel/item")}
    sitemap = ET.fromstring(fetch(web.sites["demo-sjtu"].url("/sitemap.xml")).body)
    from_sitemap = {entry.findtext(f"{SITEMAP_NS}loc") for entry in sitemap.iter(f"{SITEMAP_NS}url")}
    first = fetch(web.listing_url())
    second = fetch(web.sites["demo-portal"].url("/news/index_2.html"))
    from_listing = {link for page in (first, second) for link in absolute_links(page)} & set(web.article_urls())
    found = from_feed | from_sitemap | from_listing
    assert found == set(web.article_urls())
    assert web.expected_article_count() == len(found) == 12


# -- sources files ----------------------------------------------------------------------
def test_demo_sources_toml_points_at_the_demo_sites(web: DemoWeb) -> None:
    sources = parse_sources(web.sources_toml(), "demo sources")  # the crawler's own validator
    assert {s.name for s in sources} == set(web.sites)
    for source in sources:
        assert source.every == "1h"
        assert source.language in ("zh", "en")
        site = web.sites[source.name]
        assert source.entry_urls
        for url in source.entry_urls:
            assert url.startswith(site.base_url + "/")
            assert fetch(url).status == 200


def test_seed_sources_file_is_valid() -> None:
    sources = load_sources(SOURCES_FILE)  # the crawler's own validator
    assert {"xinhua", "xinhua_en", "netease", "gov_cn", "stdaily", "xfrb", "sjtu_en"} <= {s.name for s in sources}
    for source in sources:
        assert source.language in ("zh", "en"), f"{source.name}: language {source.language!r}"


def test_every_real_url_is_marked_unverified() -> None:
    lines = SOURCES_FILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*(feeds|sitemaps|start_urls)\s*=", line):
            assert lines[number - 1].lstrip().startswith("# unverified:"), f"line {number + 1} has no note"
