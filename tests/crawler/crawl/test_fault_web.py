"""Real crawls of the fault web (:mod:`tests.faultweb`): damaged bodies, lying headers, a host that asks
to be left alone, robots.txt details. What a fault costs is a failed fetch (tried again at the next crawl),
never an article made of damaged or misread data."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy.settings import default_settings
from sqlalchemy import select

from crawler.app.webserver import Reply
from crawler.crawl.settings import REDIRECT_MAX_TIMES
from crawler.text.extract import ExtractedArticle, extract_article
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRun, FetchedUrl
from tests.crawler.support import ai4s, article_html, link_farm_html
from tests.crawler.text.test_charset import lying_meta
from tests.faultweb import ALLOW_ALL, FaultSite, RawReply, answer, gzip_bad_crc, gzip_truncated, rss
from tests.localweb import load_corpus, transcode_to_big5
from tests.textmetrics import token_f1

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
        # 12 KB that would be 12 MB: over the size limit once decompressed
        "/2024/01/06/gzip-bomb.html": answer(
            200, gzip.compress(article_html("Bomb").encode() + b" " * 12_000_000), GZIPPED_HTML
        ),
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
    assert result.outcomes[canonical_url(urls["/2024/01/06/gzip-bomb.html"])][1] == (
        "body over the size limit (10485760 B) once decompressed"
    )


def test_a_page_too_costly_to_extract_is_a_failure_tried_again_and_the_crawl_goes_on(tmp_path: Path) -> None:
    site = FaultSite("farm", "127.0.4.2")
    farm = site.add("/2024/01/01/index-of-everything.html", answer(200, link_farm_html().encode(), HTML))
    stories = [
        site.add(f"/2024/01/{day:02d}/story.html", answer(200, article_html(f"Story {day}").encode(), HTML))
        for day in range(2, 6)
    ]
    site.add("/rss.xml", rss(farm, *stories))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        first = crawl(tmp_path, feed_source("farm", site), "-s", "AI4S_EXTRACT_CPU_LIMIT=1")
        again = crawl(tmp_path, feed_source("farm", site), "-s", "AI4S_EXTRACT_CPU_LIMIT=1")
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-3000:] + again.stderr[-3000:]
    assert set(first.articles) == {canonical_url(url) for url in stories}
    outcome, error = first.outcomes[canonical_url(farm)]
    assert (outcome, error) == ("extraction_error", "extraction failed: it took more than 1 s of CPU time")
    assert f"Extraction of {farm} failed: it took more than 1 s of CPU time" in first.stderr
    assert len(site.records(urlsplit(farm).path)) == 2  # the next crawl tried it again...
    assert all(len(site.records(urlsplit(url).path)) == 1 for url in stories)  # ...and none of the stored stories


def test_a_sitemap_of_50000_pages_is_read_without_holding_the_crawl(tmp_path: Path) -> None:
    # the sitemaps protocol's most: seconds of parsing, judging and making requests, while downloads wait
    site = FaultSite("big", "127.0.4.3")
    locs = "".join(f"<url><loc>{site.url(f'/2024/05/01/story-{n}.html')}</loc></url>" for n in range(50_000))
    sitemap = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode()
    site.add("/sitemap.xml", answer(200, sitemap, {"Content-Type": "application/xml"}))
    for n in range(50_000):
        site.add(f"/2024/05/01/story-{n}.html", answer(200, article_html(f"Story {n}").encode(), HTML))
    site.add("/robots.txt", ALLOW_ALL)
    heartbeat = tmp_path / "longest-hold.txt"
    extensions = {**default_settings.EXTENSIONS_BASE, "tests.crawler.crawl.heartbeat.ReactorHeartbeat": 0}
    sources = f'[[source]]\nname = "big"\nsitemaps = ["{site.url("/sitemap.xml")}"]\nmax_pages = 5\n'
    with site:
        result = crawl(
            tmp_path, sources, "-s", f"EXTENSIONS_BASE={json.dumps(extensions)}", "-s", f"HEARTBEAT_FILE={heartbeat}"
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.outcomes) == 4 and result.articles  # the budget: the sitemap and four of its pages
    assert "Source big reached its budget of 5 pages" in result.stderr
    assert (
        float(heartbeat.read_text()) < 1.0
    )  # the reactor turned all along (about 5 s of work in one go before) -------------------------------------------------------------


def busy_once(retry_after: str | Callable[[], str], body: bytes) -> Callable[[str], Reply | RawReply]:
    """A page that answers 503 with ``retry_after`` the first time, then ``body``."""
    calls: list[str] = []

    def reply(path: str) -> Reply | RawReply:
        calls.append(path)
        if len(calls) == 1:
            value = retry_after() if callable(retry_after) else retry_after
            return answer(503, b"busy", {"Content-Type": "text/plain", "Retry-After": value})
        return answer(200, body, HTML)

    return reply


def slow_articles(site: FaultSite, prefix: str, count: int, delay: float) -> list[str]:
    """``count`` article pages on ``site``, each served after ``delay`` seconds; their URLs."""

    def slow(body: bytes) -> Callable[[str], RawReply]:
        def reply(_: str) -> RawReply:
            time.sleep(delay)
            return answer(200, body, HTML)

        return reply

    return [
        site.add(f"/2024/02/{day:02d}/{prefix}-story-{day}.html", slow(article_html(f"{prefix} story {day}").encode()))
        for day in range(1, count + 1)
    ]


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_pauses_every_request_to_that_host_and_no_other(tmp_path: Path, form: str) -> None:
    busy, calm = FaultSite("busy", "127.0.4.2"), FaultSite("calm", "127.0.4.3")
    # well beyond the start of the extraction pool (with the first article), which holds the whole crawl for a
    # few seconds on a busy machine: the other host must have had time to go on during the pause
    wait = 10.0

    def retry_after() -> str:
        return "10" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(seconds=wait), usegmt=True)

    first = busy.add("/2024/01/31/busy-story.html", busy_once(retry_after, article_html("Busy story").encode()))
    busy_urls = [*slow_articles(busy, "busy", 12, 0.3), first]  # the last in the feed is requested first
    calm_urls = slow_articles(calm, "calm", 16, 0.5)
    for site, urls in ((busy, busy_urls), (calm, calm_urls)):
        site.add("/rss.xml", rss(*urls))
        site.add("/robots.txt", ALLOW_ALL)
    sources = feed_source("busy", busy) + feed_source("calm", calm)
    with busy, calm:
        result = crawl(tmp_path, sources, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "AUTOTHROTTLE_ENABLED=False")
    assert result.returncode == 0, result.stderr[-3000:]
    (refused,) = [record for record in busy.records() if record.status == 503]
    # an HTTP date has whole seconds: the pause ends up to a second sooner
    pause_end = refused.answered + (wait if form == "seconds" else wait - 1.0)
    # requests already sent when the 503 came (one other, at this concurrency) arrive at once; none after
    during_pause = [r.path for r in busy.records() if refused.answered + 0.2 < r.arrived < pause_end]
    assert during_pause == [], during_pause
    retried = busy.records("/2024/01/31/busy-story.html")[1]
    assert retried.arrived >= pause_end - 0.05
    # the other host went on meanwhile
    assert any(refused.answered + 0.2 < r.arrived < pause_end for r in calm.records())
    assert set(result.articles) == {canonical_url(url) for url in busy_urls + calm_urls}


def test_a_paused_host_with_many_pages_waiting_does_not_hold_another_host(tmp_path: Path) -> None:
    """The paused host's waiting requests took every free place of the downloader (``CONCURRENT_REQUESTS``): the
    other host's next listing page waited for the end of the pause."""
    busy, calm = FaultSite("busy", "127.0.4.20"), FaultSite("calm", "127.0.4.21")
    wait = 10.0
    first = busy.add("/2024/07/31/busy-story.html", busy_once("10", article_html("Busy story").encode()))
    others = [
        busy.add(f"/2024/07/{day:02d}/busy-story.html", answer(200, article_html(f"Busy {day}").encode(), HTML))
        for day in range(1, 25)
    ]
    busy.add("/rss.xml", rss(*others, first))  # the last in the feed is requested first

    def listing(page: int, delay: float) -> Callable[[str], RawReply]:
        story = calm.add(f"/2024/07/0{page}/calm-story.html", answer(200, article_html(f"Calm {page}").encode(), HTML))
        more = f"<a href='/news/?page={page + 1}' rel='next'>Next</a>" if page < 3 else ""
        body = f"<html><body><ul><li><a href='{story}'>Calm story {page}</a></li></ul>{more}</body></html>"

        def reply(_: str) -> RawReply:
            time.sleep(delay)  # the pause has begun when the listing comes back
            return answer(200, body.encode(), HTML)

        return reply

    calm.add("/news/", listing(1, 2.0))
    for page in (2, 3):
        calm.add(f"/news/?page={page}", listing(page, 0.0))
    for site in (busy, calm):
        site.add("/robots.txt", ALLOW_ALL)
    sources = feed_source("busy", busy) + f'[[source]]\nname = "calm"\nstart_urls = ["{calm.url("/news/")}"]\n'
    with busy, calm:
        result = crawl(tmp_path, sources, "-s", "CONCURRENT_REQUESTS=8", "-s", "AUTOTHROTTLE_ENABLED=False")
    assert result.returncode == 0, result.stderr[-3000:]
    first_pause = min(record.answered for record in busy.records() if record.status == 503)
    (second_page,) = calm.records("/news/?page=2")
    assert second_page.arrived < first_pause + wait - 2, second_page.arrived - first_pause


