"""``ai4s sources discover`` on a local web of outlets that announce their articles in different ways
(tests/discoverweb.py): each entry point found where the site declares it, checked by fetching it; a site
that forbids everything in robots.txt asked nothing more; internal addresses refused; ``--write`` keeps the
sources file's comments; and the source written, crawled, finds what a hand-written source finds."""

from __future__ import annotations

import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.discover.fetch import Fetcher, Limits
from crawler.discover.outlet import discover_outlet
from crawler.sources import parse_sources
from crawler.text.addresses import AddressPolicy
from crawler.text.entrypoints import COMMON_FEED_PATHS, COMMON_SITEMAP_PATHS
from seeds import DEFAULT_SOURCES_FILE
from storage import Database
from storage.models import Article
from tests.crawler.support import PARAGRAPH, ai4s, ai4s_in_process
from tests.discoverweb import ARTICLES, FEED_SIZE, DiscoverWeb

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]


@pytest.fixture(scope="module")
def web(corpus_dir: Path) -> Iterator[DiscoverWeb]:
    """The started discovery web, one site of each kind."""
    with DiscoverWeb(corpus_dir) as started:
        yield started


def paths_requested(web: DiscoverWeb, kind: str) -> list[str]:
    return [record.path for record in web.site(kind).server.log]


def discovered_source(web: DiscoverWeb, kind: str, url: str | None = None) -> dict:
    """The [[source]] table ``discover`` prints for the site of ``kind``."""
    result = ai4s_in_process("sources", "discover", url or web.site(kind).home)
    assert result.returncode == 0, result.stderr
    return tomllib.loads(result.stdout)["source"][0]


def test_a_feed_declared_only_by_link_alternate_is_found_and_checked(web: DiscoverWeb) -> None:
    site = web.site("alternate")
    source = discovered_source(web, "alternate")
    assert source["feeds"] == [site.server.url("/feeds/latest.xml")]
    assert source["start_urls"] == [site.home]  # the home page lists six articles
    assert source["language"] == "en" and source["every"] == "1h"  # the newest article is an hour old
    assert not set(COMMON_FEED_PATHS) & set(paths_requested(web, "alternate"))  # declared: no guessing


def test_a_json_feed_declared_by_link_alternate(web: DiscoverWeb) -> None:
    assert discovered_source(web, "jsonfeed")["feeds"] == [web.site("jsonfeed").server.url("/feed.json")]


def test_a_sitemap_named_only_in_robots_txt_is_followed_through_its_index(web: DiscoverWeb) -> None:
    site = web.site("robots")
    report = discover_outlet(site.home)
    [sitemap] = report.chosen("sitemap")
    assert sitemap.url == site.server.url("/robots.txt")  # the source keeps robots.txt: a moved sitemap is followed
    assert site.article_urls() <= set(sitemap.articles)
    assert site.server.url("/news/") not in sitemap.articles  # sitemaps of categories and tags are not read
    assert not {"/maps/category-sitemap.xml", "/maps/post_tag-sitemap.xml"} & set(paths_requested(web, "robots"))
    assert sitemap.newest is not None and sitemap.fresh
    assert not report.chosen("feed")
    assert not set(COMMON_SITEMAP_PATHS) & set(paths_requested(web, "robots"))


def test_a_feed_at_a_usual_path_is_found_when_nothing_declares_it(web: DiscoverWeb) -> None:
    site = web.site("conventional")
    report = discover_outlet(site.home)
    [feed] = report.chosen("feed")
    assert feed.url == site.server.url("/atom.xml") and len(feed.articles) == FEED_SIZE
    assert feed.note == "found at a usual path"


def test_a_site_without_feeds_or_sitemaps_gets_its_section_page(web: DiscoverWeb) -> None:
    site = web.site("listing")
    source = discovered_source(web, "listing")
    assert source["start_urls"] == [site.server.url("/news/")]  # its home page lists three headlines only
    assert "feeds" not in source and "sitemaps" not in source


