"""Processing the stored corpus again from the kept pages (``ai4s reprocess``), so that a better
extractor, text cleaning or topic profile reaches the articles stored before it: each kept page is
extracted again, its text cleaned, scored and fingerprinted, and the article's fields replaced;
then the stories are regrouped.

Articles stored before pages were kept have none and are left as they are. Extraction runs in a pool
of processes (one per core); the articles are written in batches, one transaction each, so a crash
or a kill loses at most the batch under way, and running it again is harmless (an article already
reprocessed comes out unchanged).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.children import end_worker_with_fork_server, start_pools_here
from crawler.corpus.templates import clean_stored_text, current_template
from crawler.relevance.profile import RelevanceScorer
from crawler.stories.assign import RebuildReport, rebuild_stories
from crawler.stories.fingerprint import credited_source, shingle_set, shingles_fingerprint
from crawler.text.extract import EXTRACTOR, ExtractedArticle, NotAnArticle, extract_article, warm_up
from crawler.text.urls import declared_identity
from storage import Database
from storage.models import Source
from storage.pages import (
    ArticleSelection,
    KeptPage,
    count_kept_pages,
    decompress_page,
    kept_pages_after,
    mark_extracted,
)
from storage.repository import (
    FIELDS_CHANGED,
    FIELDS_COLLIDE,
    FIELDS_UNCHANGED,
    ArticleFields,
    replace_article_fields,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200


class UnknownSource(ValueError):
    """A source named in the selection has no stored article."""


@dataclass(frozen=True)
class Collision:
    """An article whose new text another article already holds: it kept its own."""

    article_id: int
    holder: int | None


@dataclass(frozen=True)
class ReprocessReport:
    """What a reprocessing run did, counted so far (a callback sees it after every batch)."""

    to_reprocess: int = 0  # selected articles with a kept page
    skipped: int = 0  # selected articles without a kept page (stored before pages were kept): left as they are
    reprocessed: int = 0  # articles done: changed + unchanged + failed + collisions
    changed: int = 0
    unchanged: int = 0
    failed: int = 0  # the kept page gave no article this time (or could not be read): left as it was
    collisions: list[Collision] = field(default_factory=list)
    stories: RebuildReport | None = None  # the regrouping after the articles


def extract_kept_page(
    codec: str,
    data: bytes,
    url: str,
    header_charset: str | None,
    content_type: str | None,
    template: frozenset[int] = frozenset(),
) -> ExtractedArticle | NotAnArticle:
    """The article in a kept page, whose site's template is ``template`` (what an extraction worker runs)."""
    return extract_article(decompress_page(codec, data), url, header_charset, content_type, template=template)


def make_reprocess_pool(workers: int = 0) -> Executor:
    """A pool of extraction processes (``workers`` = 0: one per core), started from a fork server so that
    they share nothing with this process's threads (the progress display has one)."""
    context = multiprocessing.get_context("forkserver")
    start_pools_here()
    # the workers start with the extractor imported, and end with the fork server, which ends with this process
    context.set_forkserver_preload(["crawler.fork_server", __name__])
    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1, mp_context=context, initializer=_start_worker
    )


def _start_worker() -> None:
    """In a new reprocess worker: end with the fork server, and load what extraction needs."""
    end_worker_with_fork_server()
    warm_up()


def resolve_selection(session: Session, sources: Sequence[str], since: datetime | None) -> ArticleSelection:
    """The articles of ``sources`` (all when empty) first seen at or after ``since``."""
    ids = dict(session.execute(select(Source.name, Source.id).where(Source.name.in_(sources))).all())
    unknown = [name for name in sources if name not in ids]
    if unknown:
        raise UnknownSource(f"no stored source named {', '.join(map(repr, unknown))}")
    return ArticleSelection(tuple(ids[name] for name in sources), since)


