"""What an extraction worker does with one fetched page: extract the article, and fingerprint it
for near-duplicate detection while the text is at hand. Runs in the extraction pool's processes."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.stories.fingerprint import Fingerprint, credited_source, fingerprint
from crawler.text.extract import ExtractedArticle, NotAnArticle, extract_article


@dataclass(frozen=True)
class ProcessedPage:
    """The extraction result, and for an article its fingerprint and the outlet it credits."""

    result: ExtractedArticle | NotAnArticle
    fingerprint: Fingerprint | None = None
    credited_source: str | None = None


def process_page(body: bytes, url: str, header_charset: str | None, content_type: str | None) -> ProcessedPage:
    """Extract a fetched page and, when it holds an article, fingerprint it."""
    result = extract_article(body, url, header_charset, content_type)
    if not isinstance(result, ExtractedArticle):
        return ProcessedPage(result)
    return ProcessedPage(result, fingerprint(result.text), credited_source(result.text))
