"""Stories: groups of articles that are copies of one another, and the LSH band index that finds
candidate copies, kept in the database (so a restart forgets nothing and the index never has to
fit in memory). The caller decides what is a copy; these functions store and answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from storage.models import Article, FetchedUrl, Source, Story, StoryBand, utcnow
from storage.repository import dialect_of, insert_in, table_of

#: The tables written for every new article, in Core statements: an ORM-enabled UPDATE on the class first looks
#: for the rows among the session's objects, for nothing here (0.31 against 0.19 ms a new story).
_ARTICLES = table_of(Article)
_STORIES = table_of(Story)

#: The PostgreSQL advisory-lock keys that serialise story assignment between processes ("AI4S", 2).
STORY_LOCK_KEYS = (0x41493453, 2)


def serialize_story_assignment(session: Session) -> None:
    """Make this transaction the only one assigning stories until it ends, so that two crawls
    storing copies of one story at the same moment cannot both miss the other and start two stories.

    PostgreSQL: a transaction-level advisory lock (released at commit or rollback; the candidate
    query that follows, in READ COMMITTED, sees every story committed before). SQLite needs
    nothing: the article just stored holds the database's single write lock until commit.
    """
    if dialect_of(session) == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": STORY_LOCK_KEYS[0], "b": STORY_LOCK_KEYS[1]}
        )


@dataclass(frozen=True)
class Candidate:
    """A stored article that shares at least one band key with a new one."""

    article_id: int
    story_id: int | None
    minhash: bytes
    shingles: int


def candidates(session: Session, band_keys: Iterable[int], exclude: int | None = None) -> list[Candidate]:
    """The stored articles sharing a band key with ``band_keys`` (``exclude``: an article id to skip)."""
    keys = list(band_keys)
    if not keys:
        return []
    statement = select(Article.id, Article.story_id, Article.minhash, Article.shingles).where(
        Article.id.in_(_sharing_a_band(keys)), Article.minhash.is_not(None)
    )
    if exclude is not None:
        statement = statement.where(Article.id != exclude)
    return [Candidate(r.id, r.story_id, r.minhash, r.shingles or 0) for r in session.execute(statement)]


def _sharing_a_band(keys: list[int]) -> Select[int]:
    """The ids of the articles indexed under any of the band ``keys``."""
    return select(StoryBand.article_id).where(StoryBand.band_key.in_(keys)).distinct()


@dataclass(frozen=True)
class TitledCandidate:
    """A stored article of a source with a given title that shares a band key with a new one of the source."""

    article_id: int
    minhash: bytes
    url: str
    published: datetime | None


def titled_candidates(session: Session, band_keys: Iterable[int], source_id: int, title: str) -> list[TitledCandidate]:
    """The stored articles of source ``source_id`` titled ``title`` that share a band key with ``band_keys``."""
    keys = list(band_keys)
    if not keys:
        return []
    statement = select(Article.id, Article.minhash, Article.url, Article.published).where(
        Article.id.in_(_sharing_a_band(keys)),
        Article.source_id == source_id,
        Article.title == title,
        Article.minhash.is_not(None),
    )
    return [TitledCandidate(r.id, r.minhash, r.url, r.published) for r in session.execute(statement)]


def story_signatures(session: Session, story_id: int, limit: int = 50) -> list[tuple[bytes, int]]:
    """The signatures and shingle counts of the copies of story ``story_id`` (the ``limit`` last stored)."""
    statement = (
        select(Article.minhash, Article.shingles)
        .where(Article.story_id == story_id, Article.minhash.is_not(None))
        .order_by(Article.id.desc())
        .limit(limit)
    )
    return [(row.minhash, row.shingles or 0) for row in session.execute(statement)]


def save_fingerprint(
    session: Session, article_id: int, minhash: bytes, shingles: int, band_keys: Iterable[int]
) -> None:
    """Store an article's signature and its band keys in the index."""
    session.execute(update(_ARTICLES).where(_ARTICLES.c.id == article_id).values(minhash=minhash, shingles=shingles))
    rows = [{"band_key": key, "article_id": article_id} for key in dict.fromkeys(band_keys)]
    if rows:  # executemany with one statement: compiled once and cached, not once per article
        session.execute(_band_insert(dialect_of(session)), rows)


