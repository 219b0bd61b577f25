"""Exporting the stored corpus and scoring it again, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from crawler.corpus.export import article_record, export_jsonl
from crawler.corpus.rescore import RescoreCounts, rescore_articles
from crawler.relevance.profile import RelevanceScorer, load_profile
from storage import Database
from storage.models import Article, Source
from tests.crawler.corpus.corpora import corpus_texts, store_corpus


@pytest.fixture(scope="module")
def scorer() -> RelevanceScorer:
    return RelevanceScorer(load_profile())


def test_an_exported_record_holds_the_article_as_stored(database: Database, scorer: RelevanceScorer) -> None:
    store_corpus(database, scorer)
    with database.session() as session:
        article, source = session.execute(
            select(Article, Source.name).join(Source).where(Article.published.is_not(None)).limit(1)
        ).one()
        record = article_record(article, source)
    assert record == {
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": "news",
        "title": article.title,
        "text": article.text,
        "published": article.published.date().isoformat(),
        "language": article.language,
        "relevance": article.relevance,
        "relevant": article.relevant,
        "story_id": article.story_id,
        "first_seen": article.first_seen.isoformat(),
    }
    assert record["story_id"] is not None and len(record["published"]) == 10
    json.dumps(record)  # plain JSON values only


def test_the_export_writes_the_on_topic_articles_or_all_one_per_line(
    database: Database, scorer: RelevanceScorer
) -> None:
    ids = store_corpus(database, scorer)
    expected_on_topic = [t.url for t in corpus_texts() if scorer.score(t.title, t.text).relevant]
    assert 0 < len(expected_on_topic) < len(ids)
    on_topic, everything = io.StringIO(), io.StringIO()
    assert export_jsonl(database, on_topic) == len(expected_on_topic)
    assert export_jsonl(database, everything, include_off_topic=True) == len(ids)
    rows = [json.loads(line) for line in on_topic.getvalue().splitlines()]
    assert [row["url"] for row in rows] == expected_on_topic  # oldest first
    assert all(row["relevant"] for row in rows)
    lines = everything.getvalue().splitlines()
    assert len(lines) == len(ids) and any(not json.loads(line)["relevant"] for line in lines)
    assert any("\\u" not in line and not line.isascii() for line in lines)  # Chinese written as it is
    assert export_jsonl(database, io.StringIO()) == len(rows)  # reading changes nothing


def test_rescoring_applies_the_profile_to_every_stored_article_in_batches(
    database: Database, scorer: RelevanceScorer
) -> None:
    ids = store_corpus(database, scorer, flip=True)  # every verdict wrong, as after a profile change
    counts = rescore_articles(database, scorer, batch=3)  # a few batches, the last one short
    expected = {t.url: scorer.score(t.title, t.text) for t in corpus_texts()}
    relevant = sum(result.relevant for result in expected.values())
    assert counts == RescoreCounts(len(ids), relevant, len(ids) - relevant)
    assert str(counts) == f"{len(ids)} scored, {relevant} now relevant, {len(ids) - relevant} now off-topic"
    with database.session() as session:
        stored = {row.url: row for row in session.execute(select(Article)).scalars()}
        for url, result in expected.items():
            article = stored[url]
            assert (article.relevance, article.relevant) == (result.score, result.relevant), url
            assert json.loads(article.evidence) == json.loads(json.dumps(result.evidence(), ensure_ascii=False))
    assert rescore_articles(database, scorer, batch=3) == counts  # the same profile again: the same verdicts


def test_rescoring_an_empty_corpus_scores_nothing(database: Database, scorer: RelevanceScorer) -> None:
    assert rescore_articles(database, scorer) == RescoreCounts(0, 0, 0)