def test_a_host_asking_to_wait_longer_than_the_crawl_waits_is_left_to_the_next_crawl(tmp_path: Path) -> None:
    busy = FaultSite("busy", "127.0.4.4")
    first = busy.add("/2024/01/31/busy-story.html", busy_once("3600", article_html("Busy story").encode()))
    others = slow_articles(busy, "busy", 6, 0.3)
    busy.add("/rss.xml", rss(first, *others))
    busy.add("/robots.txt", ALLOW_ALL)
    with busy:
        started = time.time()
        result = crawl(tmp_path, feed_source("busy", busy), "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
        took = time.time() - started
        (refused,) = [record for record in busy.records() if record.status == 503]
        assert [r.path for r in busy.records() if r.arrived > refused.answered + 0.2] == []
        assert took < 60  # nothing waited for the hour
        for url in [first, *others]:
            if canonical_url(url) not in result.articles:
                outcome, error = result.outcomes[canonical_url(url)]
                assert outcome == "http_error" and error is not None, (url, outcome, error)
        assert "more than the 60 s a crawl waits for one host in all (0 s so far): nothing more" in result.stderr
        # the next crawl does not poll the host's feed before the deadline
        before = len(busy.records("/rss.xml"))
        crawl(tmp_path, feed_source("busy", busy))
        assert len(busy.records("/rss.xml")) == before


def _busy_site(name: str, host: str, reply: RawReply) -> tuple[FaultSite, list[str]]:
    """A site whose feed links 20 pages, each answered with ``reply``; the site and the pages' URLs."""
    site = FaultSite(name, host)
    urls = [site.add(f"/2024/06/{day:02d}/busy-story.html", reply) for day in range(1, 21)]
    site.add("/rss.xml", rss(*urls))
    site.add("/robots.txt", ALLOW_ALL)
    return site, urls


def _crawl_waiting_at_most_6_s(tmp_path: Path, site: FaultSite) -> FaultCrawl:
    """A crawl of ``site``'s feed that waits for its host 6 s in all, one request at a time."""
    return crawl(
        tmp_path, feed_source("busy", site), "-s", "AI4S_RETRY_AFTER_MAX=6", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"
    )


def test_a_host_answering_429_without_retry_after_is_paused_then_left_to_the_next_crawl(tmp_path: Path) -> None:
    """Each request backed off on its own, and the host was asked at full rate: 90 requests in 26 s to a host
    that answered nothing but 429."""
    site, urls = _busy_site("too-many", "127.0.4.25", answer(429, b"Too Many Requests", {"Content-Type": "text/plain"}))
    with site:
        result = _crawl_waiting_at_most_6_s(tmp_path, site)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "asking to wait 5.0 s (429 without Retry-After): the host is paused" in result.stderr
    assert "nothing more of that host is requested in this crawl" in result.stderr
    assert len(site.records()) <= 2 + 3  # robots.txt, the feed, a request or two before each pause
    assert {result.outcomes[canonical_url(url)][0] for url in urls} == {"http_error"}  # all tried again next time


def test_a_host_that_asks_again_and_again_to_wait_is_left_to_the_next_crawl_once_its_pauses_add_up(
    tmp_path: Path,
) -> None:
    """Each 503 asked for 10 s, within the limit: 60 pages held a crawl for ten minutes and more."""
    site, urls = _busy_site(
        "always-busy", "127.0.4.19", answer(503, b"busy", {"Content-Type": "text/plain", "Retry-After": "2"})
    )
    with site:
        started = time.monotonic()
        result = _crawl_waiting_at_most_6_s(tmp_path, site)
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert "more than the 6 s a crawl waits for one host in all (6 s so far): nothing more" in result.stderr
    assert len(site.records()) <= 2 + 4 + 1  # robots.txt, the feed, the paused requests, and one over
    assert took < 40, took  # 20 pages of 2 s pauses, each tried three times: two minutes
    assert {result.outcomes[canonical_url(url)][0] for url in urls} == {"http_error"}  # all tried again next time


@pytest.mark.parametrize("value", ["9" * 30, "\u00b2"], ids=["thirty-nines", "superscript-two"])
def test_an_absurd_or_unreadable_retry_after_is_a_recorded_failure_never_a_lost_one(tmp_path: Path, value: str) -> None:
    """A wait past any date, or a digit Python reads as one but not as a number: once, the failure handling
    raised, and the page had no record at all."""
    site = FaultSite("absurd", "127.0.4.16")
    busy = site.add("/2024/04/01/absurd-story.html", answer(503, b"busy", {"Retry-After": value, **HTML}))
    site.add("/rss.xml", rss(busy))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("absurd", site))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.outcomes[canonical_url(busy)] == ("http_error", "HTTP 503")
    assert not [word for word in ("Traceback", "OverflowError", "ValueError") if word in result.stderr]


