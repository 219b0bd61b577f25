"""The fallback chain on a local web (tests/fallbackweb.py): a feed that dies mid-life, and a sitemap that
moves. The crawl falls back, still finds the new articles, says so in its log and summary; an entry point
that recovers is used again and the fallback is not; ``ai4s sources check`` shows what happened."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article
from tests.crawler.support import ai4s, ai4s_in_process, table_rows
from tests.fallbackweb import FallbackWeb

FAST = ["-s", "DOWNLOAD_DELAY=0.05", "-s", "AUTOTHROTTLE_START_DELAY=0.05", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> FallbackWeb:
    monkeypatch.setenv("COLUMNS", "200")  # the crawl's summary table, one line a row
    return FallbackWeb()


def crawl(sources: Path, db_url: str, source: str) -> subprocess.CompletedProcess[str]:
    result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "--source", source, *FAST, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def stored(db_url: str) -> set[str]:
    with Database(db_url) as database, database.session() as session:
        return set(session.execute(select(Article.canonical_url)).scalars())


def summary(stdout: str, source: str) -> dict[str, str]:
    """The summary table's row of ``source``, by column header."""
    lines = stdout.splitlines()
    header = next(line for line in lines if "┃" in line and "source" in line)
    names = [cell.strip() for cell in header.split("┃")[1:-1]]
    row = next(line for line in lines if line.startswith("│") and line.split("│")[1].strip() == source)
    return dict(zip(names, (cell.strip() for cell in row.split("│")[1:-1]), strict=True))


def check_rows(db_url: str, source: str) -> dict[str, str]:
    """``ai4s sources check --source SOURCE``: each entry point's row (its cells joined by " | "), by its URL."""
    result = ai4s_in_process("sources", "check", "--db", db_url, "--source", source)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout, key_column=1)
    return {url: " | ".join(cells) for url, cells in rows.items() if url.startswith("http")}


def test_a_feed_that_dies_is_stood_in_for_by_the_homepage_and_used_again_when_it_comes_back(
    web: FallbackWeb, tmp_path: Path
) -> None:
    site, sources, db_url = web.feedsite, tmp_path / "sources.toml", f"sqlite:///{tmp_path / 'c.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    homepage = canonical_url(site.server.url("/"))
    with web:
        first = crawl(sources, db_url, "feedsite")
        assert {canonical_url(url) for url in site.articles} <= stored(db_url)
        assert not site.requests_for("/") and "falling back" not in first.stderr  # a working feed needs no fallback
        assert summary(first.stdout, "feedsite")["fallback"] == "0"

        site.feed_alive = False
        published_while_dead = site.publish(2)
        second = crawl(sources, db_url, "feedsite")
        assert {canonical_url(url) for url in published_while_dead} <= stored(db_url)
        said = [line for line in second.stderr.splitlines() if "falling back to" in line]
        assert said and site.feed_url in said[0] and "404" in said[0] and homepage in said[0], second.stderr[-2000:]
        assert len(site.requests_for("/")) == 1  # the homepage's link to itself is no second request
        assert summary(second.stdout, "feedsite")["fallback"] == "1"
        rows = check_rows(db_url, "feedsite")
        assert "failing (1 in a row)" in rows[site.feed_url] and "failed 404" in rows[site.feed_url]
        assert "(fallback)" in rows[homepage] and rows[homepage].split(" | ")[4] == "2"  # it found the two

        site.feed_alive = True
        homepage_polls = len(site.requests_for("/"))
        published_after = site.publish(2)
        third = crawl(sources, db_url, "feedsite")
        assert {canonical_url(url) for url in published_after} <= stored(db_url)
        assert len(site.requests_for("/")) == homepage_polls  # the feed is used again, not the fallback
        assert "falling back" not in third.stderr and summary(third.stdout, "feedsite")["fallback"] == "0"
        feed = check_rows(db_url, "feedsite")[site.feed_url].split(" | ")
        assert feed[4] == "8" and feed[-2] == "ok"  # its 6, then the 2 published after it came back


