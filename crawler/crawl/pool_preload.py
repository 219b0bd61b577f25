"""What an extraction worker does with a fetched page. Imported once by the extraction pool's fork server:
the extractor, its language model and OpenCC's dictionaries are loaded there, so every worker forked from
it starts ready and shares them, while the crawl process never loads them."""

from __future__ import annotations

import gc
from datetime import datetime

from crawler.crawl.pool import ProcessedPage
from crawler.stories.fingerprint import MIN_SHINGLES, credited_source, fingerprint
from crawler.text.extract import ExtractedArticle, extract_article, warm_up
from crawler.text.template_blocks import KeyedBlocks
from storage.pages import compress_page


def processed_page(
    body: bytes,
    url: str,
    header_charset: str | None,
    content_type: str | None,
    template: frozenset[int],
    first_published: datetime | None = None,
) -> ProcessedPage:
    """Extract a fetched page and, when it holds an article, fingerprint it without the blocks of ``template``
    and compress the page."""
    result = extract_article(body, url, header_charset, content_type, first_published)
    if not isinstance(result, ExtractedArticle):
        return ProcessedPage(result)
    blocks = KeyedBlocks.of(result.text)
    removed = frozenset(key for _, key in blocks.blocks if key in template)
    return ProcessedPage(
        result,
        fingerprint(blocks.without(removed).text),
        credited_source(result.text),  # the credit line is read before the template is removed
        compress_page(body),
        removed,
    )


warm_up()
# Long enough to be fingerprinted: loads OpenCC's dictionaries here too, not in each worker.
fingerprint(" ".join(f"warm-up{number}" for number in range(MIN_SHINGLES + 10)))
# What is loaded so far is never freed: kept out of the collector's sight, the workers forked from here do not
# write to those pages (a collection would, copying them one by one) and keep sharing them.
gc.freeze()
