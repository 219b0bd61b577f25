"""Tests of the local news web itself: it serves what it claims (checked with urllib only)."""

from __future__ import annotations

import errno
import gzip
import html
import os
import re
import socket
import time
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from email.message import Message
from pathlib import Path

import pytest

from crawler.sources import parse_sources
from tests.conftest import find_corpus_dir
from tests.localweb import PER_PAGE, SLOW_DELAY, ExpectedArticle, NewsWeb, load_corpus

SITEMAP_NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}

# No proxies from the environment: the sites are on loopback and must be asked directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str) -> tuple[int, Message, bytes, str]:
    """``(status, headers, body, final URL)`` of a GET of ``url`` (redirects followed, errors returned)."""
    try:
        with _OPENER.open(url, timeout=10) as response:
            return response.status, response.headers, response.read(), response.url
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read(), url


def text_of(page: bytes, encoding: str) -> str:
    """The page's text without tags, entities decoded and all white space removed."""
    text = re.sub(r"<[^>]+>", "", page.decode(encoding))
    return re.sub(r"\s+", "", html.unescape(text))


def body_start(article: ExpectedArticle, chars: int = 8) -> str:
    """The first ``chars`` characters of the article's ground truth, white space removed."""
    return re.sub(r"\s+", "", article.body)[:chars]


def by_fault(web: NewsWeb, fault: str) -> ExpectedArticle:
    """The one article of ``web`` that exercises ``fault``."""
    found = [a for a in web.articles if a.fault == fault]
    assert len(found) == 1, fault
    return found[0]


def test_sites_are_on_distinct_loopback_hosts(news_web: NewsWeb) -> None:
    hosts = [site.host for site in news_web.sites.values()]
    assert len(set(hosts)) == len(hosts) >= 3
    assert all(host.startswith("127.") and host != "127.0.0.1" for host in hosts)
    for name, site in news_web.sites.items():
        status, headers, body, _ = fetch(site.url("/robots.txt"))
        assert status == 200 and headers.get_content_type() == "text/plain", name
        assert b"User-agent: *" in body


def test_every_article_serves_its_corpus_bytes(news_web: NewsWeb, corpus_dir: Path) -> None:
    pages = {(p.source, p.id): p for p in load_corpus(corpus_dir)}
    articles = news_web.articles
    assert len({a.url for a in articles}) == len(articles) >= 40
    assert len({(a.corpus_source, a.corpus_id) for a in articles}) == len(articles)
    for article in articles:
        if article.fault == "retry-500":
            fetch(article.url)  # spend the one failure
        status, headers, body, _ = fetch(article.url)
        assert status == 200, article.url
        page = pages[(article.corpus_source, article.corpus_id)]
        assert len(article.body) >= 300 and article.body == page.body
        if article.synthetic:
            assert article.encoding == "big5" and headers.get_content_charset() == "big5"
            continue
        assert body == page.raw(), article.url
        expected_charset = None if article.fault == "no-charset" else article.encoding
        assert headers.get_content_charset() == expected_charset, article.url
        assert body_start(article) in text_of(body, article.encoding), article.url


def test_feeds_list_articles_and_faults(news_web: NewsWeb) -> None:
    feed = news_web.sites["feedsite"]
    status, headers, body, _ = fetch(feed.url("/rss.xml"))
    assert status == 200 and "rss" in headers.get_content_type()
    items = ET.fromstring(body).findall("./channel/item")
    links = [item.findtext("link") for item in items]
    assert all(item.findtext("pubDate") for item in items)
    feed_articles = [a for a in news_web.articles if a.site == "feedsite"]
    assert len(items) == len(feed_articles) + 2 >= 15

    outcomes = {link: fetch(link) for link in links if link}
    statuses = sorted(status for status, _, _, _ in outcomes.values())
    assert statuses.count(404) == 1
    pdf = [(h, b) for s, h, b, _ in outcomes.values() if h.get_content_type() == "application/pdf"]
    assert len(pdf) == 1 and pdf[0][1].startswith(b"%PDF-") and pdf[0][1].rstrip().endswith(b"%%EOF")
    finals = {final.split("?")[0] for status, _, _, final in outcomes.values() if status == 200}
    assert {a.url for a in feed_articles} <= finals  # the redirect ends on the canonical URL

    assert by_fault(news_web, "slow").url in links  # linked like any other
    utm = next(a for a in feed_articles if a.fault == "utm-variant")
    tracked = [link for link in links if "utm_source=rss" in link]
    assert tracked == list(utm.variants) and tracked[0].split("?")[0] == utm.url and utm.url not in links

    status, headers, body, _ = fetch(feed.url("/atom.xml"))
    entries = ET.fromstring(body).findall("a:entry", ATOM_NS)
    assert status == 200 and len(entries) == len(feed_articles)
    assert all(e.findtext("a:published", namespaces=ATOM_NS) for e in entries)
    atom_links = {e.find("a:link", ATOM_NS).get("href") for e in entries}  # type: ignore[union-attr]
    assert tracked[0].split("?")[0] in atom_links  # the same article without the tracking parameters
    status, _, home, _ = fetch(feed.url("/"))
    assert tracked[0].split("?")[0].removeprefix(feed.base_url).encode() in home


