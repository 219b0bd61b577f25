"""Adding seed articles: from a text file or a page on a local web server (fetched with a
User-Agent, within a time and a size bound, over http(s) only), named by number and hash, never twice."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.seed_articles import (
    MIN_SEED_CHARS,
    USER_AGENT,
    SeedError,
    add_seed,
    fetch_page,
    seed_path,
    seed_text_of_page,
)
from tests.crawler.support import PARAGRAPH, article_html

TITLE = "Machine learning speeds up the search for new catalysts"


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite("seedsite") as site:
        yield site


def test_a_seed_is_named_by_its_number_and_the_hash_of_its_text(tmp_path: Path) -> None:
    text = PARAGRAPH * 3
    first = seed_path(tmp_path, text)
    assert first == tmp_path / f"000_{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt"
    first.write_text(text, encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a seed", encoding="utf-8")
    second = seed_path(tmp_path, text + " And more.")
    assert second.name.startswith("001_") and second != first
    with pytest.raises(SeedError, match="this seed is already there"):
        seed_path(tmp_path, text)
    with pytest.raises(SeedError, match=f"{MIN_SEED_CHARS} characters at least"):
        seed_path(tmp_path, "  " + "x" * (MIN_SEED_CHARS - 1) + "\n\n")


def test_a_seed_from_a_file_is_added_once(tmp_path: Path) -> None:
    source = tmp_path / "article.txt"
    source.write_text(f"{TITLE}\n\n{PARAGRAPH * 3}", encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    added = add_seed(str(source), seeds)
    assert added.parent == seeds and added.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")
    with pytest.raises(SeedError, match="already there"):
        add_seed(str(source), seeds)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(SeedError, match="cannot read .*latin1.txt as UTF-8 text"):
        add_seed(str(tmp_path / "latin1.txt"), seeds)
    with pytest.raises(SeedError, match="cannot read"):
        add_seed(str(tmp_path / "missing.txt"), seeds)
    assert [p.name for p in seeds.iterdir()] == [added.name]


def test_a_seed_from_a_web_page_is_its_article_text_with_its_source(site: LocalSite, tmp_path: Path) -> None:
    url = site.add("/news/catalysts.html", html_reply(article_html(TITLE)))
    added = add_seed(url, tmp_path)
    text = added.read_text(encoding="utf-8")
    assert text.startswith(f"{TITLE}\n\n") and text.endswith(f"\n\nSource: {url}\n")
    assert f"{TITLE}, paragraph 7." in text and "Home" not in text  # the article, not the navigation
    (request,) = site.requests_for("/news/catalysts.html")
    assert request.headers["User-Agent"] == USER_AGENT


def test_a_page_that_is_not_an_article_or_not_there_is_refused(site: LocalSite) -> None:
    feed = site.add(
        "/rss.xml", Reply(200, b"<rss version='2.0'><channel/></rss>", {"Content-Type": "application/rss+xml"})
    )
    with pytest.raises(SeedError, match="not a web page"):
        seed_text_of_page(feed)
    with pytest.raises(SeedError, match=r"cannot fetch .*/missing\.html: HTTP Error 404"):
        seed_text_of_page(site.url("/missing.html"))


def test_a_fetch_is_bounded_in_size_and_time(site: LocalSite) -> None:
    big = site.add("/big.html", html_reply("<p>" + "a" * 100_000 + "</p>"))
    page = fetch_page(big, max_bytes=1000)
    assert len(page.body) == 1000 and page.charset == "utf-8" and page.content_type == "text/html; charset=utf-8"
    slow = site.add("/slow.html", Reply(200, b"<p>late</p>", {"Content-Type": "text/html"}, delay=5.0))
    started = time.monotonic()
    with pytest.raises(SeedError, match="cannot fetch .*timed out"):
        fetch_page(slow, timeout=0.5)
    assert time.monotonic() - started < 3


def test_only_http_addresses_are_fetched_even_after_a_redirect(site: LocalSite) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x.html", "http:///no-host"):
        with pytest.raises(SeedError, match="only http\\(s\\) addresses are fetched"):
            fetch_page(url)
    hop = site.add("/hop.html", Reply(302, b"", {"Location": "ftp://127.0.0.1/x.html"}))
    with pytest.raises(SeedError, match="not an http\\(s\\) address"):
        fetch_page(hop)
    page = site.add("/page.html", html_reply(article_html(TITLE)))
    moved = site.add("/moved.html", Reply(301, b"", {"Location": page}))
    assert fetch_page(moved).url == page  # an http redirect is followed
