"""The extraction pool: worker processes forked from a fork server that has loaded the extractor, and
what a worker does with one fetched page (extract the article, fingerprint it for near-duplicate
detection while the text is at hand, and compress the page of an article, to be kept beside it)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from crawler.stories.fingerprint import Fingerprint, credited_source, fingerprint
from crawler.text.extract import ExtractedArticle, NotAnArticle, extract_article
from storage.pages import CompressedPage, compress_page


@dataclass(frozen=True)
class ProcessedPage:
    """The extraction result, and for an article its fingerprint, the outlet it credits and its page compressed."""

    result: ExtractedArticle | NotAnArticle
    fingerprint: Fingerprint | None = None
    credited_source: str | None = None
    compressed_page: CompressedPage | None = None


def process_page(body: bytes, url: str, header_charset: str | None, content_type: str | None) -> ProcessedPage:
    """Extract a fetched page and, when it holds an article, fingerprint it and compress the page."""
    result = extract_article(body, url, header_charset, content_type)
    if not isinstance(result, ExtractedArticle):
        return ProcessedPage(result)
    return ProcessedPage(result, fingerprint(result.text), credited_source(result.text), compress_page(body))


def make_extraction_pool(workers: int = 0) -> Executor:
    """A process pool for :func:`crawler.text.extract.extract_article` (``workers`` = 0: one per core).

    Workers are forked from a fork server that has already imported the extractor, so they
    start fast and share nothing with the reactor's threads.
    """
    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.crawl.pool_preload"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)
