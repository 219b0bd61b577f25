"""The extraction pool: the crawl process stays slim (the extractor lives in the workers), and a page goes
through a worker forked from the fork server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawler.crawl.pool import make_extraction_pool, process_page
from crawler.relevance.profile import RelevanceScorer, Term, TopicProfile, load_profile
from crawler.text.article import ExtractedArticle
from storage.repository import StoredForms

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
