"""Real crawls of the fault web (:mod:`tests.faultweb`): damaged bodies, lying headers, a host that asks
to be left alone, robots.txt details. What a fault costs is a failed fetch (tried again at the next crawl),
never an article made of damaged or misread data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, FetchedUrl
from tests.crawler.support import ai4s, article_html
from tests.faultweb import ALLOW_ALL, FaultSite, answer, gzip_bad_crc, gzip_truncated, rss

FAST = ("-s", "DOWNLOAD_DELAY=0", "-s", "AI4S_EXTRACT_WORKERS=1", "-s", "AI4S_RETRY_BACKOFF_BASE=0.1")
HTML = {"Content-Type": "text/html; charset=utf-8"}
GZIPPED_HTML = {**HTML, "Content-Encoding": "gzip"}


@dataclass
class FaultCrawl:
    """What a crawl of the fault web left: its exit code and log, the stored articles' canonical URLs and text,
    and each fetched URL's outcome and error."""

    returncode: int
    stdout: str
    stderr: str
    articles: dict[str, str]
    outcomes: dict[str, tuple[str, str | None]]


def crawl(tmp_path: Path, sources: str, *settings: str, timeout: float = 180) -> FaultCrawl:
    """Crawl the sources written in ``sources`` (TOML) into a new SQLite file, with ``settings`` (``-s`` pairs)."""
    sources_file = tmp_path / "sources.toml"
    sources_file.write_text(sources, encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    result = ai4s(
        "crawl",
        "--sources",
        str(sources_file),
        "--db",
        db_url,
        "--log-level",
        "INFO",
        *FAST,
        *settings,
        timeout=timeout,
    )
    with Database(db_url) as database, database.session() as session:
        articles = {a.canonical_url: a.text for a in session.execute(select(Article)).scalars()}
        outcomes = {f.canonical_url: (f.outcome, f.error) for f in session.execute(select(FetchedUrl)).scalars()}
    return FaultCrawl(result.returncode, result.stdout, result.stderr, articles, outcomes)


def feed_source(name: str, site: FaultSite) -> str:
    """A sources-file entry for ``site``'s feed ``/rss.xml``."""
    return f'[[source]]\nname = "{name}"\nfeeds = ["{site.url("/rss.xml")}"]\n'


def test_damaged_bodies_are_failed_fetches_never_articles(tmp_path: Path) -> None:
    site = FaultSite("damaged", "127.0.4.1")
    pages = {
        "/2024/01/01/whole-story.html": answer(200, article_html("A whole story").encode(), HTML),
        "/2024/01/02/gzip-cut-short.html": answer(200, gzip_truncated(article_html("Cut").encode(), 0.6), GZIPPED_HTML),
        "/2024/01/03/gzip-bad-crc.html": answer(200, gzip_bad_crc(article_html("Bad CRC").encode()), GZIPPED_HTML),
        "/2024/01/04/shorter-than-said.html": answer(200, article_html("Short").encode()[:3000], HTML, 5000),
        "/2024/01/05/longer-than-said.html": answer(200, article_html("Long").encode(), HTML, 2500),
    }
    urls = {path: site.add(path, reply) for path, reply in pages.items()}
    site.add("/rss.xml", rss(*urls.values()))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("damaged", site), "-s", "RETRY_TIMES=1")
    assert result.returncode == 0, result.stderr[-3000:]
    whole = canonical_url(urls.pop("/2024/01/01/whole-story.html"))
    assert set(result.articles) == {whole}
    for path, url in urls.items():
        outcome, error = result.outcomes[canonical_url(url)]
        assert outcome == "network_error", (path, outcome, error)  # tried again at the next crawl
    assert "gzip" in result.outcomes[canonical_url(urls["/2024/01/02/gzip-cut-short.html"])][1]
    assert "incorrect data check" in result.outcomes[canonical_url(urls["/2024/01/03/gzip-bad-crc.html"])][1]
    assert "Content-Length" in result.outcomes[canonical_url(urls["/2024/01/04/shorter-than-said.html"])][1]
    assert "Content-Length" in result.outcomes[canonical_url(urls["/2024/01/05/longer-than-said.html"])][1]