def test_a_redirect_to_the_same_page_is_followed_and_a_loop_or_an_endless_chain_is_a_recorded_failure(
    tmp_path: Path,
) -> None:
    """Scrapy's duplicate filter knows pages by canonical URL: it dropped, without a word, the redirect of
    '/story' to '/story/' (the page was lost) and the hop of a loop back to its start (the page vanished from
    the crawl); past the most redirects, Scrapy's own limit counted the page as refused."""
    site = FaultSite("loops", "127.0.4.17")
    moved = site.add("/2024/05/01/moved-story/", answer(200, article_html("Moved story").encode(), HTML))
    slashless = site.add("/2024/05/01/moved-story", answer(301, b"", {"Location": "/2024/05/01/moved-story/"}))
    loop = site.add("/2024/05/02/loop-a.html", answer(302, b"", {"Location": "/2024/05/02/loop-b.html"}))
    site.add("/2024/05/02/loop-b.html", answer(302, b"", {"Location": "/2024/05/02/loop-a.html"}))
    chain = [
        site.add(f"/2024/05/03/hop-{n}.html", answer(302, b"", {"Location": f"/2024/05/03/hop-{n + 1}.html"}))
        for n in range(25)
    ]
    # a Chinese path, its Location in raw UTF-8 as servers send it
    chinese = site.add("/2024/05/05/%E6%96%B0%E9%97%BB/", answer(200, article_html("Chinese story").encode(), HTML))
    raw_location = "/2024/05/05/新闻/".encode().decode("latin-1")
    chinese_slashless = site.add("/2024/05/05/%E6%96%B0%E9%97%BB", answer(301, b"", {"Location": raw_location}))
    # a Location left empty, or blank: Scrapy redirected to the page itself, which the filter dropped without a word;
    # the site's error, as a Location that is no URL (an HTTP error, asked again), not a network error
    nowhere = site.add("/2024/05/06/nowhere.html", answer(302, b"", {"Location": ""}))
    blank = site.add("/2024/05/06/blank.html", answer(301, b"", {"Location": "   "}))
    # a Location whose port is no port: the site's error, recorded as such (not a network error)
    bad_ports = [
        site.add(f"/2024/05/07/bad-port-{n}.html", answer(301, b"", {"Location": f"http://{site.host}:{port}/x.html"}))
        for n, port in enumerate((f"{site.port}%2f", "a:b"))
    ]
    site.add("/rss.xml", rss(slashless, loop, chain[0], chinese_slashless, nowhere, blank, *bad_ports))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("loops", site))
    assert result.outcomes[canonical_url(nowhere)] == (
        "http_error",
        "a redirect (302) to nowhere: its Location is empty",
    )
    assert result.outcomes[canonical_url(blank)] == (
        "http_error",
        "a redirect (301) to nowhere: its Location is empty",
    )
    for bad_port, port in zip(bad_ports, (f"{site.port}%2f", "a:b"), strict=True):
        outcome, error = result.outcomes[canonical_url(bad_port)]
        assert (
            outcome == "http_error"
            and error == f"a redirect (301) to no URL: Port could not be cast to integer value as {port}"
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert canonical_url(moved) in result.articles and canonical_url(chinese) in result.articles
    assert result.outcomes[canonical_url(loop)] == (
        "network_error",
        f"redirect loop: {site.url('/2024/05/02/loop-b.html')} leads back to {loop}",
    )
    assert result.outcomes[canonical_url(chain[0])] == (
        "network_error",
        f"more than {REDIRECT_MAX_TIMES} redirects, the last to {site.url(f'/2024/05/03/hop-{REDIRECT_MAX_TIMES + 1}.html')}",
    )


def test_headers_without_end_are_a_failed_fetch_and_the_crawl_goes_on(tmp_path: Path) -> None:
    """Header lines sent on and on: Twisted kept every one until the download timeout (1.5 GB for one request
    in 20 s); the size limit counts only the body. Here 4 MB of them, then a page."""
    site = FaultSite("headers", "127.0.4.23")
    flood = "".join(f"X-Filler-{n}: {'x' * 1000}\r\n" for n in range(4000)).encode()
    endless = site.add(
        "/2024/05/07/endless-headers.html",
        RawReply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + flood, article_html("Endless").encode()),
    )
    fine = site.add("/2024/05/07/fine-story.html", answer(200, article_html("Fine story").encode(), HTML))
    site.add("/rss.xml", rss(endless, fine))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("headers", site))
    assert result.returncode == 0, result.stderr[-3000:]
    assert canonical_url(fine) in result.articles and canonical_url(endless) not in result.articles
    outcome, error = result.outcomes[canonical_url(endless)]
    assert outcome == "network_error" and "response headers longer than 262144 bytes" in error, error