@cache
def _band_insert(dialect: str) -> Any:
    """Insert a band key of an article unless it is there."""
    return insert_in(dialect, StoryBand).on_conflict_do_nothing()


def start_story(session: Session, article_id: int, seen: datetime | None = None) -> int:
    """A new story with ``article_id`` as its only copy; returns the story id."""
    seen = seen or utcnow()
    story_id = session.execute(
        insert(_STORIES).values(first_seen=seen, last_seen=seen, copies=1).returning(_STORIES.c.id)
    ).scalar_one()
    session.execute(update(_ARTICLES).where(_ARTICLES.c.id == article_id).values(story_id=story_id))
    return story_id


def join_story(session: Session, article_id: int, story_id: int, seen: datetime | None = None) -> None:
    """Make ``article_id`` (first seen at ``seen``, by default now) a copy of story ``story_id``."""
    seen = seen or utcnow()
    session.execute(update(_ARTICLES).where(_ARTICLES.c.id == article_id).values(story_id=story_id))
    stories = _STORIES.c
    session.execute(
        update(_STORIES)
        .where(stories.id == story_id)
        .values(
            copies=stories.copies + 1,
            first_seen=case((stories.first_seen > seen, seen), else_=stories.first_seen),
            last_seen=case((stories.last_seen < seen, seen), else_=stories.last_seen),
        )
    )


def leave_story(session: Session, article_id: int) -> None:
    """Take an article out of its story and out of the band index (to be grouped again); a story left
    with no copy is deleted."""
    story_id = session.execute(select(Article.story_id).where(Article.id == article_id)).scalar()
    session.execute(delete(StoryBand).where(StoryBand.article_id == article_id))
    session.execute(update(Article).where(Article.id == article_id).values(story_id=None, minhash=None, shingles=None))
    if story_id is None:
        return
    remaining = session.execute(select(func.count(Article.id)).where(Article.story_id == story_id)).scalar_one()
    if remaining:
        session.execute(update(Story).where(Story.id == story_id).values(copies=remaining))
    else:
        session.execute(delete(Story).where(Story.id == story_id))


@dataclass(frozen=True)
class Copy:
    """One copy of a story: the article, its outlet and when it was first seen."""

    article_id: int
    source: str
    url: str
    title: str | None
    site_name: str | None
    credited_source: str | None
    first_seen: datetime


@dataclass(frozen=True)
class StorySummary:
    """A story with its representative copy first, then the other copies by first sight."""

    id: int
    first_seen: datetime
    last_seen: datetime
    copies: list[Copy]

    @property
    def representative(self) -> Copy:
        """The copy that stands for the story (the credited original, else the earliest)."""
        return self.copies[0]

    @property
    def outlets(self) -> list[str]:
        """The sources of the copies, each once, representative's first."""
        return list(dict.fromkeys(c.source for c in self.copies))


def representative_first(copies: list[Copy]) -> list[Copy]:
    """The copies ordered with the representative first: the original where a copy credits an
    outlet that another copy is from (by its site name or source name), else the earliest."""
    ordered = sorted(copies, key=lambda c: (c.first_seen, c.article_id))
    credited = {c.credited_source for c in ordered if c.credited_source}
    for copy in ordered:
        names = {n for n in (copy.site_name, copy.source) if n}
        if any(cred in name or name in cred for cred in credited for name in names):
            return [copy, *[c for c in ordered if c is not copy]]
    return ordered


def recent_stories(session: Session, limit: int = 20, include_off_topic: bool = False) -> list[StorySummary]:
    """The ``limit`` stories seen most recently, with all their copies."""
    statement = select(Story).order_by(Story.last_seen.desc(), Story.id.desc()).limit(limit)
    if not include_off_topic:
        on_topic = select(Article.story_id).where(Article.relevant.is_(True))
        statement = statement.where(Story.id.in_(on_topic))
    stories = list(session.execute(statement).scalars())
    if not stories:
        return []
    copies = story_copies(session, [s.id for s in stories])
    return [StorySummary(s.id, s.first_seen, s.last_seen, copies.get(s.id, [])) for s in stories]


