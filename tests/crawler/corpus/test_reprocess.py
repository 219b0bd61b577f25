"""Reprocessing the stored corpus from the kept pages (``ai4s reprocess``), on real corpus pages stored as a
crawl stores them, in real SQLite and PostgreSQL databases: an article whose stored text came from an older
extraction gets the text its page gives now; articles without a kept page are left as they are; the source
and date filters hold; every batch commits on its own; two articles never end with one text."""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawler.corpus.reprocess import ReprocessReport, UnknownSource, reprocess_articles
from crawler.crawl.pool import process_page
from crawler.relevance.profile import RelevanceScorer, load_profile
from crawler.stories.assign import assign_story
from crawler.text.extract import EXTRACTOR, ExtractedArticle
from storage import Database, NewArticle
from storage.hashing import content_hash
from storage.models import Article, ArticlePage
from storage.pages import PageToKeep, compress_page, keep_page
from storage.repository import store_article
from tests.crawler.support import ai4s_in_process, survivors_of_a_killed_pool

#: Pages of the test corpus used here (real news pages; the first of its fundus pages that hold an article).
PAGES = 6
OLDER_EXTRACTION = "An older extractor kept the navigation too. Home | News | Contact. " * 8


@dataclass(frozen=True)
class CrawledPage:
    """A real page as a site served it, and the source it is stored under."""

    source: str
    url: str
    body: bytes
    content_type: str


@pytest.fixture(scope="module")
def scorer() -> RelevanceScorer:
    return RelevanceScorer(load_profile())


@pytest.fixture(scope="module")
def pages(corpus_dir: Path) -> list[CrawledPage]:
    """Real corpus pages that hold an article, under two sources."""
    found: list[CrawledPage] = []
    for line in (corpus_dir / "index.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["source"] != "fundus":
            continue
        body = gzip.decompress((corpus_dir / "fundus" / f"{entry['id']}.html.gz").read_bytes())
        url = f"http://127.0.0.4{len(found) % 2}/news/{entry['id']}.html"
        content_type = f"text/html; charset={entry['encoding']}"
        if isinstance(process_page(body, url, entry["encoding"], content_type).result, ExtractedArticle):
            found.append(CrawledPage(f"outlet{len(found) % 2}", url, body, content_type))
        if len(found) == PAGES:
            return found
    pytest.skip(f"the test corpus has fewer than {PAGES} fundus pages with an article")


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """An empty corpus database in a SQLite file."""
    with Database(f"sqlite:///{tmp_path / 'corpus.sqlite3'}") as database:
        yield database


def store_crawled(database: Database, scorer: RelevanceScorer, page: CrawledPage, keep: bool = True) -> int:
    """Store ``page`` as the crawl's store pipeline does (with its kept page unless not ``keep``); its id."""
    processed = process_page(page.body, page.url, None, page.content_type)
    result = processed.result
    assert isinstance(result, ExtractedArticle)
    relevance = scorer.score(result.title, result.text)
    article = NewArticle(
        page.source, page.url, page.url, result.title, result.text, result.author, result.site_name,
        result.published, result.language, result.encoding, relevance.score, relevance.relevant,
        json.dumps(relevance.evidence(), ensure_ascii=False), processed.credited_source,
    )  # fmt: skip
    with database.session() as session, session.begin():
        stored = store_article(session, article)
        assert stored.created
        if keep:
            assert processed.compressed_page is not None
            kept = PageToKeep(processed.compressed_page, page.url, page.content_type, None, EXTRACTOR)
            keep_page(session, stored.article_id, kept)
        assign_story(session, stored.article_id, processed.cleaned.fingerprint if processed.cleaned else None)
    return stored.article_id


def as_if_extracted_before(database: Database, article_id: int, n: int = 0) -> None:
    """Give a stored article the text and title an older extractor made of its page."""
    text = f"{OLDER_EXTRACTION} Article {article_id}, version {n}."
    with database.session() as session, session.begin():
        session.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(text=text, title="Home", content_hash=content_hash(text), relevance=0.99)
        )
        session.execute(
            update(ArticlePage).where(ArticlePage.article_id == article_id).values(extractor="trafilatura 0.9.0")
        )


def articles(database: Database) -> dict[int, Article]:
    with database.session() as session:
        return {a.id: a for a in session.execute(select(Article)).scalars()}


