"""The store pipeline, as Scrapy builds it, on real pages and a real SQLite corpus:
an article is stored with its relevance, its story, both of its URLs and its page; a failed fetch is
remembered for a later try; an entry-page poll is left to the crawl context."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from crawler.config import Config
from crawler.crawl.context import CrawlContext
from crawler.crawl.items import EntryPoll, FetchFailure, PageItem
from crawler.crawl.pipelines import ISOLATED_TRIES, ExtractedPage, ExtractPipeline, StorePipeline
from crawler.crawl.pool import ProcessedPage, process_page
from crawler.crawl.requests import stat_key
from crawler.relevance.profile import Relevance, RelevanceScorer
from crawler.text.article import ExtractedArticle, NotAnArticle
from crawler.text.extract import EXTRACTOR
from crawler.text.urls import canonical_url
from storage.hashing import content_hash
from storage.models import RETRIABLE_OUTCOMES, Article, ArticlePage, CrawlRun, FetchedUrl
from storage.pages import compress_page, read_kept_page
from storage.repository import StoredForms, retriable_urls
from storage.search import search_stories
from tests.crawler.crawl.components import corpus, make_config, open_crawl
from tests.crawler.support import PARAGRAPH, article_html, link_farm_html

Result = TypeVar("Result")

REQUESTED = "http://127.0.0.40:8040/2025/06/01/story.html?utm_source=rss"
MOVED_TO = "http://127.0.0.40:8040/2025/06/01/ai-for-science-catalysts.html"


def _extracted(title: str) -> ExtractedPage:
    """A fetched article page (reached through a redirect), extracted as the extraction pool does."""
    body = article_html(title).encode()
    page = PageItem("alpha", MOVED_TO, REQUESTED, 200, body, "text/html; charset=utf-8", "utf-8", "feed")
    processed = process_page(page.body, page.url, page.header_charset, page.content_type)
    return ExtractedPage(page, processed)


def _through(pipelines: list[Any], item: Any) -> Any:
    """``item`` through ``pipelines`` in order, in an event loop as in a crawl."""

    async def run() -> Any:
        result = item
        for pipeline in pipelines:
            result = pipeline.process_item(result)
            if asyncio.iscoroutine(result):
                result = await result
        return result

    return asyncio.run(run())


def test_an_article_is_stored_scored_in_its_story_with_both_of_its_urls(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        pipelines = [StorePipeline.from_crawler(crawler)]
        item = _through(pipelines, _extracted("Machine learning predicts new catalysts for AI for Science"))
        run_id = CrawlContext.of(crawler).run_id
        assert crawler.stats.get_value(stat_key("alpha", "new_articles")) == 1
    assert item.relevance is not None
    with corpus(config) as session:
        (article,) = session.execute(select(Article)).scalars()
        fetched = {
            row.canonical_url: (row.outcome, row.article_id) for row in session.execute(select(FetchedUrl)).scalars()
        }
        assert session.get(CrawlRun, run_id) is not None
    assert article.canonical_url == canonical_url(MOVED_TO) and article.run_id == run_id
    assert article.relevance == item.relevance.score and article.relevant == item.relevance.relevant
    assert json.loads(article.evidence) == item.relevance.evidence()
    assert article.story_id is not None and "catalysts" in article.text
    assert fetched == {
        canonical_url(REQUESTED): ("article", article.id),
        canonical_url(MOVED_TO): ("article", article.id),
    }


def test_the_same_page_again_is_a_duplicate_not_a_second_article(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for _ in range(2):
            _through([store], _extracted("Machine learning predicts new catalysts"))
        assert crawler.stats.get_value(stat_key("alpha", "new_articles")) == 1
        assert crawler.stats.get_value(stat_key("alpha", "duplicates")) == 1
    with corpus(config) as session:
        assert len(session.execute(select(Article.id)).all()) == 1


def _templated(number: int, own_paragraphs: int = 6) -> ExtractedPage:
    """A page of a site whose template puts the same promo lines in every article, with ``own_paragraphs`` of its
    own (none: a brief whose text extraction missed, leaving only the template)."""
    promo = "".join(
        f"<p>Read more: our newsletter brings the week's science stories, number {n} of our promotions.</p>"
        for n in range(4)
    )
    title = f"Catalyst discovery number {number}"
    # each article's own words (in an order of its own: articles that shared their text would be one story, whose
    # copies teach no template)
    words = PARAGRAPH.split()
    random.Random(number).shuffle(words)
    own = "".join(f"<p>{' '.join(words[i:] + words[:i])} {title}, paragraph {i}.</p>" for i in range(own_paragraphs))
    body = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{own}{promo}</article></body></html>"
    )
    url = f"http://127.0.0.40:8040/2025/06/05/templated-{number}.html"
    page = PageItem("alpha", url, url, 200, body.encode(), "text/html; charset=utf-8", "utf-8", "feed")
    return ExtractedPage(page, process_page(page.body, page.url, page.header_charset, page.content_type))


def test_a_page_whose_text_is_all_its_site_s_template_is_no_article_and_no_later_page_its_duplicate(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for number in range(3):  # the promo lines become the site's template
            _through([store], _templated(number))
        empty = [_templated(number, own_paragraphs=0) for number in (10, 11)]
        assert all(isinstance(item.result, ExtractedArticle) for item in empty)  # extraction took the promo lines
        for item in empty:
            _through([store], item)
        assert crawler.stats.get_value(stat_key("alpha", "new_articles")) == 3
        assert crawler.stats.get_value(stat_key("alpha", "not_articles")) == 2
        assert not crawler.stats.get_value(stat_key("alpha", "duplicates"))
    with corpus(config) as session:
        titles = session.execute(select(Article.title).order_by(Article.id)).scalars().all()
        outcomes = {row.url: (row.outcome, row.error) for row in session.execute(select(FetchedUrl)).scalars()}
    assert titles == [f"Catalyst discovery number {number}" for number in range(3)]
    for item in empty:
        assert outcomes[item.page.url] == ("no_text", "no text of its own: its 4 lines are all its site's template")


def test_a_new_article_keeps_the_page_it_came_from_and_a_duplicate_keeps_none(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    title = "Machine learning predicts new catalysts"
    first = _extracted(title)
    elsewhere = replace(
        first,
        page=replace(
            first.page, url=MOVED_TO.replace("catalysts", "repost"), body=first.page.body + b"<!-- repost -->"
        ),
        processed=replace(first.processed, compressed_page=compress_page(first.page.body + b"<!-- repost -->")),
    )
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for item in (first, elsewhere):
            _through([store], item)
        assert crawler.stats.get_value(stat_key("alpha", "duplicates")) == 1
    with corpus(config) as session:
        (article,) = session.execute(select(Article)).scalars()
        (kept,) = session.execute(select(ArticlePage)).scalars()
        page = read_kept_page(session, article.id)
    assert kept.article_id == article.id and page is not None
    assert page.body() == article_html(title).encode() == first.page.body
    assert (page.url, page.content_type, page.header_charset) == (MOVED_TO, "text/html; charset=utf-8", "utf-8")
    assert page.extractor == EXTRACTOR and kept.raw_size == len(first.page.body) > len(kept.body)


def test_the_store_takes_what_the_worker_made_only_for_the_text_it_stores(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    marked = Relevance(0.123, True, (), {})  # a score no scorer gives these texts: shows whose score is stored
    first = _extracted("Machine learning predicts new catalysts")
    assert first.processed.cleaned is not None
    first = replace(
        first, processed=replace(first.processed, cleaned=replace(first.processed.cleaned, relevance=marked))
    )
    # a worker that cleaned the text otherwise (a stale template hint): its values are of another text
    second_url = MOVED_TO.replace("catalysts", "proteins")
    second = _extracted("Deep learning folds proteins for AI for Science")
    assert second.processed.cleaned is not None and isinstance(second.result, ExtractedArticle)
    other_text = second.processed.cleaned.text + "\nA line of the template the store knows nothing of."
    otherwise = replace(
        second.processed.cleaned,
        text=other_text,
        relevance=marked,
        forms=StoredForms.of(second.result.title, other_text),
    )
    second = replace(
        second,
        page=replace(second.page, url=second_url, requested_url=second_url),
        processed=replace(second.processed, cleaned=otherwise),
    )
    with open_crawl(config) as crawler:
        store = StorePipeline.from_crawler(crawler)
        for item in (first, second):
            _through([store], item)
    with corpus(config) as session:
        articles = {a.canonical_url: a for a in session.execute(select(Article)).scalars()}
        found = {hit.url for hit in search_stories(session, "folds proteins", include_off_topic=True)}
        stale = search_stories(session, '"the store knows nothing of"', include_off_topic=True)
    taken, made_again = articles[canonical_url(MOVED_TO)], articles[canonical_url(second_url)]
    assert taken.relevance == 0.123
    expected = RelevanceScorer(config.profile).score(made_again.title, made_again.text)
    assert made_again.relevance == expected.score != 0.123
    assert made_again.content_hash == content_hash(made_again.text) and "template" not in made_again.text
    assert found == {second_url} and stale == []  # indexed as stored, not as the worker had it


def test_a_failed_fetch_is_remembered_to_be_tried_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    url = "http://127.0.0.40:8040/2025/06/02/busy.html"
    failure = FetchFailure("alpha", url, "http_error", 503, "HTTP 503")
    with open_crawl(config) as crawler:
        assert _through([StorePipeline.from_crawler(crawler)], failure) is failure
    with corpus(config) as session:
        row = session.execute(select(FetchedUrl)).scalar_one()
        assert (row.canonical_url, row.outcome, row.http_status, row.error) == (
            canonical_url(url),
            "http_error",
            503,
            "HTTP 503",
        )
        assert retriable_urls(session, ["alpha"], max_attempts=5) == [(url, "alpha")]


def test_a_store_that_fails_in_a_shared_transaction_loses_and_double_counts_or_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Four items reach the database together, in one transaction; the failure's status does not fit an SQLite
    # integer, so that transaction rolls back and each store runs again in a transaction of its own.
    config = make_config(tmp_path)
    first = _extracted("Machine learning predicts new catalysts")
    second_url = MOVED_TO.replace("catalysts", "proteins")
    second = _extracted("Deep learning folds proteins for AI for Science")
    second = replace(second, page=replace(second.page, url=second_url, requested_url=second_url))
    unstorable = FetchFailure("alpha", "http://127.0.0.40:8040/2025/06/02/odd.html", "http_error", 2**70, "HTTP ?")
    short_url = MOVED_TO.replace("catalysts", "brief")
    brief = b"<html><body><p>Brief.</p></body></html>"
    short_page = PageItem("alpha", short_url, short_url, 200, brief, "text/html", None, "feed")
    short = ExtractedPage(short_page, process_page(short_page.body, short_url, None, "text/html"))

    async def together(store: StorePipeline) -> list[Any]:
        items = (first, short, unstorable, second)
        return await asyncio.gather(*(store.process_item(item) for item in items), return_exceptions=True)

    with open_crawl(config) as crawler, caplog.at_level(logging.INFO, logger="crawler.crawl.pipelines"):
        results = asyncio.run(together(StorePipeline.from_crawler(crawler)))
        names = ("new_articles", "duplicates", "not_articles", "unsaved", "errors")
        counted = {name: crawler.stats.get_value(stat_key("alpha", name)) for name in names}
    assert results == [first, short, unstorable, second]  # the one the database refused is counted, not raised
    assert counted == {"new_articles": 2, "duplicates": None, "not_articles": 1, "unsaved": 1, "errors": 1}
    # the page without an article is logged once: its store ran twice, but committed once
    assert [r.getMessage() for r in caplog.records if short_url in r.getMessage()] == [
        f"Source alpha: {short_url} is not an article: no article text (6 characters extracted)"
    ]
    with corpus(config) as session:
        stored = set(session.execute(select(Article.canonical_url)).scalars())
        fetched = set(session.execute(select(FetchedUrl.canonical_url)).scalars())
    assert stored == {canonical_url(MOVED_TO), canonical_url(second_url)}
    assert fetched == {canonical_url(url) for url in (REQUESTED, MOVED_TO, second_url, short_url)}


def test_an_entry_poll_is_handed_to_the_crawl_context(tmp_path: Path) -> None:
    config: Config = make_config(tmp_path)
    poll = EntryPoll("alpha", "http://127.0.0.40:8040/rss.xml", 200, changed=True, etag='"v1"')
    with open_crawl(config) as crawler:
        _through([StorePipeline.from_crawler(crawler)], poll)
        assert CrawlContext.of(crawler).entry_polls == [poll]


# -- a worker that dies -------------------------------------------------------------------------
def _extraction_workers() -> list[int]:
    """The pids of this process's extraction workers: the children of its multiprocessing fork server."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    servers = [
        pid
        for pid, parent in parents.items()
        if parent == os.getpid() and b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    return [pid for pid, parent in parents.items() if parent in servers]