def story_copies(session: Session, story_ids: Iterable[int]) -> dict[int, list[Copy]]:
    """All copies of each of ``story_ids``, the representative first."""
    wanted = list(story_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(
            Article.id,
            Article.story_id,
            Source.name,
            Article.url,
            Article.title,
            Article.site_name,
            Article.credited_source,
            Article.first_seen,
        )
        .join(Source, Source.id == Article.source_id)
        .where(Article.story_id.in_(wanted))
    )
    copies: dict[int, list[Copy]] = {}
    for row in rows:
        copies.setdefault(row.story_id, []).append(
            Copy(row.id, row.name, row.url, row.title, row.site_name, row.credited_source, row.first_seen)
        )
    reposts = exact_reposts(
        Article.id, Article.story_id, Source.name, FetchedUrl.url, Article.title, Article.credited_source
    ).add_columns(FetchedUrl.first_fetched)
    for row in session.execute(reposts.where(Article.story_id.in_(wanted))):
        copies.setdefault(row.story_id, []).append(
            Copy(row.id, row.name, row.url, row.title, None, row.credited_source, row.first_fetched)
        )
    return {story_id: representative_first(found) for story_id, found in copies.items()}


def exact_reposts(*columns: Any) -> Select[Any]:
    """``columns`` of the fetches that found the very text of a stored article under another URL (outcome
    ``duplicate``, not stored again), joined to that article and to the fetch's own source: each is an outlet's
    copy of the article's story, with the article's title and text but its own URL and source (and no site name
    of its own: the page's was not kept). The article's own source's other URLs of it are that one copy."""
    return (
        select(*columns)
        .select_from(FetchedUrl)
        .join(Article, Article.id == FetchedUrl.article_id)
        .join(Source, Source.id == FetchedUrl.source_id)
        .where(
            FetchedUrl.outcome == "duplicate",
            FetchedUrl.url_hash != Article.url_hash,
            FetchedUrl.source_id != Article.source_id,
        )
    )


# -- rebuilding ------------------------------------------------------------------------------
def articles_without_signature(session: Session, after_id: int, limit: int) -> list[tuple[int, str]]:
    """``(id, text)`` of up to ``limit`` articles with no stored signature, by id, after ``after_id``."""
    rows = session.execute(
        select(Article.id, Article.text)
        .where(Article.minhash.is_(None), Article.shingles.is_(None), Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
    )
    return [(row.id, row.text) for row in rows]


def mark_signature(session: Session, article_id: int, minhash: bytes | None, shingles: int) -> None:
    """Store an article's signature (``None`` and its shingle count when the text is too short to have one)."""
    session.execute(update(Article).where(Article.id == article_id).values(minhash=minhash, shingles=shingles))


def clear_stories(session: Session) -> None:
    """Forget every story and the band index (the articles keep their signatures)."""
    session.execute(delete(StoryBand))
    session.execute(update(Article).values(story_id=None))
    session.execute(delete(Story))


def signatures_in_order(session: Session) -> list[tuple[int, bytes | None, int]]:
    """``(id, signature, shingles)`` of every article, in the order they were first seen."""
    rows = session.execute(
        select(Article.id, Article.minhash, Article.shingles).order_by(Article.first_seen, Article.id)
    )
    return [(row.id, row.minhash, row.shingles or 0) for row in rows]


def refresh_story_times(session: Session) -> None:
    """Set every story's first and last sight and number of copies from its articles."""
    of_story = Article.story_id == Story.id
    session.execute(
        update(Story).values(
            first_seen=select(func.min(Article.first_seen)).where(of_story).scalar_subquery(),
            last_seen=select(func.max(Article.first_seen)).where(of_story).scalar_subquery(),
            copies=select(func.count(Article.id)).where(of_story).scalar_subquery(),
        )
    )
