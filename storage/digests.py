"""What a digest reads and remembers: the on-topic stories that have articles first seen in a
period (with all their copies), the crawl health of the period, and the digests delivered.

Built for a corpus of any size: the period's articles are found through the index on
``(relevant, first_seen)``, their stories' copies through ``articles.story_id``; a digest of
a thousand stories runs a handful of queries, not one per story.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, null, select
from sqlalchemy.orm import Session

from storage.models import (
    FAILED_RUN_STATUSES,
    Article,
    CrawlRun,
    DigestRun,
    FetchedUrl,
    Source,
    SourceSchedule,
    Story,
    utcnow,
)
from storage.repository import batches
from storage.stories import exact_reposts

#: A SELECT, whatever its columns.
SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class DigestCopy:
    """One on-topic copy of a story, as a digest shows it."""

    article_id: int
    story_id: int
    source: str
    url: str
    title: str | None
    site_name: str | None
    credited_source: str | None
    published: datetime | None
    first_seen: datetime
    language: str | None
    relevance: float | None
    evidence: str | None


@dataclass(frozen=True)
class PeriodStory:
    """A story with on-topic articles first seen in the period: when the story began, and its
    on-topic copies seen up to the period's end (oldest first)."""

    story_id: int
    first_seen: datetime
    copies: list[DigestCopy]