def test_redirect_chain_ends_on_the_article(news_web: NewsWeb) -> None:
    article = by_fault(news_web, "redirect")
    feed = news_web.sites["feedsite"]
    _, _, body, _ = fetch(feed.url("/rss.xml"))
    start = next(
        link for link in (i.findtext("link") for i in ET.fromstring(body).iter("item")) if link and "/r/" in link
    )
    status, _, _, final = fetch(start)
    assert status == 200 and final == article.url
    hops = [r.status for r in feed.log if r.path.startswith(("/r/", "/go/"))]
    assert hops == [301, 302]


def test_slow_article_is_slow_but_within_timeout(news_web: NewsWeb) -> None:
    article = by_fault(news_web, "slow")
    began = time.monotonic()
    status, _, _, _ = fetch(article.url)
    assert status == 200 and SLOW_DELAY <= time.monotonic() - began < 10


def test_robots_and_sitemaps(news_web: NewsWeb) -> None:
    site = news_web.sites["sitemapsite"]
    _, _, robots, _ = fetch(site.url("/robots.txt"))
    lines = robots.decode().splitlines()
    assert "Disallow: /private/" in lines
    sitemap_lines = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Sitemap:")]
    assert site.url("/sitemap_index.xml") in sitemap_lines

    status, _, body, _ = fetch(site.url("/sitemap_index.xml"))
    children = [loc.text for loc in ET.fromstring(body).findall("sm:sitemap/sm:loc", SITEMAP_NS)]
    assert status == 200 and len(children) == 2
    locs: list[str] = []
    for child in children:
        status, headers, data, _ = fetch(child)
        assert status == 200
        if child.endswith(".gz"):
            assert data[:2] == b"\x1f\x8b"
            data = gzip.decompress(data)
            root = ET.fromstring(data)
            news = root.findall("sm:url/news:news", SITEMAP_NS)
            assert news and all(
                n.findtext("news:publication_date", namespaces=SITEMAP_NS)
                and n.findtext("news:title", namespaces=SITEMAP_NS)
                for n in news
            )
        else:
            root = ET.fromstring(data)
        locs += [loc.text or "" for loc in root.findall("sm:url/sm:loc", SITEMAP_NS)]
    expected = {a.url for a in news_web.articles if a.site == "sitemapsite"}
    assert set(locs) == expected | set(news_web.disallowed_urls)
    assert news_web.disallowed_urls and all("/private/" in url for url in news_web.disallowed_urls)


def test_gbk_page_without_charset(news_web: NewsWeb) -> None:
    articles = [a for a in news_web.articles if a.fault == "no-charset"]
    assert articles
    for article in articles:
        status, headers, body, _ = fetch(article.url)
        assert status == 200 and headers["Content-Type"] == "text/html"
        assert article.encoding == "gbk" and b"charset" not in body[:4096].lower()
        assert body_start(article) in text_of(body, "gbk")


def test_synthetic_big5_page(news_web: NewsWeb) -> None:
    article = by_fault(news_web, "synthetic-big5")
    assert article.synthetic and article.language == "zh-Hant"
    status, headers, body, _ = fetch(article.url)
    assert status == 200 and headers.get_content_charset() == "big5" and "X-Synthetic" in headers
    assert b"SYNTHETIC" in body[:200]
    text = body.decode("big5")  # strict: every byte is Big5
    assert "charset=big5" in text.lower().replace('"', "")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert body_start(article, 20) in text_of(body, "big5")


