"""What an extraction worker does with a fetched page. Imported once by the extraction pool's fork server:
the extractor, its language model and OpenCC's dictionaries are loaded there, so every worker forked from
it starts ready and shares them, while the crawl process never loads them."""

from __future__ import annotations

import gc
from datetime import datetime

from crawler.crawl.pool import CleanedInWorker, ProcessedPage
from crawler.relevance.profile import RelevanceScorer, TopicProfile
from crawler.stories.fingerprint import MIN_SHINGLES, credited_source, fingerprint
from crawler.text.extract import ExtractedArticle, extract_article, warm_up
from crawler.text.template_blocks import KeyedBlocks
from storage.pages import compress_page
from storage.repository import StoredForms

#: The scorer of the crawl's topic profile, set when the worker starts (:func:`configure`).
_scorer: RelevanceScorer | None = None
#: The CPU seconds a page may take in this worker (``None``: no limit), set when the worker starts.
cpu_limit: float | None = None


def configure(profile: TopicProfile | None, page_cpu_limit: float | None) -> None:
    """Score the articles this worker extracts against ``profile`` (``None``: do not score them), and give
    each page at most ``page_cpu_limit`` seconds of CPU time (``None``: no limit)."""
    global _scorer, cpu_limit
    _scorer = RelevanceScorer(profile) if profile is not None else None
    cpu_limit = page_cpu_limit


def processed_page(
    body: bytes,
    url: str,
    header_charset: str | None,
    content_type: str | None,
    template: frozenset[int],
    first_published: datetime | None = None,
) -> ProcessedPage:
    """Extract a fetched page (again without the lines of ``template`` where it finds nothing else) and, when it
    holds an article, fingerprint it without the blocks of ``template`` (and score it, where :func:`configure`
    gave a profile), make its stored forms and compress the page."""
    result = extract_article(body, url, header_charset, content_type, first_published)
    if not isinstance(result, ExtractedArticle):
        return ProcessedPage(result)
    blocks = KeyedBlocks.of(result.text)
    if blocks.all_in(template):  # rare: extracted again, the template's lines left out (keyed once a page else)
        result = extract_article(body, url, header_charset, content_type, first_published, template)
        if not isinstance(result, ExtractedArticle):
            return ProcessedPage(result)
        blocks = KeyedBlocks.of(result.text)
    removed = frozenset(key for _, key in blocks.blocks if key in template)
    cut = blocks.without(removed)
    text = cut.text
    cleaned = CleanedInWorker(
        text,
        removed if cut.removed else frozenset(),
        fingerprint(text),
        _scorer.score(result.title, text) if _scorer is not None else None,
        StoredForms.of(result.title, text),
    )
    # The credit line is read before the template is removed.
    return ProcessedPage(result, blocks, cleaned, credited_source(result.text), compress_page(body))


warm_up()
# Long enough to be fingerprinted: loads OpenCC's dictionaries here too (the fingerprint's and the search
# forms'), not in each worker.
_WARM_UP_TEXT = " ".join(f"warm-up{number}" for number in range(MIN_SHINGLES + 10))
fingerprint(_WARM_UP_TEXT)
StoredForms.of("warm-up", _WARM_UP_TEXT)
# What is loaded so far is never freed: kept out of the collector's sight, the workers forked from here do not
# write to those pages (a collection would, copying them one by one) and keep sharing them.
gc.freeze()
