"""Fingerprints of URLs and texts: the keys of the corpus's uniqueness constraints."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def url_hash(canonical_url: str) -> str:
    """The hex SHA-1 of a canonical URL (40 characters), the unique key of a URL."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()


def normalise_for_hash(text: str) -> str:
    """The text reduced to what an exact-duplicate check compares: NFKC (full-width folded), no whitespace.

    Whitespace is dropped, not collapsed: templates break the same paragraphs differently,
    and CJK text has no spaces between words to lose.
    """
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def content_hash(text: str) -> str:
    """The hex SHA-256 of the normalised text (64 characters), the unique key of an article's content."""
    return hashlib.sha256(normalise_for_hash(text).encode("utf-8")).hexdigest()