def test_listing_pagination_variants_and_navigation(news_web: NewsWeb) -> None:
    site = news_web.sites["listingsite"]
    url, pages, hrefs = site.url("/news/"), [], []
    while url:
        status, _, body, _ = fetch(url)
        assert status == 200
        text = body.decode()
        pages.append(url)
        hrefs += re.findall(r'<li><a href="([^"]+)"', text)
        following = re.search(r'<a rel="next" href="([^"]+)"', text)
        url = site.url(html.unescape(following.group(1))) if following else ""
        assert len(pages) < 20
    listing = [a for a in news_web.articles if a.site == "listingsite"]
    assert len(pages) == -(-len(listing) // PER_PAGE) >= 3
    links = {html.unescape(h) for h in hrefs}
    for article in listing:
        path = article.url.removeprefix(site.base_url)
        if article.fault == "utm-variant":
            assert article.variants[0].removeprefix(site.base_url) in links
        assert path in links, article.url
        for variant in article.variants:
            assert variant.removeprefix(site.base_url) in links, variant
            if article.fault != "retry-500":
                assert fetch(variant)[2] == fetch(article.url)[2]
    kinds = {a.fault for a in listing if a.variants}
    assert {"utm-variant", "spm-variant", "jsessionid-variant", "sid-variant"} <= kinds
    assert {"/about/", "/contact/"} <= links | set(re.findall(r'href="([^"]+)"', fetch(site.url("/news/"))[2].decode()))
    assert fetch(site.url("/about/"))[0] == fetch(site.url("/contact/"))[0] == 200
    assert fetch(site.url("/news/?page=99"))[0] == 404


def test_calendar_trap_is_endless(news_web: NewsWeb) -> None:
    site = news_web.sites["listingsite"]
    prefix = news_web.trap_prefixes["listingsite"]
    _, _, home, _ = fetch(site.url("/"))
    url = site.url(re.search(rf'href="({re.escape(prefix)}[^"]+)"', home.decode()).group(1))  # type: ignore[union-attr]
    seen_urls, seen_bodies = set(), set()
    for _ in range(30):
        status, _, body, _ = fetch(url)
        assert status == 200 and url not in seen_urls and body not in seen_bodies
        seen_urls.add(url)
        seen_bodies.add(body)
        url = site.url(re.search(r'href="([^"]+)">next month', body.decode()).group(1))  # type: ignore[union-attr]
    status, _, body, _ = fetch(site.url(f"{prefix}1999/12/"))
    assert status == 200 and f"{prefix}2000/01/".encode() in body


def test_500_then_ok(news_web: NewsWeb) -> None:
    article = by_fault(news_web, "retry-500")
    assert fetch(article.url)[0] == 500
    assert fetch(article.url)[0] == 200
    assert fetch(article.url)[0] == 200
    assert news_web.article_requests() == [article.url] * 3


def test_reposts_copy_the_body_text(news_web: NewsWeb) -> None:
    assert news_web.reposts
    urls = {a.url for a in news_web.articles}
    for url, original in news_web.reposts.items():
        assert original.url in urls and url not in urls
        status, headers, body, _ = fetch(url)
        assert status == 200 and headers.get_content_charset() == "utf-8"
        lines = [re.sub(r"\s+", "", line) for line in original.body.splitlines() if line.strip()]
        assert all(line in text_of(body, "utf-8") for line in lines)
    _, _, feed, _ = fetch(news_web.sites["repostsite"].url("/feed.xml"))
    assert set(news_web.reposts) <= {i.findtext("link") for i in ET.fromstring(feed).iter("item")}


def test_add_articles_appear_at_the_top(news_web: NewsWeb) -> None:
    before = {a.url for a in news_web.articles}
    new = news_web.add_articles(1)
    assert len(new) == 3 and {a.site for a in new} == {"feedsite", "sitemapsite", "listingsite"}
    assert not {a.url for a in new} & before and {a.url for a in new} <= {a.url for a in news_web.articles}
    by_site = {a.site: a for a in new}
    rss = ET.fromstring(fetch(news_web.sites["feedsite"].url("/rss.xml"))[2])
    assert rss.findtext("./channel/item/link") == by_site["feedsite"].url
    news = ET.fromstring(gzip.decompress(fetch(news_web.sites["sitemapsite"].url("/sitemap-news.xml.gz"))[2]))
    assert news.findtext("sm:url/sm:loc", namespaces=SITEMAP_NS) == by_site["sitemapsite"].url
    listing = fetch(news_web.sites["listingsite"].url("/news/"))[2].decode()
    first = re.search(r'<ul class="articles">\s*<li><a href="([^"]+)"', listing).group(1)  # type: ignore[union-attr]
    assert news_web.sites["listingsite"].url(first) == by_site["listingsite"].url
    for article in new:
        assert fetch(article.url)[0] == 200


def test_requests_are_recorded(news_web: NewsWeb) -> None:
    article = news_web.articles[0]
    fetch(article.url + "?utm_source=test")
    fetch(news_web.sites["feedsite"].url("/rss.xml"))
    assert [name for name, _ in news_web.requests()] == ["feedsite", "feedsite"]
    assert news_web.article_requests() == [article.url + "?utm_source=test"]


def test_sources_toml_covers_every_site(news_web: NewsWeb) -> None:
    text = news_web.sources_toml(max_pages=50)
    tables = tomllib.loads(text)["source"]
    assert {t["name"] for t in tables} == set(news_web.sites)
    assert all(t["max_pages"] == 50 for t in tables)
    sources = parse_sources(text)
    for source in sources:
        assert source.hosts == {news_web.sites[source.name].host}


def test_same_seed_same_pages(corpus_dir: Path) -> None:
    def chosen(seed: int) -> list[tuple[str, str, str | None]]:
        web = NewsWeb.build(corpus_dir, seed=seed)
        try:
            return [(a.corpus_source, a.corpus_id, a.fault) for a in web.articles]
        finally:
            web.stop()

    assert chosen(0) == chosen(0)
    assert chosen(0) != chosen(1)


def test_corpus_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AI4S_TEST_CORPUS", str(tmp_path))
    assert find_corpus_dir() is None
    (tmp_path / "index.jsonl").write_text("")
    assert find_corpus_dir() == tmp_path.resolve()


def test_internet_is_out_of_reach() -> None:
    if os.environ.get("AI4S_TEST_ALLOW_NETWORK") == "1":
        pytest.skip("AI4S_TEST_ALLOW_NETWORK=1 lifts the guard")
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: refused before any packet is sent
    with socket.socket() as sock:
        assert sock.connect_ex(("192.0.2.1", 80)) == errno.ENETUNREACH
