"""The extraction pool: the crawl process stays slim (the extractor lives in the workers), and a page goes
through a worker forked from the fork server."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.crawl.pool import CpuTimeUp, configure_worker, cpu_time_limit, make_extraction_pool, process_page
from crawler.relevance.profile import RelevanceScorer, Term, TopicProfile, load_profile
from crawler.text.article import ExtractedArticle, NotAnArticle
from storage.models import RETRIABLE_OUTCOMES
from storage.repository import StoredForms
from tests.crawler.support import link_farm_html, survivors_of_a_killed_pool

PROJECT_ROOT = Path(__file__).resolve().parents[3]

#: What the extraction workers load and the crawl process must not: trafilatura and its helpers, the
#: language model, and datasketch with SciPy.
WORKER_ONLY_MODULES = ("trafilatura", "htmldate", "justext", "courlan", "py3langid", "datasketch", "scipy")

ARTICLE_PAGE = (
    "<html lang='en'><head><title>Protein folding, predicted</title></head><body><article><h1>Protein folding</h1>"
    + "".join(
        f"<p>Paragraph {i}: researchers trained a model on measured structures and predicted the shape of "
        f"proteins that nobody had crystallised before, then checked the predictions in the laboratory.</p>"
        for i in range(8)
    )
    + "</article></body></html>"
).encode()


def test_the_crawl_process_does_not_load_the_extractor() -> None:
    code = (
        "import json, sys\n"
        "import crawler.app.cli, crawler.crawl.runner, crawler.crawl.pipelines, crawler.crawl.spiders.news\n"
        f"print(json.dumps(sorted(m for m in {WORKER_ONLY_MODULES!r} if m in sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_a_worker_extracts_and_fingerprints_a_page() -> None:
    pool = make_extraction_pool(1)
    try:
        processed = pool.submit(process_page, ARTICLE_PAGE, "http://example.org/a", None, "text/html").result(300)
    finally:
        pool.shutdown(wait=True)
    assert isinstance(processed.result, ExtractedArticle)
    assert processed.result.title == "Protein folding"
    assert processed.cleaned is not None and processed.cleaned.fingerprint is not None
    assert processed.compressed_page is not None
    assert processed == process_page(ARTICLE_PAGE, "http://example.org/a", None, "text/html")


def test_a_pool_given_the_topic_profile_scores_in_the_worker_as_the_store_would() -> None:
    profile = TopicProfile((Term("protein folding", "core"), Term("crystallised", "method")))  # not the default
    pool = make_extraction_pool(1, profile)
    try:
        processed = pool.submit(process_page, ARTICLE_PAGE, "http://example.org/a", None, "text/html").result(300)
    finally:
        pool.shutdown(wait=True)
    assert isinstance(processed.result, ExtractedArticle) and processed.cleaned is not None
    expected = RelevanceScorer(profile).score(processed.result.title, processed.cleaned.text)
    assert processed.cleaned.relevance == expected
    assert expected != RelevanceScorer(load_profile()).score(processed.result.title, processed.cleaned.text)
    assert processed.cleaned.forms == StoredForms.of(processed.result.title, processed.result.text)
    # without a profile the worker leaves scoring to the store
    assert process_page(ARTICLE_PAGE, "http://example.org/a", None, "text/html").cleaned.relevance is None  # type: ignore[union-attr]


def test_a_page_beyond_its_cpu_time_fails_to_be_tried_again_and_its_worker_goes_on() -> None:
    farm = link_farm_html().encode()
    pool = make_extraction_pool(1, cpu_limit=1.0)
    try:
        worker = pool.submit(os.getpid).result(300)
        stopped = pool.submit(process_page, farm, "http://example.org/index.html", "utf-8", "text/html").result(300)
        after = pool.submit(process_page, ARTICLE_PAGE, "http://example.org/a", None, "text/html").result(300)
        same_worker = pool.submit(os.getpid).result(300)
    finally:
        pool.shutdown(wait=True)
    assert isinstance(stopped.result, NotAnArticle) and stopped.result.outcome in RETRIABLE_OUTCOMES
    assert stopped.failure == "it took more than 1 s of CPU time"
    assert isinstance(after.result, ExtractedArticle)  # the limit is per page: the next one has all of it
    assert same_worker == worker  # which the same worker extracted: the limit ended a page, not the worker


def _extract_deaf_to_the_soft_limit(body: bytes) -> None:
    """Extract ``body`` under a 0.5 s limit in a process that never hears the limit's first signal, as one whose
    page holds it in C code would not."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGVTALRM})
    configure_worker(None, 0.5)
    process_page(body, "http://example.org/index.html", "utf-8", "text/html")


def test_a_page_that_keeps_its_worker_from_stopping_at_the_limit_ends_the_worker() -> None:
    child = multiprocessing.get_context("fork").Process(
        target=_extract_deaf_to_the_soft_limit, args=(link_farm_html().encode(),)
    )
    child.start()
    child.join(300)
    assert child.exitcode == -signal.SIGPROF  # ended by the kernel at twice the limit, not left to finish


def _swallow_the_first_stop(report: multiprocessing.queues.Queue[int]) -> None:
    """Run past a 0.3 s limit, dropping its first :class:`CpuTimeUp` as Python drops one raised in a ``__del__``;
    report how many came before the block was left."""
    stops = 0
    try:
        with cpu_time_limit(0.3):
            while True:
                try:
                    sum(range(10_000))
                except CpuTimeUp:
                    stops += 1
                    if stops > 1:
                        raise
    except CpuTimeUp:
        report.put(stops)


def test_a_stop_that_is_lost_comes_again_before_the_worker_is_ended() -> None:
    context = multiprocessing.get_context("fork")
    report = context.Queue()
    child = context.Process(target=_swallow_the_first_stop, args=(report,))
    child.start()
    child.join(300)
    assert child.exitcode == 0  # not ended at twice the limit
    assert report.get(timeout=10) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_crawl_process_killed_outright_leaves_no_extraction_process_behind() -> None:
    imports = "from crawler.crawl.pool import make_extraction_pool, warm_up_worker"
    assert survivors_of_a_killed_pool(imports, "make_extraction_pool(2)", "warm_up_worker") == []