def period_stories(
    session: Session,
    since: datetime,
    until: datetime,
    languages: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> list[PeriodStory]:
    """The stories with at least one on-topic copy first seen in ``[since, until)`` (of the given
    languages and sources, if any), each with all its on-topic copies (of those languages and
    sources) first seen before ``until``. A copy is an article of the story, or an outlet's page that
    held the very text of one (:func:`storage.stories.exact_reposts`)."""
    new_articles = select(Article.story_id).where(
        Article.relevant.is_(True),
        Article.first_seen >= since,
        Article.first_seen < until,
        Article.story_id.is_not(None),
    )
    if sources:
        new_articles = new_articles.join(Source, Source.id == Article.source_id)
    new_articles = _narrowed(new_articles, languages, sources)
    # an outlet's exact copy of an on-topic article, first fetched in the period, is news of its story too
    new_reposts = exact_reposts(Article.story_id).where(
        Article.relevant.is_(True),
        FetchedUrl.first_fetched >= since,
        FetchedUrl.first_fetched < until,
        Article.story_id.is_not(None),
    )
    new_reposts = _narrowed(new_reposts, languages, sources)
    story_ids = sorted(
        {story_id for found in (new_articles, new_reposts) for story_id in session.execute(found.distinct()).scalars()}
        - {None}
    )
    if not story_ids:
        return []
    began: dict[int, datetime] = {}
    copies: dict[int, list[DigestCopy]] = {}
    for chunk in batches(story_ids):
        began.update(
            (story_id, seen)
            for story_id, seen in session.execute(select(Story.id, Story.first_seen).where(Story.id.in_(chunk)))
        )
        statement = (
            select(
                Article.id,
                Article.story_id,
                Source.name,
                Article.url,
                Article.title,
                Article.site_name,
                Article.credited_source,
                Article.published,
                Article.first_seen,
                Article.language,
                Article.relevance,
                Article.evidence,
            )
            .join(Source, Source.id == Article.source_id)
            .where(Article.story_id.in_(chunk), Article.relevant.is_(True), Article.first_seen < until)
        )
        reposts = exact_reposts(
            Article.id,
            Article.story_id,
            Source.name,
            FetchedUrl.url,
            Article.title,
            null(),  # the reposting page's own site name was not kept
            Article.credited_source,
            Article.published,
            FetchedUrl.first_fetched,
            Article.language,
            Article.relevance,
            Article.evidence,
        ).where(Article.story_id.in_(chunk), Article.relevant.is_(True), FetchedUrl.first_fetched < until)
        statement, reposts = _narrowed(statement, languages, sources), _narrowed(reposts, languages, sources)
        found = [DigestCopy(*row) for query in (statement, reposts) for row in session.execute(query)]  # type: ignore[arg-type, call-arg]
        for copy in sorted(found, key=lambda copy: (copy.first_seen, copy.article_id)):
            copies.setdefault(copy.story_id, []).append(copy)
    return [PeriodStory(story_id, began[story_id], copies[story_id]) for story_id in story_ids if story_id in copies]


def _narrowed(statement: SelectT, languages: Sequence[str], sources: Sequence[str]) -> SelectT:
    """``statement``, which reads articles and their sources, narrowed to the copies of ``languages`` and of
    ``sources`` where either is given: the filters apply to every copy shown, not only to the choice of stories."""
    if languages:
        statement = statement.where(Article.language.in_(list(languages)))
    if sources:
        statement = statement.where(Source.name.in_(list(sources)))
    return statement


def daily_new_stories(
    session: Session, since: datetime, until: datetime, languages: Sequence[str] = (), sources: Sequence[str] = ()
) -> dict[tuple[str, str], int]:
    """How many stories began each day (UTC, ISO date) of ``[since, until)``, by language (the primary
    language tag of their on-topic copies; a story in two languages counts in both)."""
    statement = (
        select(Story.id, Story.first_seen, Article.language)
        .join(Article, Article.story_id == Story.id)
        .where(Story.first_seen >= since, Story.first_seen < until, Article.relevant.is_(True))
    )
    if languages:
        statement = statement.where(Article.language.in_(list(languages)))
    if sources:
        statement = statement.join(Source, Source.id == Article.source_id).where(Source.name.in_(list(sources)))
    seen: set[tuple[int, str]] = set()
    counts: dict[tuple[str, str], int] = {}
    for story_id, began, language in session.execute(statement.distinct()):
        primary = (language or "unknown").split("-")[0].lower()
        if (story_id, primary) in seen:
            continue
        seen.add((story_id, primary))
        key = (began.astimezone(UTC).date().isoformat(), primary)
        counts[key] = counts.get(key, 0) + 1
    return counts


def article_texts(session: Session, article_ids: Iterable[int]) -> dict[int, str]:
    """The texts of the given articles, by id."""
    ids = sorted(set(article_ids))
    texts: dict[int, str] = {}
    for chunk in batches(ids):
        texts.update(
            (article_id, text)
            for article_id, text in session.execute(select(Article.id, Article.text).where(Article.id.in_(chunk)))
        )
    return texts


@dataclass(frozen=True)
class FailedRun:
    """A crawl run of the period that did not end well."""

    sources: str
    status: str
    started_at: datetime
    message: str | None


@dataclass(frozen=True)
class UnhealthySource:
    """A source the daemon marked unhealthy."""

    source: str
    failures: int
    last_error: str | None


@dataclass(frozen=True)
class PeriodHealth:
    """How crawling went in a period."""

    runs_by_status: dict[str, int]
    failed: list[FailedRun]
    unhealthy: list[UnhealthySource]


def period_health(session: Session, since: datetime, until: datetime) -> PeriodHealth:
    """Crawl runs started in ``[since, until)`` by status, those that failed or were aborted, and the
    sources marked unhealthy now."""
    in_period = (CrawlRun.started_at >= since, CrawlRun.started_at < until)
    counted = session.execute(select(CrawlRun.status, func.count()).where(*in_period).group_by(CrawlRun.status))
    by_status = {status: count for status, count in counted}
    failed = [
        FailedRun(run.sources, run.status, run.started_at, run.message)
        for run in session.execute(
            select(CrawlRun)
            .where(*in_period, CrawlRun.status.in_(FAILED_RUN_STATUSES))
            .order_by(CrawlRun.started_at)
            .limit(50)
        ).scalars()
    ]
    unhealthy = [
        UnhealthySource(name, failures, error)
        for name, failures, error in session.execute(
            select(Source.name, SourceSchedule.failures, SourceSchedule.last_error)
            .join(SourceSchedule, SourceSchedule.source_id == Source.id)
            .where(SourceSchedule.healthy.is_(False))
            .order_by(Source.name)
        )
    ]
    return PeriodHealth(by_status, failed, unhealthy)


# -- delivered digests ----------------------------------------------------------------------
def last_digest_until(session: Session, name: str) -> datetime | None:
    """Where the last ``--since-last`` digest called ``name`` ended, if there was one."""
    return session.execute(
        select(func.max(DigestRun.until)).where(DigestRun.name == name, DigestRun.continues.is_(True))
    ).scalar_one_or_none()


def save_digest_run(
    session: Session, name: str, since: datetime, until: datetime, continues: bool, stories: int, payload: str
) -> int:
    """Remember a delivered digest; returns its id."""
    run = DigestRun(
        name=name,
        since=since,
        until=until,
        continues=continues,
        created_at=utcnow(),
        stories=stories,
        payload=payload,
    )
    session.add(run)
    session.flush()
    return run.id


def get_digest_run(session: Session, run_id: int) -> DigestRun | None:
    """The delivered digest ``run_id``."""
    return session.get(DigestRun, run_id)


def recent_digest_payloads(session: Session, name: str, limit: int) -> list[str]:
    """The data of the last ``limit`` delivered ``--since-last`` digests called ``name``, newest first."""
    return list(
        session.execute(
            select(DigestRun.payload)
            .where(DigestRun.name == name, DigestRun.continues.is_(True))
            .order_by(DigestRun.until.desc(), DigestRun.id.desc())
            .limit(limit)
        ).scalars()
    )
