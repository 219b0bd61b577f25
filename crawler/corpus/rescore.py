"""Scoring the stored articles again, after the topic profile changed."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.relevance.profile import RelevanceScorer
from storage import Database
from storage.repository import articles_after, update_relevance


@dataclass(frozen=True)
class RescoreCounts:
    """How many articles were scored, and how many of them are now relevant or off-topic."""

    scored: int = 0
    now_relevant: int = 0
    now_off_topic: int = 0

    def __str__(self) -> str:
        return f"{self.scored} scored, {self.now_relevant} now relevant, {self.now_off_topic} now off-topic"


def rescore_articles(database: Database, scorer: RelevanceScorer, batch: int = 500) -> RescoreCounts:
    """Score every stored article again with ``scorer`` and store the new score, verdict and evidence.

    Read and written in batches of ``batch`` articles, each batch one transaction: a crash keeps the
    batches already done, and a run over a large corpus never holds one long write transaction.
    """
    scored = relevant = 0
    last_id = 0
    while True:
        with database.session() as session:
            rows = articles_after(session, last_id, limit=batch)
        if not rows:
            break
        with database.session() as session, session.begin():
            for article_id, title, text in rows:
                result = scorer.score(title, text)
                evidence = result.evidence_json()
                update_relevance(session, article_id, result.score, result.relevant, evidence)
                scored += 1
                relevant += result.relevant
        last_id = rows[-1][0]
    return RescoreCounts(scored, relevant, scored - relevant)