def _kill_workers() -> int:
    """Kill every extraction worker of this process at once (SIGKILL, as the kernel's out-of-memory killer
    does); how many there were."""
    workers = _extraction_workers()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    return len(workers)


def _run_extraction(crawler: Any, crawl: Callable[[ExtractPipeline], Coroutine[Any, Any, Result]]) -> Result:
    """``crawl(pipeline)`` run on the crawl's extraction pipeline, whose worker pools are stopped afterwards."""
    pipeline = ExtractPipeline.from_crawler(crawler)
    try:
        return asyncio.run(crawl(pipeline))
    finally:
        pipeline.close_spider()


def _article_page(number: int) -> PageItem:
    url = f"http://127.0.0.40:8040/2025/06/03/story-{number}.html"
    body = article_html(f"Machine learning finds catalyst number {number}").encode()
    return PageItem("alpha", url, url, 200, body, "text/html; charset=utf-8", "utf-8", "feed")


def test_pages_held_by_a_worker_that_died_are_extracted_again_and_the_next_go_to_a_new_pool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def crawl(pipeline: ExtractPipeline) -> tuple[list[ExtractedPage], int, ExtractedPage]:
        items = [asyncio.ensure_future(pipeline.process_item(_article_page(number))) for number in range(24)]
        await asyncio.wait(items, return_when=asyncio.FIRST_COMPLETED)  # the pool is busy with the others
        killed = _kill_workers()
        done = await asyncio.gather(*items)
        assert pipeline.isolation is None  # the worker that extracted them alone is stopped with the last one
        return done, killed, await pipeline.process_item(_article_page(99))

    config = make_config(tmp_path)
    with (
        open_crawl(config, AI4S_EXTRACT_WORKERS=2) as crawler,
        caplog.at_level(logging.WARNING, logger="crawler.crawl.pipelines"),
    ):
        done, killed, later = _run_extraction(crawler, crawl)
    assert killed >= 1
    assert all(isinstance(item.result, ExtractedArticle) for item in done)  # none lost
    assert [item.result.title for item in done] == [  # type: ignore[union-attr]
        f"Machine learning finds catalyst number {number}" for number in range(24)
    ]
    assert isinstance(later.result, ExtractedArticle)  # a new pool took the next page
    died = [r.getMessage() for r in caplog.records if "a worker died" in r.getMessage()]
    assert died and all("extracting it again alone" in line for line in died)  # the pages the pool held
    assert not [line for line in died if _article_page(99).url in line]  # the next page went to a new pool
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_pool_that_cannot_start_fails_its_pages_for_a_later_crawl_and_the_next_start_is_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork server or a worker cannot be started (no memory, no process left): the page waits for a later
    crawl; once a pool starts again, the next pages are extracted."""
    import crawler.crawl.pipelines as pipelines

    real_pool, starts = pipelines.make_extraction_pool, []

    def failing_pool(*args: Any) -> Any:
        starts.append(args)
        if len(starts) <= 1 + ISOLATED_TRIES:  # the crawl's pool, then every pool of one for the page alone
            raise OSError(12, "Cannot allocate memory")
        return real_pool(*args)

    monkeypatch.setattr(pipelines, "make_extraction_pool", failing_pool)

    async def crawl(pipeline: ExtractPipeline) -> list[ExtractedPage]:
        first = await pipeline.process_item(_article_page(1))
        return [first, *await asyncio.gather(*(pipeline.process_item(_article_page(n)) for n in range(2, 5)))]

    config = make_config(tmp_path)
    with (
        open_crawl(config, AI4S_EXTRACT_WORKERS=2) as crawler,
        caplog.at_level(logging.WARNING, logger="crawler.crawl.pipelines"),
    ):
        failed, *later = _run_extraction(crawler, crawl)
        _through([StorePipeline.from_crawler(crawler)], failed)
    assert isinstance(failed.result, NotAnArticle) and failed.result.outcome == "extraction_error"
    assert failed.result.reason == (
        f"extraction failed: the worker extracting it alone could not be started, {ISOLATED_TRIES} times "
        "(OSError(12, 'Cannot allocate memory'))"
    )
    assert all(isinstance(item.result, ExtractedArticle) for item in later)
    assert len(starts) == 2 + ISOLATED_TRIES  # the crawl's pool started at the next page, once
    warned = [r.getMessage() for r in caplog.records if "did not start" in r.getMessage()]
    assert warned == [
        f"Extraction of {_article_page(1).url}: the worker pool did not start (OSError(12, 'Cannot allocate memory')); extracting it alone"
    ]
    with corpus(config) as session:
        assert retriable_urls(session, ["alpha"], max_attempts=3) == [(_article_page(1).url, "alpha")]


def _big_page() -> PageItem:
    """An article page whose extraction takes over a second."""
    url = "http://127.0.0.40:8040/2025/06/03/long-story.html"
    paragraphs = "".join(f"<p>{PARAGRAPH} Number {number}.</p>" for number in range(6000))
    body = f"<html><body><article><h1>A long story</h1>{paragraphs}</article></body></html>".encode()
    return PageItem("alpha", url, url, 200, body, "text/html; charset=utf-8", "utf-8", "feed")


def test_a_page_is_blamed_only_for_workers_that_die_each_time_it_is_extracted_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def alone(pipeline: ExtractPipeline) -> tuple[list[ProcessedPage], int, ProcessedPage]:
        first, second = await asyncio.gather(  # the pool of one worker takes one page, then the other
            pipeline._processed_alone(_article_page(1)), pipeline._processed_alone(_article_page(2))
        )
        for _ in range(100):  # and stops with no page left for it
            if not _extraction_workers():
                break
            await asyncio.sleep(0.1)
        assert pipeline.isolation is None and not _extraction_workers()
        long = asyncio.ensure_future(pipeline._processed_alone(_big_page()))
        kills = 0
        while not long.done():  # every worker given the long page dies before it is done
            await asyncio.sleep(0.4)
            kills += 0 if long.done() else _kill_workers()
        third = await pipeline._processed_alone(_article_page(3))
        return [first, second, third], kills, long.result()

    config = make_config(tmp_path)
    with open_crawl(config) as crawler, caplog.at_level(logging.ERROR, logger="crawler.crawl.pipelines"):
        fine, kills, failed = _run_extraction(crawler, alone)
    assert all(isinstance(processed.result, ExtractedArticle) for processed in fine)
    assert kills >= ISOLATED_TRIES
    assert isinstance(failed.result, NotAnArticle) and failed.result.outcome in RETRIABLE_OUTCOMES
    assert failed.result.reason.startswith("extraction failed: ") and failed.failure
    with open_crawl(config) as crawler, caplog.at_level(logging.ERROR, logger="crawler.crawl.pipelines"):
        store = StorePipeline.from_crawler(crawler)
        _through([store], ExtractedPage(_big_page(), failed))  # a failed fetch: the next crawls try it again
    with corpus(config) as session:
        assert retriable_urls(session, ["alpha"], max_attempts=3) == [(_big_page().url, "alpha")]


def test_a_page_beyond_the_cpu_limit_is_stored_as_a_failure_the_next_crawls_retry_and_the_others_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = "http://127.0.0.40:8040/index-of-everything.html"
    farm = PageItem("alpha", url, url, 200, link_farm_html().encode(), "text/html; charset=utf-8", "utf-8", "feed")

    async def crawl(pipeline: ExtractPipeline) -> list[ExtractedPage]:
        pages = [_article_page(1), farm, *[_article_page(number) for number in range(2, 8)]]
        return list(await asyncio.gather(*(pipeline.process_item(page) for page in pages)))

    config = make_config(tmp_path)
    with (
        open_crawl(config, AI4S_EXTRACT_WORKERS=2, AI4S_EXTRACT_CPU_LIMIT=1) as crawler,
        caplog.at_level(logging.WARNING, logger="crawler.crawl.pipelines"),
    ):
        first, stopped, *others = _run_extraction(crawler, crawl)
        _through([StorePipeline.from_crawler(crawler)], stopped)
    assert all(isinstance(item.result, ExtractedArticle) for item in [first, *others])
    assert isinstance(stopped.result, NotAnArticle) and stopped.result.outcome == "extraction_error"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"Extraction of {url} failed: it took more than 1 s of CPU time"
    ]
    assert not [r for r in caplog.records if "died" in r.getMessage()]  # its worker went on
    with corpus(config) as session:
        assert retriable_urls(session, ["alpha"], max_attempts=3) == [(url, "alpha")]
