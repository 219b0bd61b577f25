"""Stories from near-duplicates: put a newly stored article into the story of the copy it matches
best, or start a new story with it (within the caller's session), and group the whole corpus again
(``ai4s stories rebuild``). Uses the database's band index (:mod:`storage.stories`) for candidates and
:func:`crawler.stories.fingerprint.is_copy` to decide."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from crawler.stories.fingerprint import (
    SAME_TEXT_JACCARD,
    Fingerprint,
    is_copy,
    is_edition,
    is_unrelated,
    jaccard,
    shingle_set,
    shingles_fingerprint,
    stored_fingerprint,
)
from storage import Database
from storage.digests import article_texts
from storage.repository import NamedArticle
from storage.stories import (
    articles_without_signature,
    candidates,
    clear_stories,
    join_story,
    leave_story,
    mark_signature,
    refresh_story_times,
    save_fingerprint,
    serialize_story_assignment,
    signatures_in_order,
    source_signatures_in_story,
    start_story,
    story_signatures,
    titled_candidates,
)


@dataclass(frozen=True)
class StoryAssignment:
    """Which story an article went to, and whether it joined an existing one (with what similarity)."""

    story_id: int
    joined: bool
    similarity: float = 0.0


def assign_story(
    session: Session, article_id: int, fingerprint: Fingerprint | None, seen: datetime | None = None
) -> StoryAssignment:
    """Give a just-stored article its story (a new one first seen at ``seen``, by default now), and index its
    fingerprint for the articles to come. It joins the story of the copy it matches best, unless that story
    holds a text it shares nothing with: a roundup that reprints two pieces in full contains each of them, and
    each piece would otherwise pull the other into the roundup's story; then the next best story, or its own.

    Concurrent crawls assign stories one at a time (until the caller's transaction ends).
    """
    serialize_story_assignment(session)
    similarities: dict[int, float] = {}
    if fingerprint is not None:
        for candidate in candidates(session, fingerprint.keys, exclude=article_id):
            copy, similarity = is_copy(fingerprint, candidate.minhash, candidate.shingles)
            if copy and candidate.story_id is not None:
                similarities[candidate.story_id] = max(similarity, similarities.get(candidate.story_id, 0.0))
        save_fingerprint(session, article_id, fingerprint.signature, fingerprint.shingles, fingerprint.keys)
    for story_id, similarity in sorted(similarities.items(), key=lambda pair: pair[1], reverse=True):
        assert fingerprint is not None  # a story is found only by a fingerprint
        if not any(is_unrelated(fingerprint, *copy) for copy in story_signatures(session, story_id)):
            join_story(session, article_id, story_id, seen)
            return StoryAssignment(story_id, joined=True, similarity=similarity)
    return StoryAssignment(start_story(session, article_id, seen), joined=False)


def same_text_among(fingerprint: Fingerprint | None, named: Iterable[NamedArticle]) -> int | None:
    """The id of the first of ``named`` whose text is all but the fingerprinted one (estimated Jaccard similarity
    :data:`SAME_TEXT_JACCARD` or more; none for a text too short to have a fingerprint)."""
    if fingerprint is None:
        return None
    for article in named:
        if article.minhash is not None and jaccard(fingerprint.signature, article.minhash) >= SAME_TEXT_JACCARD:
            return article.id
    return None


def same_text_in_source(
    session: Session, fingerprint: Fingerprint | None, page: PageIdentity, source_id: int
) -> int | None:
    """The id of the stored article of source ``source_id`` that a new page is: the same title and all but the same
    text (estimated Jaccard similarity :data:`SAME_TEXT_JACCARD` or more), and the same day of publication or, where
    a day is unknown, the same last segment of the URL's path (one article in two sections, a link whose parameters
    change at every poll). A page without title is never one, nor a notice of the same title and form published on
    another day or under another name (a seminar's announcement, a daily report)."""
    if fingerprint is None or not page.title:
        return None
    for candidate in titled_candidates(session, fingerprint.keys, source_id, page.title):
        if jaccard(fingerprint.signature, candidate.minhash) < SAME_TEXT_JACCARD:
            continue
        days = _day(page.published), _day(candidate.published)
        if None not in days:
            if days[0] == days[1]:
                return candidate.article_id
        elif _last_segment(page.url) == _last_segment(candidate.url):
            return candidate.article_id
    return None


@dataclass(frozen=True)
class PageIdentity:
    """What tells one page of a source from another beyond its text: its URL, title and day of publication."""

    url: str
    title: str | None
    published: datetime | None


def _day(moment: datetime | None) -> date | None:
    """The UTC day of ``moment`` (a moment without zone taken as UTC)."""
    if moment is None:
        return None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _last_segment(url: str) -> str:
    """The last segment of ``url``'s path (``story.html`` of ``/science/2026/story.html?t=1``)."""
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def holds_edition(
    session: Session, fingerprint: Fingerprint | None, story_id: int, source_id: int, title: str | None, article_id: int
) -> bool:
    """Whether story ``story_id`` holds, from source ``source_id`` and under the same title, an edition of the text
    of article ``article_id`` (:func:`crawler.stories.fingerprint.is_edition`: the same article in another section,
    a part of it): then its lines are that article's again, and count for no template. Briefs of one site that
    share a long footer are copies of one story until the footer is learned, and have titles of their own."""
    if fingerprint is None or not title:
        return False
    signatures = source_signatures_in_story(session, story_id, source_id, title, article_id)
    return any(is_edition(fingerprint, signature, shingles) for signature, shingles in signatures)


def regroup_article(
    session: Session, article_id: int, fingerprint: Fingerprint | None, seen: datetime | None = None
) -> StoryAssignment:
    """Group a stored article again after its text changed: out of its story, then into the story of the copy
    it now matches best, or a story of its own."""
    leave_story(session, article_id)
    return assign_story(session, article_id, fingerprint, seen)


@dataclass(frozen=True)
class RebuildReport:
    """What ``ai4s stories rebuild`` did."""

    articles: int
    fingerprinted: int  # signatures computed now (articles stored before near-duplicate detection)
    stories: int
    copies: int  # articles that joined an earlier story


def rebuild_stories(
    database: Database, batch: int = 500, on_progress: Callable[[str, int], None] | None = None
) -> RebuildReport:
    """Group every stored article into stories again, from scratch, in the order they were first seen.

    First the articles without a signature (stored before near-duplicate detection existed) get
    one, in batches that each commit; then the stories and the band index are rebuilt in one
    transaction, so a crash leaves the old stories in place, never half of the new ones.
    """
    fingerprinted, last_id = 0, 0
    while True:
        with database.session() as session, session.begin():
            pending = articles_without_signature(session, last_id, batch)
            for article_id, text in pending:
                shingles = shingle_set(text)
                computed = shingles_fingerprint(shingles, text)
                mark_signature(session, article_id, computed.signature if computed else None, len(shingles))
        if not pending:
            break
        fingerprinted += len(pending)
        last_id = pending[-1][0]
        if on_progress:
            on_progress("fingerprinted", fingerprinted)
    stories = copies = 0
    with database.session() as session, session.begin():
        clear_stories(session)
        rows = signatures_in_order(session)
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            texts = article_texts(session, (article_id for article_id, signature, _ in chunk if signature))
            for article_id, signature, count in chunk:
                found = stored_fingerprint(signature, count, texts[article_id]) if signature else None
                assignment = assign_story(session, article_id, found)
                copies += assignment.joined
                stories += not assignment.joined
            if on_progress and len(chunk) == batch:
                on_progress("grouped", start + batch)
        refresh_story_times(session)
    return RebuildReport(len(rows), fingerprinted, stories, copies)
