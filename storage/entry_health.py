"""The health of each entry point of a source, kept across crawls, and the sources that have gone silent.

An entry point is a configured feed, sitemap, robots.txt or listing page of a source, or a listing page
that its fallback chain found (its homepage). Every crawl hands in what it saw of each one it polled
(:class:`EntryCheck`); :func:`save_entry_checks` folds that into the stored row (:class:`EntryHealth`):
the last answer, failures in a row, polls in a row that named nothing new, new articles named all time and
in its last polls, and since when it has been unchanged. The verdicts (:attr:`EntryHealth.verdict`: dead,
failing, stale) are defined here once, for the crawl's fallback chain and for ``ai4s sources check``.

:func:`silent_sources` names the sources whose newest article is older than a few of their usual gaps
between articles although they were polled since.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.hashing import url_hash
from storage.models import Article, CrawlRun, CrawlRunSource, EntryPointHealth, FetchedUrl, Source, utcnow
from storage.repository import dialect_insert

#: Answered polls in a row that named no new article before an entry point is stale. The daemon slows a quiet
#: source after 3 empty polls (crawler/schedule/policy.py); twice that, with its interval grown by then, spans
#: about ten of the source's configured intervals (five hours at ``every = "30m"``, two and a half days at
#: ``"6h"``): longer than an outlet that publishes daily is quiet. A false alarm costs one poll of the
#: homepage per crawl (a conditional GET); a feed left stale would cost every article it no longer names.
STALE_AFTER_POLLS = 6
#: Failed polls in a row after which an entry point is dead (to be dropped or replaced), not just failing.
DEAD_AFTER_FAILURES = 3
#: How many of an entry point's last polls its "recent" article count covers.
RECENT_POLLS = 10

#: Outcomes of a poll the entry point answered (read, or unchanged since the last poll).
ANSWERED_OUTCOMES = frozenset({"read", "unchanged"})
#: Outcomes of a poll that failed: no answer or an error status, a body that is no feed/sitemap, robots.txt said no.
FAILED_OUTCOMES = frozenset({"failed", "unreadable", "refused"})
#: Every outcome of a poll (``deferred``: the host asked to wait, nothing was asked of the entry point).
OUTCOMES = ANSWERED_OUTCOMES | FAILED_OUTCOMES | {"deferred"}


@dataclass(frozen=True)
class EntryCheck:
    """What one crawl saw of one entry point: how its poll came out, and how many new articles it named."""

    url: str  # canonical
    kind: str  # feed, robots, sitemap or listing
    outcome: str  # one of OUTCOMES
    status: int | None = None  # HTTP status, if there was an answer
    error: str | None = None
    new_articles: int = 0
    fallback: bool = False  # found by the fallback chain, not configured


@dataclass(frozen=True)
class EntryHealth:
    """One entry point of a source as it has fared across crawls."""

    source: str
    url: str
    kind: str
    fallback: bool
    last_outcome: str
    last_status: int | None
    last_error: str | None
    last_checked: datetime
    last_ok: datetime | None
    consecutive_failures: int
    polls_without_new: int
    articles_found: int
    recent_found: tuple[int, ...]
    last_new_article_at: datetime | None
    unchanged_since: datetime | None

    @property
    def articles_recent(self) -> int:
        """New articles it named in its last :data:`RECENT_POLLS` polls."""
        return sum(self.recent_found)

    @property
    def failing(self) -> bool:
        """Whether its last poll failed."""
        return self.consecutive_failures > 0

    @property
    def dead(self) -> bool:
        """Whether it failed :data:`DEAD_AFTER_FAILURES` polls in a row."""
        return self.consecutive_failures >= DEAD_AFTER_FAILURES

    @property
    def stale(self) -> bool:
        """Whether it answers but named nothing new for :data:`STALE_AFTER_POLLS` polls in a row."""
        return not self.failing and self.polls_without_new >= STALE_AFTER_POLLS

    @property
    def verdict(self) -> str:
        """``dead``, ``failing``, ``stale`` or ``ok``."""
        if self.dead:
            return "dead"
        if self.failing:
            return "failing"
        return "stale" if self.stale else "ok"

    @property
    def advice(self) -> str:
        """What to do about it, in a few words ("" when nothing)."""
        if self.fallback:
            return "" if self.verdict == "ok" else "the homepage's listings fail too: check the site"
        discover = f"`ai4s sources discover {self.site}`"
        if self.dead:
            return f"drop this {self.kind}, or run {discover} again"
        if self.failing:
            return "the fallback chain stands in; drop it if it keeps failing"
        if self.stale:
            return f"names nothing new: run {discover} again"
        return ""

    @property
    def site(self) -> str:
        """The homepage of its site (what ``ai4s sources discover`` starts from)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/"


def _health(source: str, row: EntryPointHealth) -> EntryHealth:
    return EntryHealth(
        source=source,
        url=row.url,
        kind=row.kind,
        fallback=row.fallback,
        last_outcome=row.last_outcome,
        last_status=row.last_status,
        last_error=row.last_error,
        last_checked=row.last_checked,
        last_ok=row.last_ok,
        consecutive_failures=row.consecutive_failures,
        polls_without_new=row.polls_without_new,
        articles_found=row.articles_found,
        recent_found=tuple(json.loads(row.recent_found or "[]")),
        last_new_article_at=row.last_new_article_at,
        unchanged_since=row.unchanged_since,
    )