def test_from_an_article_url_the_outlet_is_found(web: DiscoverWeb) -> None:
    site = web.site("alternate")
    article = site.server.url(site.articles[3].path)
    source = discovered_source(web, "alternate", article)
    assert source["feeds"] == [site.server.url("/feeds/latest.xml")]
    assert source["start_urls"] == [site.home]  # the article page itself is no listing


def test_a_site_that_disallows_everything_is_asked_for_robots_txt_only(web: DiscoverWeb) -> None:
    site = web.site("blocked")
    result = ai4s_in_process("sources", "discover", site.home)
    assert result.returncode == 1
    assert "disallowed by" in result.stderr and "robots.txt" in result.stderr
    assert result.stdout.strip() == ""  # no empty block
    assert paths_requested(web, "blocked") == ["/robots.txt"]


def test_internal_addresses_a_site_names_are_refused_and_never_asked(web: DiscoverWeb) -> None:
    site = web.site("internal")
    assert site.elsewhere is not None
    result = ai4s_in_process("sources", "discover", site.home)
    assert result.returncode == 0, result.stderr
    assert "refused" in result.stderr and site.elsewhere.host in result.stderr
    assert site.elsewhere.host not in result.stdout
    assert tomllib.loads(result.stdout)["source"][0]["start_urls"] == [site.home]
    assert site.elsewhere.log == []


def test_an_address_that_is_not_http_is_a_clear_message() -> None:
    result = ai4s_in_process("sources", "discover", "ftp://example.org/")
    assert result.returncode == 1 and "not an http(s) URL" in result.stderr