def extractors(database: Database) -> dict[int, str]:
    with database.session() as session:
        return dict(session.execute(select(ArticlePage.article_id, ArticlePage.extractor)).all())


def test_an_article_of_an_older_extraction_gets_the_text_its_page_gives_now(
    database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    ids = [store_crawled(database, scorer, page) for page in pages[:3]]
    as_crawled = articles(database)
    as_if_extracted_before(database, ids[1])
    assert articles(database)[ids[1]].text.startswith(OLDER_EXTRACTION)
    seen: list[ReprocessReport] = []

    report = reprocess_articles(database, scorer, batch=2, workers=1, on_progress=seen.append)

    after = articles(database)
    restored = after[ids[1]]
    original = as_crawled[ids[1]]
    assert (restored.text, restored.title, restored.relevance) == (original.text, original.title, original.relevance)
    assert restored.content_hash == content_hash(original.text) == original.content_hash
    assert restored.minhash == original.minhash and restored.evidence == original.evidence
    for article_id in (ids[0], ids[2]):
        assert after[article_id].text == as_crawled[article_id].text
    assert extractors(database) == dict.fromkeys(ids, EXTRACTOR)
    assert (report.to_reprocess, report.reprocessed, report.changed, report.unchanged) == (3, 3, 1, 2)
    assert (report.failed, report.collisions, report.skipped) == (0, [], 0)
    assert report.stories is not None and report.stories.articles == 3
    assert all(a.story_id is not None for a in after.values())
    assert [r.reprocessed for r in seen] == [0, 2, 3, 3]  # the start, each batch, the regrouping


def test_articles_without_a_kept_page_are_left_as_they_are(
    sqlite_database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    kept = store_crawled(sqlite_database, scorer, pages[0])
    old = store_crawled(sqlite_database, scorer, pages[1], keep=False)
    as_if_extracted_before(sqlite_database, kept)
    as_if_extracted_before(sqlite_database, old)
    before = articles(sqlite_database)[old]

    report = reprocess_articles(sqlite_database, scorer, workers=1)

    after = articles(sqlite_database)
    assert (report.reprocessed, report.changed, report.skipped) == (1, 1, 1)
    assert not after[kept].text.startswith(OLDER_EXTRACTION)
    assert (after[old].text, after[old].title, after[old].relevance) == (before.text, "Home", 0.99)


def test_only_the_articles_of_the_source_and_period_asked_for_are_reprocessed(
    sqlite_database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    ids = {page.url: store_crawled(sqlite_database, scorer, page) for page in pages[:4]}
    of_outlet0 = [ids[p.url] for p in pages[:4] if p.source == "outlet0"]
    of_outlet1 = [ids[p.url] for p in pages[:4] if p.source == "outlet1"]
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with sqlite_database.session() as session, session.begin():  # one article of each source was first seen long ago
        session.execute(
            update(Article).where(Article.id.in_([of_outlet0[0], of_outlet1[0]])).values(first_seen=long_ago)
        )
    for article_id in ids.values():
        as_if_extracted_before(sqlite_database, article_id)

    by_source = reprocess_articles(sqlite_database, scorer, sources=["outlet1"], workers=1)
    still_old = {i for i, a in articles(sqlite_database).items() if a.text.startswith(OLDER_EXTRACTION)}
    assert (by_source.reprocessed, by_source.changed, by_source.skipped) == (2, 2, 0)
    assert still_old == set(of_outlet0)

    by_date = reprocess_articles(sqlite_database, scorer, since=datetime.now(UTC) - timedelta(days=1), workers=1)
    still_old = {i for i, a in articles(sqlite_database).items() if a.text.startswith(OLDER_EXTRACTION)}
    assert (by_date.reprocessed, by_date.changed, by_date.unchanged) == (2, 1, 1)
    assert still_old == {of_outlet0[0]}

    with pytest.raises(UnknownSource, match="nowhere"):
        reprocess_articles(sqlite_database, scorer, sources=["outlet0", "nowhere"], workers=1)


class Interrupted(Exception):
    """Stands for a kill or Ctrl-C in the middle of a run."""


def test_each_batch_commits_so_an_interrupted_run_keeps_what_it_did_and_a_second_run_finishes(
    database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    ids = [store_crawled(database, scorer, page) for page in pages[:4]]
    for article_id in ids:
        as_if_extracted_before(database, article_id)

    def interrupt_after_two_batches(report: ReprocessReport) -> None:
        if report.reprocessed == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        reprocess_articles(database, scorer, batch=1, workers=1, on_progress=interrupt_after_two_batches)

    old = {i for i, a in articles(database).items() if a.text.startswith(OLDER_EXTRACTION)}
    assert old == set(ids[2:])
    assert extractors(database) == {
        ids[0]: EXTRACTOR,
        ids[1]: EXTRACTOR,
        ids[2]: "trafilatura 0.9.0",
        ids[3]: "trafilatura 0.9.0",
    }

    report = reprocess_articles(database, scorer, batch=1, workers=1)

    assert (report.reprocessed, report.changed, report.unchanged) == (4, 2, 2)
    assert not any(a.text.startswith(OLDER_EXTRACTION) for a in articles(database).values())


def test_two_articles_that_would_become_one_text_keep_the_older_ones(
    database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    older, newer = (store_crawled(database, scorer, page) for page in pages[:2])
    newer_before = articles(database)[newer]
    # the newer article's kept page now gives the older article's text (as a template-blind extractor might)
    with database.session() as session, session.begin():
        page = compress_page(pages[0].body)
        session.execute(update(ArticlePage).where(ArticlePage.article_id == newer).values(body=page.data))

    report = reprocess_articles(database, scorer, workers=1)

    after = articles(database)
    assert [(c.article_id, c.holder) for c in report.collisions] == [(newer, older)]
    assert (report.reprocessed, report.unchanged, report.changed) == (2, 1, 0)
    assert after[newer].text == newer_before.text and after[newer].content_hash == newer_before.content_hash
    assert after[older].content_hash == content_hash(after[older].text)


def test_a_kept_page_that_gives_no_article_now_leaves_its_article_as_it_was(
    sqlite_database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    article_id = store_crawled(sqlite_database, scorer, pages[0])
    before = articles(sqlite_database)[article_id]
    with sqlite_database.session() as session, session.begin():
        page = compress_page(b"<html><body><p>Page moved.</p></body></html>")
        session.execute(update(ArticlePage).where(ArticlePage.article_id == article_id).values(body=page.data))

    report = reprocess_articles(sqlite_database, scorer, workers=1)

    assert (report.reprocessed, report.failed, report.changed) == (1, 1, 0)
    assert articles(sqlite_database)[article_id].text == before.text
    assert extractors(sqlite_database) == {article_id: EXTRACTOR}


def test_the_command_reprocesses_and_prints_its_summary(
    sqlite_database: Database, scorer: RelevanceScorer, pages: list[CrawledPage]
) -> None:
    ids = [store_crawled(sqlite_database, scorer, page) for page in pages[:2]]
    store_crawled(sqlite_database, scorer, pages[2], keep=False)
    as_if_extracted_before(sqlite_database, ids[0])
    url = sqlite_database.url

    result = ai4s_in_process("reprocess", "--db", url, "--since", "1d", "--batch", "1", "--workers", "1")

    assert result.returncode == 0, result.stderr
    for row, count in (
        ("articles reprocessed", 2),
        ("changed", 1),
        ("unchanged", 1),
        ("failed", 0),
        ("collisions", 0),
        ("articles without a kept page", 1),
    ):
        assert re.search(rf"\b{row}\b[^\n]*?\W{count}\W*$", result.stdout, re.MULTILINE), (row, result.stdout)
    assert not articles(sqlite_database)[ids[0]].text.startswith(OLDER_EXTRACTION)

    unknown = ai4s_in_process("reprocess", "--db", url, "--source", "nowhere")
    assert unknown.returncode == 2 and "no stored source named 'nowhere'" in unknown.stderr
    bad_date = ai4s_in_process("reprocess", "--db", url, "--since", "last tuesday")
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_reprocess_killed_outright_leaves_no_extraction_process_behind() -> None:
    # its pool had nothing that ended it with its parent: 430 MB of workers, alive 16 minutes after a kill -9
    imports = "from crawler.corpus.reprocess import make_reprocess_pool"
    assert survivors_of_a_killed_pool(imports, "make_reprocess_pool(2)", "time.sleep, 0.2") == []