def test_a_sitemap_that_moves_is_found_again_through_robots_txt(web: FallbackWeb, tmp_path: Path) -> None:
    site, sources, db_url = web.sitemapsite, tmp_path / "sources.toml", f"sqlite:///{tmp_path / 'c.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    robots = canonical_url(site.server.url("/robots.txt"))
    with web:
        crawl(sources, db_url, "sitemapsite")
        assert {canonical_url(url) for url in site.articles} <= stored(db_url)

        site.move_sitemap()
        published_after_the_move = site.publish(3)
        moved = crawl(sources, db_url, "sitemapsite")
        assert {canonical_url(url) for url in published_after_the_move} <= stored(db_url)
        assert site.requests_for("/sitemaps/news.xml")
        said = [line for line in moved.stderr.splitlines() if "falling back to" in line]
        assert said and site.sitemap_url in said[0] and robots in said[0], moved.stderr[-2000:]
        summary_row = summary(moved.stdout, "sitemapsite")
        assert summary_row["fallback"] == "1" and summary_row["errors"] == "1"  # the old sitemap's 404 only
        rows = check_rows(db_url, "sitemapsite")
        assert "failed 404" in rows[site.sitemap_url]
        assert "robots (fallback)" in rows[robots] and rows[robots].split(" | ")[4] == "3"


def test_a_feed_that_redirects_to_the_homepage_is_stood_in_for_by_the_homepage(
    web: FallbackWeb, tmp_path: Path
) -> None:
    """A site that drops its feed often redirects it to its homepage. The redirect fetched the homepage as the feed
    (unreadable: a web page), and the fallback's request for the same homepage was dropped by the duplicate
    filter: the source found nothing, crawl after crawl."""
    site, sources, db_url = web.feedsite, tmp_path / "sources.toml", f"sqlite:///{tmp_path / 'c.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    site.feed_alive, site.feed_redirects_home = False, True
    with web:
        result = crawl(sources, db_url, "feedsite")
    assert {canonical_url(url) for url in site.articles} <= stored(db_url), result.stderr[-3000:]
    assert len(site.requests_for("/")) == 2  # through the feed's redirect, then as the homepage; never for its own link
    said = [line for line in result.stderr.splitlines() if "falling back to" in line]
    assert said and site.feed_url in said[0], result.stderr[-2000:]
    row = summary(result.stdout, "feedsite")
    assert row["new"] == str(len(site.articles)) and row["fallback"] == "1"


def test_a_feed_that_hangs_on_a_live_site_is_stood_in_for_by_the_homepage(web: FallbackWeb, tmp_path: Path) -> None:
    """A feed that never answers in time, on a site whose robots.txt answered: the site is alive, the feed is
    dead. A request without an answer was taken for a dead site, never fallen back on: the source found nothing,
    crawl after crawl."""
    site, sources, db_url = web.feedsite, tmp_path / "sources.toml", f"sqlite:///{tmp_path / 'c.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    site.feed_alive, site.feed_hangs = False, 4.0
    with web:
        result = ai4s(
            "crawl", "--sources", str(sources), "--db", db_url, "--source", "feedsite", *FAST,
            "-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=0", timeout=240,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert site.requests_for("/feed.xml") and site.requests_for("/robots.txt")
    assert {canonical_url(url) for url in site.articles} <= stored(db_url), result.stderr[-3000:]
    said = [line for line in result.stderr.splitlines() if "falling back to" in line]
    assert said and site.feed_url in said[0] and "timed out" in said[0], result.stderr[-2000:]
    assert summary(result.stdout, "feedsite")["fallback"] == "1"


def test_a_feed_that_lists_nothing_is_a_warning_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured feed without an item (a wrong URL, a section the site emptied) was an INFO line only: the
    source's summary row was all zeros, and nothing told the user which URL to check."""
    web = FallbackWeb(articles=0)
    sources, db_url = tmp_path / "sources.toml", f"sqlite:///{tmp_path / 'c.sqlite3'}"
    sources.write_text(web.sources_toml(), encoding="utf-8")
    with web:
        result = crawl(sources, db_url, "feedsite")
        web.feedsite.publish(1)
        listed = crawl(sources, db_url, "feedsite")
    said = [line for line in result.stderr.splitlines() if "lists nothing" in line]
    assert len(said) == 1 and "WARNING" in said[0] and web.feedsite.feed_url in said[0], result.stderr[-2000:]
    assert "lists nothing" not in listed.stderr