def test_a_page_the_database_would_not_save_fails_the_run_and_is_fetched_again_next_time(tmp_path: Path) -> None:
    """The database refused one page's transaction (here a trigger raises, as a full disk or a lock held past the
    wait would): the crawl ended "ok", the feed's poll was saved, and the page was never fetched again."""
    site = FaultSite("refused", "127.0.4.24")
    kept = site.add("/2024/05/08/kept-story.html", answer(200, article_html("Kept story").encode(), HTML))
    lost = site.add("/2024/05/08/lost-story.html", answer(200, article_html("Lost story").encode(), HTML))
    site.add("/rss.xml", rss(kept, lost))
    site.add("/robots.txt", ALLOW_ALL)
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with Database(db_url) as database, database.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON articles WHEN NEW.url LIKE '%lost-story%' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    with site:
        first = crawl(tmp_path, feed_source("refused", site))
        assert first.returncode == 1, first.stderr[-3000:]
        assert "lost-story.html fetched but not saved (database or disk is full)" in first.stderr
        with Database(db_url) as database, database.session() as session:
            message = session.execute(select(CrawlRun.message)).scalar_one()
        assert message == "1 fetched pages could not be saved: database or disk is full"
        assert canonical_url(kept) in first.articles and canonical_url(lost) not in first.articles
        with Database(db_url) as database, database.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse_one")
        second = crawl(tmp_path, feed_source("refused", site))  # the feed is the same: not "unchanged" this time
    assert second.returncode == 0, second.stderr[-3000:]
    assert canonical_url(lost) in second.articles
    assert (
        len(site.records("/2024/05/08/lost-story.html")) == 2 and len(site.records("/2024/05/08/kept-story.html")) == 1
    )


