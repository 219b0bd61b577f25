"""The extraction pool: worker processes forked from a fork server that has loaded the extractor, and
what a worker does with one fetched page (extract the article, fingerprint it for near-duplicate
detection while the text is at hand, and compress the page of an article, to be kept beside it).

The crawl process imports this module but never the extractor: what a worker does lives in
:mod:`crawler.crawl.pool_preload`, which only the fork server (and so every worker) imports.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.text.article import ExtractedArticle, NotAnArticle

if TYPE_CHECKING:
    from datetime import datetime

    from crawler.stories.fingerprint import Fingerprint
    from storage.pages import CompressedPage


@dataclass(frozen=True)
class ProcessedPage:
    """The extraction result, and for an article its fingerprint, the outlet it credits and its page compressed."""

    result: ExtractedArticle | NotAnArticle
    fingerprint: Fingerprint | None = None
    credited_source: str | None = None
    compressed_page: CompressedPage | None = None
    #: The blocks removed from the text before it was fingerprinted (those of ``template`` it holds).
    fingerprinted_without: frozenset[int] = frozenset()


def process_page(
    body: bytes,
    url: str,
    header_charset: str | None,
    content_type: str | None,
    template: frozenset[int] = frozenset(),
    first_published: datetime | None = None,
) -> ProcessedPage:
    """Extract a fetched page and, when it holds an article, fingerprint it (without the blocks of ``template``,
    its source's template as far as the crawl knows it) and compress the page. ``first_published`` is the date
    the feed or sitemap that named the page gave, if any (see :func:`crawler.text.extract.extract_article`)."""
    from crawler.crawl.pool_preload import processed_page  # loaded by the fork server: at hand in every worker

    return processed_page(body, url, header_charset, content_type, template, first_published)


def warm_up_worker() -> None:
    """Load everything extraction needs in this worker (the fork server has done it already: a no-op there)."""
    from crawler.crawl.pool_preload import warm_up

    warm_up()


def make_extraction_pool(workers: int = 0) -> Executor:
    """A process pool for :func:`process_page` (``workers`` = 0: one per core).

    Workers are forked from a fork server that has already imported the extractor, so they
    start fast, share its memory until they write to it, and share nothing with the reactor's threads.
    Workers are not recycled (``max_tasks_per_child``): on Python 3.11 to 3.13 a pool with a backlog of
    tasks hangs once its first worker retires (CPython gh-115634).
    """
    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.crawl.pool_preload"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)
