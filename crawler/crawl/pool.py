"""The extraction pool: worker processes forked from a fork server that has loaded the extractor, and
what a worker does with one fetched page (extract the article, cut its text into keyed blocks, and make
what storing it needs while the text is at hand: the fingerprint for near-duplicate detection, the
relevance score, the content hash and the search forms of the text cleaned of the template the crawl knows,
and the page compressed, to be kept beside it).

The crawl process imports this module but never the extractor: what a worker does lives in
:mod:`crawler.crawl.pool_preload`, which only the fork server (and so every worker) imports.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from crawler.children import end_worker_with_fork_server, start_pools_here
from crawler.text.article import ExtractedArticle, NotAnArticle

if TYPE_CHECKING:
    from datetime import datetime

    from crawler.relevance.profile import Relevance, TopicProfile
    from crawler.stories.fingerprint import Fingerprint
    from crawler.text.template_blocks import KeyedBlocks
    from storage.pages import CompressedPage
    from storage.repository import StoredForms


@dataclass(frozen=True)
class CleanedInWorker:
    """What a worker made of an article's text without the template blocks it was told of. The store uses it
    where its own cleaning gives this same text, and makes it again otherwise."""

    text: str
    #: The template blocks taken out of the extracted text to give :attr:`text`.
    removed: frozenset[int]
    fingerprint: Fingerprint | None
    #: ``None`` where the worker was given no topic profile.
    relevance: Relevance | None
    forms: StoredForms


@dataclass(frozen=True)
class ProcessedPage:
    """The extraction result, and for an article its text's keyed blocks, what the worker made of the text
    cleaned of the template it knew, the outlet it credits and its page compressed."""

    result: ExtractedArticle | NotAnArticle
    blocks: KeyedBlocks | None = None
    cleaned: CleanedInWorker | None = None
    credited_source: str | None = None
    compressed_page: CompressedPage | None = None
    #: Why extraction failed, where it raised (logged as an error by the crawl).
    failure: str | None = None

    @classmethod
    def failed(cls, outcome: str, why: str) -> ProcessedPage:
        """A page whose extraction failed, for ``why``: no article, with ``outcome``."""
        return cls(NotAnArticle(outcome, f"extraction failed: {why}"), failure=why)


class CpuTimeUp(BaseException):
    """Raised in a worker whose page has used up the CPU time it may take (a :class:`BaseException`, so that
    the extractor's own ``except Exception`` clauses let it through)."""


def _raise_cpu_time_up(signum: int, frame: FrameType | None) -> None:
    raise CpuTimeUp


@contextmanager
def cpu_time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CpuTimeUp` in the block once this process has used ``seconds`` of CPU time in it, and end
    the process where it is still running at twice that (at least one second more): the kernel's timers count
    the time, so a page that keeps the interpreter inside C code is stopped too. ``None``: no limit. For a
    worker's main thread only: the process ends, and signals reach that thread."""
    if not seconds:
        yield
        return
    signal.signal(signal.SIGVTALRM, _raise_cpu_time_up)
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the default action: end the process
    signal.setitimer(signal.ITIMER_PROF, seconds + max(seconds, 1.0))
    # again every so often after the first: one raised where Python cannot raise (a __del__, a weakref's
    # callback) is printed and dropped
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds, min(seconds, 1.0))
    try:
        yield
    finally:
        stop_cpu_timers()


def stop_cpu_timers() -> None:
    """Disarm :func:`cpu_time_limit`'s timers (again, where its signal came as the block ended and cut its
    cleanup short)."""
    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    signal.setitimer(signal.ITIMER_PROF, 0)


def process_page(
    body: bytes,
    url: str,
    header_charset: str | None,
    content_type: str | None,
    template: frozenset[int] = frozenset(),
    first_published: datetime | None = None,
) -> ProcessedPage:
    """Extract a fetched page and, when it holds an article, fingerprint its text without the blocks of
    ``template`` (its source's template as far as the crawl knows it), score it where the worker was given a
    topic profile (:func:`make_extraction_pool`), and compress the page.
    ``first_published`` is the date the feed or sitemap that named the page gave, if any (see
    :func:`crawler.text.extract.extract_article`).

    In a worker given a CPU time limit, a page that takes longer fails as ``extraction_error`` (tried again by
    the next crawls, up to their most attempts); one that holds the interpreter in C code ends its worker, as
    :func:`cpu_time_limit` says."""
    from crawler.crawl import pool_preload as worker  # loaded by the fork server: at hand in every worker

    try:
        with cpu_time_limit(worker.cpu_limit):
            return worker.processed_page(body, url, header_charset, content_type, template, first_published)
    except CpuTimeUp:
        stop_cpu_timers()
        return ProcessedPage.failed("extraction_error", f"it took more than {worker.cpu_limit:g} s of CPU time")
    except Exception as exc:  # the page's doing: its result, so that what a pool raises is the pool's failure
        return ProcessedPage.failed("no_text", repr(exc))


def warm_up_worker() -> None:
    """Load everything extraction needs in this worker (the fork server has done it already: a no-op there)."""
    from crawler.crawl.pool_preload import warm_up

    warm_up()


def configure_worker(profile: TopicProfile | None, cpu_limit: float | None) -> None:
    """Score the articles this worker extracts against ``profile`` (``None``: leave scoring to the store), and
    give each page at most ``cpu_limit`` seconds of CPU time (``None``: no limit); the worker ends with the fork
    server it was forked from."""
    from crawler.crawl.pool_preload import configure

    end_worker_with_fork_server()
    configure(profile, cpu_limit)


def make_extraction_pool(
    workers: int = 0, profile: TopicProfile | None = None, cpu_limit: float | None = None
) -> Executor:
    """A process pool for :func:`process_page` (``workers`` = 0: one per core), whose workers score the
    articles they extract against ``profile``, if one is given, and give each page at most ``cpu_limit``
    seconds of CPU time, if one is given.

    Workers are forked from a fork server that has already imported the extractor, so they
    start fast, share its memory until they write to it, and share nothing with the reactor's threads.
    Workers are not recycled (``max_tasks_per_child``): on Python 3.11 to 3.13 a pool with a backlog of
    tasks hangs once its first worker retires (CPython gh-115634).
    """
    workers = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("forkserver")
    start_pools_here()
    context.set_forkserver_preload(["crawler.fork_server", "crawler.crawl.pool_preload"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=configure_worker, initargs=(profile, cpu_limit)
    )