def test_a_feed_in_a_redirect_loop_is_a_failed_poll_and_its_source_falls_back_to_the_homepage(tmp_path: Path) -> None:
    site = FaultSite("loopfeed", "127.0.4.18")
    story = site.add("/2024/05/04/home-story.html", answer(200, article_html("Home story").encode(), HTML))
    site.add("/", answer(200, f"<html><body><a href='{story}'>Home story</a></body></html>".encode(), HTML))
    site.add("/rss.xml", answer(302, b"", {"Location": "/rss2.xml"}))
    site.add("/rss2.xml", answer(302, b"", {"Location": "/rss.xml"}))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("loopfeed", site))
    assert f"feed {site.url('/rss.xml')} failed (redirect loop: " in result.stderr
    assert canonical_url(story) in result.articles  # through the homepage


# -- lying charsets ------------------------------------------------------------------------------
def test_a_page_comes_out_right_whatever_its_charset_header_says_or_not_at_all(
    tmp_path: Path, corpus_dir: Path
) -> None:
    usable = [p for p in load_corpus(corpus_dir) if p.problem(allow_base=True) is None]
    hant = next(p for p in usable if p.language == "zh-Hant")
    gbk = [p for p in usable if p.encoding in ("gbk", "gb2312")][:2]
    site = FaultSite("liar", "127.0.4.5")
    latin1 = {"Content-Type": "text/html; charset=ISO-8859-1"}
    big5_bytes = lying_meta(transcode_to_big5(hant.raw(), hant.encoding))
    big5 = site.add("/2024/03/01/big5-story.html", answer(200, big5_bytes, latin1))
    gb = [site.add(f"/2024/03/0{n + 2}/gbk-story.html", answer(200, page.raw(), latin1)) for n, page in enumerate(gbk)]
    # a CMS that kept GBK text as Latin-1 and serves it as UTF-8: valid UTF-8 whose text is mojibake
    mangled = gbk[0].raw().decode(gbk[0].encoding).encode(gbk[0].encoding).decode("latin-1").encode("utf-8")
    double = site.add("/2024/03/09/double-encoded.html", answer(200, lying_meta(mangled, b"utf-8"), HTML))
    site.add("/rss.xml", rss(big5, *gb, double))
    site.add("/robots.txt", ALLOW_ALL)
    with site:
        result = crawl(tmp_path, feed_source("liar", site))
    assert result.returncode == 0, result.stderr[-3000:]
    honest = [
        (big5, big5_bytes, "big5"),
        *((url, page.raw(), page.encoding) for url, page in zip(gb, gbk, strict=True)),
    ]
    for url, body, charset in honest:
        # what the page gives when its header tells the truth
        truth = extract_article(body, url, charset, f"text/html; charset={charset}")
        assert isinstance(truth, ExtractedArticle)
        assert token_f1(result.articles[canonical_url(url)], truth.text) > 0.9, url
    assert canonical_url(double) not in result.articles
    outcome, error = result.outcomes[canonical_url(double)]
    assert outcome == "network_error" and "mojibake" in (error or "")