def reprocess_articles(
    database: Database,
    scorer: RelevanceScorer,
    sources: Sequence[str] = (),
    since: datetime | None = None,
    batch: int = DEFAULT_BATCH,
    workers: int = 0,
    on_progress: Callable[[ReprocessReport], None] | None = None,
) -> ReprocessReport:
    """Extract, clean, score and fingerprint again every selected article that has a kept page, replace
    its fields, then regroup the stories; one transaction per ``batch`` articles."""
    with database.session() as session:
        selection = resolve_selection(session, sources, since)
        counts = count_kept_pages(session, selection)
    report = ReprocessReport(to_reprocess=counts.with_page, skipped=counts.without_page)
    if on_progress:
        on_progress(report)
    last_id = 0
    with make_reprocess_pool(workers) as pool:
        while True:
            with database.session() as session:
                pages = kept_pages_after(session, selection, last_id, batch)
                templates = current_template(session, {page.source_id for page in pages})
            if not pages:
                break
            results = extract_all(pool, pages, templates)
            with database.session() as session, session.begin():
                report = reprocess_batch(session, scorer, pages, results, report)
            last_id = pages[-1].article_id
            if on_progress:
                on_progress(report)
    report = replace(report, stories=rebuild_stories(database, batch=max(batch, 500)))
    if on_progress:
        on_progress(report)
    return report


def extract_all(
    pool: Executor, pages: Sequence[KeptPage], templates: Mapping[int, frozenset[int]] | None = None
) -> list[ExtractedArticle | NotAnArticle]:
    """The extraction of every page, in order, in the pool, given its source's template (``templates``, by source
    id); a page whose extraction raised is not an article."""
    templates = templates or {}
    futures = [
        pool.submit(
            extract_kept_page,
            p.codec,
            p.data,
            p.url,
            p.header_charset,
            p.content_type,
            templates.get(p.source_id, frozenset()),
        )
        for p in pages
    ]
    results: list[ExtractedArticle | NotAnArticle] = []
    for page, future in zip(pages, futures, strict=True):
        try:
            results.append(future.result())
        except Exception as exc:  # a crashed worker or a bug on one page must not stop the run
            logger.error("Extraction of article %d (%s) failed: %r", page.article_id, page.url, exc)
            results.append(NotAnArticle("no_text", f"extraction failed: {exc!r}"))
    return results


def reprocess_batch(
    session: Session,
    scorer: RelevanceScorer,
    pages: Sequence[KeptPage],
    results: Sequence[ExtractedArticle | NotAnArticle],
    report: ReprocessReport,
) -> ReprocessReport:
    """Clean, score and fingerprint each extracted page and replace its article's fields (in the caller's
    transaction); the report with this batch counted."""
    changed = unchanged = failed = 0
    collisions = list(report.collisions)
    for page, result in zip(pages, results, strict=True):
        if not isinstance(result, ExtractedArticle):
            logger.warning("Article %d: its kept page gave no article this time (%s)", page.article_id, result.reason)
            failed += 1
            continue
        replaced = replace_article_fields(session, page.article_id, article_fields(session, scorer, page, result))
        if replaced.outcome == FIELDS_COLLIDE:
            logger.warning("Article %d: its new text is article %s's; kept its own", page.article_id, replaced.holder)
            collisions.append(Collision(page.article_id, replaced.holder))
            continue
        mark_extracted(session, page.article_id, EXTRACTOR)
        changed += replaced.outcome == FIELDS_CHANGED
        unchanged += replaced.outcome == FIELDS_UNCHANGED
    done = changed + unchanged + failed + len(collisions) - len(report.collisions)
    return replace(
        report,
        reprocessed=report.reprocessed + done,
        changed=report.changed + changed,
        unchanged=report.unchanged + unchanged,
        failed=report.failed + failed,
        collisions=collisions,
    )


def article_fields(
    session: Session, scorer: RelevanceScorer, page: KeptPage, result: ExtractedArticle
) -> ArticleFields:
    """What the stored article becomes: the extracted fields, the cleaned text, its score and fingerprint."""
    text = clean_stored_text(session, page.source_id, result.text).text  # the source's template, as now known
    relevance = scorer.score(result.title, text)
    shingles = shingle_set(text)
    computed = shingles_fingerprint(shingles, text)
    published = result.published
    if published is not None and published.tzinfo is None:  # stored in UTC, read back aware: compare alike
        published = published.replace(tzinfo=UTC)
    return ArticleFields(
        title=result.title,
        text=text,
        author=result.author,
        site_name=result.site_name,
        published=published,
        language=result.language,
        encoding=result.encoding,
        relevance=relevance.score,
        relevant=relevance.relevant,
        evidence=relevance.evidence_json(),
        credited_source=credited_source(result.text),  # read before the template is removed
        minhash=computed.signature if computed else None,
        shingles=len(shingles),
        declared_url=declared_identity(page.url, result.declared_url),
    )