def test_write_adds_the_source_and_keeps_the_comments(web: DiscoverWeb, tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    original = DEFAULT_SOURCES_FILE.read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    site = web.site("conventional")
    result = ai4s_in_process("sources", "discover", site.home, "--sources", str(path), "--write", "--name", "conv")
    assert result.returncode == 0, result.stderr
    text = path.read_text(encoding="utf-8")
    assert text.startswith(original)  # every comment and line kept as it was
    assert "# unverified:" in text
    added = parse_sources(text, path)[-1]
    assert added.name == "conv" and added.feeds == (site.server.url("/atom.xml"),)
    again = ai4s_in_process("sources", "discover", site.home, "--sources", str(path), "--write")
    assert again.returncode == 2 and "already follows" in again.stderr
    assert path.read_text(encoding="utf-8") == text


def test_one_name_for_several_outlets_is_refused_before_anything_is_asked(web: DiscoverWeb, tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    sites = [web.site("conventional"), web.site("alternate")]
    asked_before = [len(site.server.log) for site in sites]
    result = ai4s_in_process(
        "sources", "discover", *(site.home for site in sites), "--sources", str(path), "--write", "--name", "one"
    )
    assert result.returncode == 2 and "--name names one source, and 2 URLs were given" in result.stderr
    assert not path.exists() and [len(site.server.log) for site in sites] == asked_before


def stored_urls(db_url: str) -> set[str]:
    with Database(db_url) as database, database.session() as session:
        return set(session.execute(select(Article.url)).scalars())


def test_the_written_source_crawled_finds_what_a_hand_written_one_finds(web: DiscoverWeb, tmp_path: Path) -> None:
    site = web.site("alternate")
    discovered = tmp_path / "discovered.toml"
    result = ai4s_in_process("sources", "discover", site.home, "--sources", str(discovered), "--write")
    assert result.returncode == 0, result.stderr
    hand = tmp_path / "hand.toml"
    hand.write_text(site.hand_written("alternate"), encoding="utf-8")
    found = {}
    for sources in (discovered, hand):
        db_url = f"sqlite:///{tmp_path / (sources.stem + '.db')}"
        crawl = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
        assert crawl.returncode == 0, crawl.stderr[-3000:]
        found[sources.stem] = stored_urls(db_url) & site.article_urls()
    assert len(found["hand"]) > FEED_SIZE  # the listing pages reach past what the feed lists
    assert found["discovered"] == found["hand"]
    assert len(found["discovered"]) >= ARTICLES - 2  # a corpus page or two may be no article to the extractor


def seed_file(tmp_path: Path, credit: str) -> Path:
    path = tmp_path / "seed.txt"
    path.write_text(f"A report on machine learning in chemistry\n\n{PARAGRAPH * 3}\n\n{credit}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("credit", "advice"),
    [
        ("来源：新华网", "新华网 (credited in its text) is already followed by source 'xinhua'"),
        (
            "Source: example-outlet.org",
            "example-outlet.org (credited in its text) is not a source yet; to follow it run: "
            "ai4s sources discover https://example-outlet.org/ --write",
        ),
        ("来源：光明网", "光明网 (credited in its text) is not a source yet: find its home page"),
    ],
)
def test_seeds_add_proposes_the_outlet_a_seed_credits(tmp_path: Path, credit: str, advice: str) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    result = ai4s_in_process("seeds", "add", str(seed_file(tmp_path, credit)), "--seeds", str(seeds))
    assert result.returncode == 0, result.stderr
    assert f"outlet: {advice}" in result.stdout.replace("\n", "")


def test_seeds_add_from_a_page_discovers_its_site(web: DiscoverWeb, tmp_path: Path) -> None:
    site = web.site("jsonfeed")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    page = site.server.url(site.articles[0].path)
    result = ai4s_in_process("seeds", "add", page, "--seeds", str(seeds), "--discover")
    assert result.returncode == 0, result.stderr
    assert f"(the seed's page) is not a source yet; to follow it run: ai4s sources discover {site.home}" in (
        result.stdout.replace("\n", "")
    )
    block = result.stdout[result.stdout.index("[[source]]") :]
    assert tomllib.loads(block)["source"][0]["feeds"] == [site.server.url("/feed.json")]


@pytest.mark.parametrize("status", [503, 429])
def test_a_site_whose_robots_txt_is_unreachable_is_asked_for_robots_txt_only(status: int) -> None:
    site = LocalSite("busy", "127.0.0.32")
    home = site.add(
        "/",
        html_reply(
            f'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
            f"</head><body><p>{PARAGRAPH}</p></body></html>"
        ),
    )
    site.add("/rss.xml", Reply(200, b"<rss><channel></channel></rss>", {"Content-Type": "application/rss+xml"}))
    site.add("/robots.txt", Reply(status, b"slow down", {"Retry-After": "60"}))
    with site:
        result = ai4s_in_process("sources", "discover", home)
    assert result.returncode == 1
    assert "robots.txt is unreachable" in result.stderr and f"status {status}" in result.stderr
    assert [record.path for record in site.log] == ["/robots.txt"]


def test_a_page_sent_a_byte_at_a_time_is_cut_at_the_time_limit() -> None:
    # each read waited for 64 KiB, and each byte came within the per-read timeout: a page of one byte a second
    # held discovery for hours
    server = socket.socket()
    server.bind(("127.0.0.32", 0))
    server.listen(4)
    url = f"http://127.0.0.32:{server.getsockname()[1]}/"

    def serve() -> None:
        for _ in range(2):  # robots.txt (none: a 404), then the page, a byte every 50 ms for 10 s
            connection, _ = server.accept()
            with connection:
                if connection.recv(65536).startswith(b"GET /robots.txt"):
                    connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    continue
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html>"
                )
                for _ in range(200):
                    time.sleep(0.05)
                    try:
                        connection.sendall(b"x")
                    except OSError:
                        return

    threading.Thread(target=serve, daemon=True).start()
    fetcher = Fetcher(AddressPolicy.from_urls([url]), Limits(timeout=1.0))
    started = time.monotonic()
    answer = fetcher.get(url)
    took = time.monotonic() - started
    fetcher.close()
    server.close()
    assert took < 4, took
    assert answer.body.startswith(b"<html>x")  # what came in time