# -- robots.txt -----------------------------------------------------------------------------------
def robots_site(name: str, host: str, robots: dict[str, Reply | RawReply]) -> tuple[FaultSite, str]:
    """A site with two start pages, a feed of two articles and the given robots.txt routes; its sources entry."""
    site = FaultSite(name, host)
    links = "".join(f"<a href='/2024/04/0{n}/story-{n}.html'>story {n}</a>" for n in (1, 2))
    for path in ("/", "/news/"):
        site.add(path, answer(200, f"<html><body>{links}</body></html>".encode(), HTML))
    articles = [
        site.add(f"/2024/04/0{n}/story-{n}.html", answer(200, article_html(f"Story {n}").encode(), HTML))
        for n in (1, 2, 3, 4)
    ]
    site.add("/rss.xml", rss(*articles[2:]))
    for path, reply in robots.items():
        site.add(path, reply)
    sources = f'[[source]]\nname = "{name}"\nstart_urls = ["{site.url("/")}", "{site.url("/news/")}"]\n'
    return site, sources + f'feeds = ["{site.url("/rss.xml")}"]\n'


#: A robots.txt that disallows everything, long enough to be cut short in a gzip body.
DISALLOW_ALL_PADDED = b"User-agent: *\nDisallow: /\n" + b"".join(b"# line %d\n" % n for n in range(2000))
GZIPPED = {"Content-Type": "text/plain", "Content-Encoding": "gzip"}


