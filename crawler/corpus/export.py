"""Exporting the corpus: one JSON record per stored article, written as JSON lines."""

from __future__ import annotations

import json
from typing import Any, TextIO

from storage import Database
from storage.models import Article
from storage.repository import iter_articles

#: The export formats ``ai4s export`` knows.
EXPORT_FORMATS = ("jsonl",)


def article_record(article: Article, source_name: str) -> dict[str, Any]:
    """The exported record of a stored article: its addresses, source, text, dates, relevance and story."""
    return {
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": source_name,
        "title": article.title,
        "text": article.text,
        "published": article.published.date().isoformat() if article.published else None,
        "language": article.language,
        "relevance": article.relevance,
        "relevant": article.relevant,
        "story_id": article.story_id,
        "first_seen": article.first_seen.isoformat(),
    }


def export_jsonl(database: Database, stream: TextIO, include_off_topic: bool = False) -> int:
    """Write every stored on-topic article (every article, with ``include_off_topic``) to ``stream``
    as one JSON object per line, oldest first; the number written."""
    count = 0
    with database.session() as session:
        for article, source_name in iter_articles(session, include_off_topic=include_off_topic):
            stream.write(json.dumps(article_record(article, source_name), ensure_ascii=False) + "\n")
            count += 1
    return count