def entry_health(session: Session, sources: Collection[str] | None = None) -> list[EntryHealth]:
    """The entry points of ``sources`` (or of every source) as they have fared, by source, configured ones first."""
    query = select(Source.name, EntryPointHealth).join(Source, Source.id == EntryPointHealth.source_id)
    if sources is not None:
        query = query.where(Source.name.in_(list(sources)))
    query = query.order_by(Source.name, EntryPointHealth.fallback, EntryPointHealth.id)
    return [_health(name, row) for name, row in session.execute(query)]


def save_entry_checks(session: Session, source_id: int, checks: Iterable[EntryCheck]) -> None:
    """Fold one crawl's checks of a source's entry points into their stored health."""
    now = utcnow()
    for check in checks:
        key = url_hash(check.url)
        session.execute(
            dialect_insert(session, EntryPointHealth)
            .values(
                source_id=source_id,
                url_hash=key,
                url=check.url,
                kind=check.kind,
                fallback=check.fallback,
                last_outcome=check.outcome,
                last_checked=now,
                consecutive_failures=0,
                polls_without_new=0,
                articles_found=0,
                recent_found="[]",
                first_checked=now,
            )
            .on_conflict_do_nothing(index_elements=[EntryPointHealth.source_id, EntryPointHealth.url_hash])
        )
        row = session.execute(
            select(EntryPointHealth).where(EntryPointHealth.source_id == source_id, EntryPointHealth.url_hash == key)
        ).scalar_one()
        _fold(row, check, now)
    session.flush()


def _fold(row: EntryPointHealth, check: EntryCheck, now: datetime) -> None:
    """One poll's check folded into an entry point's row."""
    row.kind, row.last_outcome, row.last_checked = check.kind, check.outcome, now
    row.fallback = row.fallback and check.fallback  # once configured, it is no fallback any more
    if check.outcome == "deferred":  # nothing was asked of it: only that it was due
        return
    row.last_status, row.last_error = check.status, check.error
    if check.outcome in ANSWERED_OUTCOMES:
        row.consecutive_failures = 0
        row.last_ok = now
        row.polls_without_new = 0 if check.new_articles else row.polls_without_new + 1
        row.unchanged_since = (row.unchanged_since or now) if check.outcome == "unchanged" else None
    else:
        row.consecutive_failures += 1
    row.articles_found += check.new_articles
    if check.new_articles:
        row.last_new_article_at = now
    recent = [*json.loads(row.recent_found or "[]"), check.new_articles][-RECENT_POLLS:]
    row.recent_found = json.dumps(recent)


def new_article_urls(session: Session, run_id: int) -> set[str]:
    """The canonical URLs (as requested and as served) of the articles crawl run ``run_id`` stored."""
    stored = select(Article.id).where(Article.run_id == run_id)
    urls = set(session.execute(select(Article.canonical_url).where(Article.run_id == run_id)).scalars())
    urls.update(
        session.execute(
            select(FetchedUrl.canonical_url).where(FetchedUrl.article_id.in_(stored), FetchedUrl.outcome == "article")
        ).scalars()
    )
    return urls


# -- silent sources ---------------------------------------------------------------------------
#: Articles a source needs before its usual gap means anything.
MIN_ARTICLES_FOR_GAP = 5
#: Silent: no new article for this many of the source's usual gaps.
SILENT_AFTER_GAPS = 3.0
#: The least usual gap (a source whose articles come in bursts is not silent after minutes).
MIN_USUAL_GAP = timedelta(hours=1)
#: How many of a source's newest articles its usual gap is read from.
GAP_SAMPLE = 21


@dataclass(frozen=True)
class SilentSource:
    """A source with no new article for longer than its usual gap between articles allows, though polled since."""

    source: str
    last_article_at: datetime
    usual_gap: timedelta
    last_polled: datetime

    def silent_for(self, now: datetime) -> timedelta:
        """How long it has been silent at ``now``."""
        return now - self.last_article_at


def usual_gap(moments: Iterable[datetime]) -> timedelta | None:
    """The median time between consecutive ``moments`` (at least :data:`MIN_USUAL_GAP`); ``None`` for too few."""
    ordered = sorted(moments)
    if len(ordered) < MIN_ARTICLES_FOR_GAP:
        return None
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(ordered, ordered[1:], strict=False)]
    return max(timedelta(seconds=statistics.median(gaps)), MIN_USUAL_GAP)


def silent_sources(session: Session, now: datetime | None = None) -> list[SilentSource]:
    """The sources whose newest article is older than :data:`SILENT_AFTER_GAPS` of their usual gaps although a
    crawl polled them after that: a dead feed or a moved site, not a pause of the crawler.

    An article's moment is its publication date, or when it was first seen where it has none (dates in the
    future are left out)."""
    now = now or utcnow()
    last_polled: Mapping[int, datetime] = dict(
        session.execute(
            select(CrawlRunSource.source_id, func.max(CrawlRun.started_at))
            .join(CrawlRun, CrawlRun.id == CrawlRunSource.run_id)
            .group_by(CrawlRunSource.source_id)
        ).all()
    )
    moment = func.coalesce(Article.published, Article.first_seen)
    silent = []
    for source_id, name in session.execute(select(Source.id, Source.name).order_by(Source.name)).all():
        polled = last_polled.get(source_id)
        if polled is None:
            continue
        moments = list(
            session.execute(
                select(Article.published, Article.first_seen)
                .where(Article.source_id == source_id, moment <= now)
                .order_by(moment.desc())
                .limit(GAP_SAMPLE)
            ).all()
        )
        dates = [published or first_seen for published, first_seen in moments]
        gap = usual_gap(dates)
        if gap is None:
            continue
        newest = max(dates)
        overdue = newest + gap * SILENT_AFTER_GAPS
        if now > overdue and polled > overdue:
            silent.append(SilentSource(name, newest, gap, polled))
    return silent