def text(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "text/plain"})


@pytest.mark.parametrize(
    "robots",
    [
        {"/robots.txt": text(b"User-agent: *\nDisallow: /\n")},
        {
            "/robots.txt": answer(301, b"", {"Location": "/moved/robots.txt"}),
            "/moved/robots.txt": answer(302, b"", {"Location": "/moved/again/robots.txt"}),
            "/moved/again/robots.txt": text(b"User-agent: *\nDisallow: /\n"),
        },
        # a body that cannot be read is robots.txt unreachable (RFC 9309): nothing is fetched, not everything
        {"/robots.txt": answer(200, gzip.compress(DISALLOW_ALL_PADDED)[:2000], GZIPPED)},
        {"/robots.txt": answer(200, gzip.compress(DISALLOW_ALL_PADDED + b"#" * 12_000_000), GZIPPED)},
    ],
    ids=["disallow all", "behind two redirects", "gzip cut short", "gzip bomb"],
)
def test_disallow_all_means_not_one_page_request(tmp_path: Path, robots: dict[str, Reply | RawReply]) -> None:
    site, sources = robots_site("closed", "127.0.4.6", robots)
    with site:
        result = crawl(tmp_path, sources)
    assert set(site.paths()) == set(robots), site.paths()  # neither start page, nor the feed, nor an article
    assert result.articles == {}


def test_a_robots_txt_in_a_redirect_loop_is_unavailable_and_allows_everything(tmp_path: Path) -> None:
    """RFC 9309 2.3.1.2: a robots.txt not reached within five redirects is unavailable, as a 4xx."""
    site, sources = robots_site(
        "looping",
        "127.0.4.22",
        {
            "/robots.txt": answer(302, b"", {"Location": "/robots2.txt"}),
            "/robots2.txt": answer(302, b"", {"Location": "/robots.txt"}),
        },
    )
    with site:
        result = crawl(tmp_path, sources)
    assert len(result.articles) == 4, site.paths()


def test_only_the_first_500_kib_of_robots_txt_are_read(tmp_path: Path) -> None:
    huge = b"User-agent: *\nDisallow: /2024/04/03/\n" + b"# padding\n" * 60_000 + b"Disallow: /\n"
    site, sources = robots_site("huge", "127.0.4.7", {"/robots.txt": text(huge)})
    with site:
        crawl(tmp_path, sources)
    paths = site.paths()
    assert "/2024/04/03/story-3.html" not in paths  # a rule within the first 500 KiB holds
    assert "/2024/04/04/story-4.html" in paths and "/" in paths  # the Disallow: / after them is not read


@pytest.mark.parametrize(("delay", "cap", "gap"), [("1", "30", 1.0), ("3600", "1.5", 1.5)], ids=["honoured", "capped"])
def test_crawl_delay_spaces_the_requests_to_its_host(tmp_path: Path, delay: str, cap: str, gap: float) -> None:
    site, sources = robots_site(
        "slow", "127.0.4.8", {"/robots.txt": text(f"User-agent: *\nCrawl-delay: {delay}\n".encode())}
    )
    with site:
        result = crawl(tmp_path, sources, "-s", f"AI4S_CRAWL_DELAY_MAX={cap}")
    arrivals = [record.arrived for record in site.records()][1:]  # after robots.txt
    assert len(arrivals) >= 7, site.paths()  # 2 start pages, the feed, 4 articles
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    # Scrapy spaces the moments it sends; when the crawl process is busy a request may reach the
    # server a little late, and the next gap then looks that much shorter. On average the gap holds,
    # and no single gap comes near what an unspaced or half-spaced crawl would show.
    assert sum(gaps) / len(gaps) >= gap - 0.05, gaps
    assert min(gaps) >= 0.85 * gap, gaps
    assert len(result.articles) == 4
