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
    SURE_COPY_JACCARD,
    Fingerprint,
    is_copy,
    is_unrelated,
    jaccard,
    keeps_a_lead,
    ordered_shingles,
    shingle_set,
    shingles_fingerprint,
    stored_fingerprint,
)
from crawler.text.template_blocks import TEMPLATE_SENTENCE_CHARS, KeyedBlocks, page_block_keys
from crawler.text.urls import canonical_url
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
        for story_id, similarity in _copies_of(session, article_id, fingerprint):
            similarities[story_id] = max(similarity, similarities.get(story_id, 0.0))
        save_fingerprint(session, article_id, fingerprint.signature, fingerprint.shingles, fingerprint.keys)
    for story_id, similarity in sorted(similarities.items(), key=lambda pair: pair[1], reverse=True):
        assert fingerprint is not None  # a story is found only by a fingerprint
        if not any(is_unrelated(fingerprint, *copy) for copy in story_signatures(session, story_id)):
            join_story(session, article_id, story_id, seen)
            return StoryAssignment(story_id, joined=True, similarity=similarity)
    return StoryAssignment(start_story(session, article_id, seen), joined=False)


def _copies_of(session: Session, article_id: int, fingerprint: Fingerprint) -> list[tuple[int, float]]:
    """The stories of the stored articles a new one is a copy of, each with their similarity: all but the same text
    (:data:`SURE_COPY_JACCARD`), or a copy by :func:`is_copy` that keeps the lead of one of the two texts (read from
    the database only for those)."""
    found: list[tuple[int, float]] = []
    unsure: list[tuple[int, int, float]] = []
    for candidate in candidates(session, fingerprint.keys, exclude=article_id):
        copy, similarity = is_copy(fingerprint, candidate.minhash, candidate.shingles)
        if not copy or candidate.story_id is None:
            continue
        if similarity >= SURE_COPY_JACCARD:
            found.append((candidate.story_id, similarity))
        else:
            unsure.append((candidate.article_id, candidate.story_id, similarity))
    # the most alike first, one a story, and a few at most: each is read and cut into shingles again, while every
    # other assignment of the cluster waits
    sure = {story_id for story_id, _ in found}
    best: dict[int, tuple[int, int, float]] = {}
    for other, story_id, similarity in unsure:
        if story_id not in sure and similarity > best.get(story_id, (0, 0, -1.0))[2]:
            best[story_id] = (other, story_id, similarity)
    unsure = sorted(best.values(), key=lambda pick: pick[2], reverse=True)[:MOST_UNSURE_COPIES]
    if unsure:
        texts = article_texts(session, [article_id, *(other for other, _, _ in unsure)])
        own = ordered_shingles(texts[article_id])
        found += [
            (story_id, similarity)
            for other, story_id, similarity in unsure
            if keeps_a_lead(own, ordered_shingles(texts[other]))
        ]
    return found


#: The most stories a new article is checked against by their copies' leads (the copies most alike): a source of
#: short releases ending in one long paragraph makes each new release half alike to all the earlier ones.
MOST_UNSURE_COPIES = 8


def same_text_among(fingerprint: Fingerprint | None, title: str | None, named: Iterable[NamedArticle]) -> int | None:
    """The id of the first of ``named`` with the same title and all but the fingerprinted text (estimated Jaccard
    similarity :data:`SAME_TEXT_JACCARD` or more; none for a page without title or a text too short to have a
    fingerprint): a site's template, before it is learned, makes its short notices all but alike, and some sites
    name one listing as every page's own."""
    if fingerprint is None or not title:
        return None
    for article in named:
        if article.title != title or article.minhash is None:
            continue
        if jaccard(fingerprint.signature, article.minhash) >= SAME_TEXT_JACCARD:
            return article.id
    return None


def same_text_in_source(
    session: Session, fingerprint: Fingerprint | None, page: PageIdentity, source_id: int
) -> int | None:
    """The id of the stored article of source ``source_id`` that a new page is: the same title, all but the same
    text (estimated Jaccard similarity :data:`SAME_TEXT_JACCARD` or more), the same last segment of the URL with its
    query (one article in several sections: ``/science/…/story.html``, ``/world/…/story.html``), and not
    published on another day where both days are known. Notices of one title and form (a seminar's weekly
    announcement, ``content.jsp?wbnewsid=7001`` and ``…7002`` of a university's portal) are never one: their own
    texts are short beside a template not yet learned, and only their URLs or days tell them apart."""
    if fingerprint is None or not page.title:
        return None
    for candidate in titled_candidates(session, fingerprint.keys, source_id, page.title):
        if jaccard(fingerprint.signature, candidate.minhash) < SAME_TEXT_JACCARD:
            continue
        if _last_segment(page.url) != _last_segment(candidate.url):
            continue
        days = _day(page.published), _day(candidate.published)
        if None in days or days[0] == days[1]:
            return candidate.article_id
    return None


def repeated_article(
    session: Session, fingerprint: Fingerprint | None, title: str | None, text: str, source_id: int
) -> int | None:
    """The id of the stored article of source ``source_id`` that a new article, stored on its own, repeats: the same
    title, all but the same text (:data:`SAME_TEXT_JACCARD`), and nothing of its own beyond a short line (under a
    sentence: a note, a rotating box). The same page under a URL no rule makes one (a query the site adds, in two
    encodings): three such copies made its own lines its source's template, cut from every copy. Notices of one
    title and form each say a sentence of their own, and are no repeat."""
    if fingerprint is None or not title:
        return None
    alike = [
        candidate.article_id
        for candidate in titled_candidates(session, fingerprint.keys, source_id, title)
        if jaccard(fingerprint.signature, candidate.minhash) >= SAME_TEXT_JACCARD
    ]
    if not alike:
        return None
    blocks = KeyedBlocks.of(text)
    for article_id, earlier in sorted(article_texts(session, alike).items()):
        if blocks.own_length(page_block_keys(earlier)) < TEMPLATE_SENTENCE_CHARS:
            return article_id
    return None


@dataclass(frozen=True)
class PageIdentity:
    """What tells one page of a source from another beyond its text: its URL, title and day of publication."""

    url: str
    title: str | None
    published: datetime | None


def _day(moment: datetime | None) -> date | None:
    """The UTC day of ``moment`` (a moment without zone taken as UTC); none for midnight of the 1st of January, a
    year the date search found (``2004form.html``) rather than a day."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    if (utc.month, utc.day, utc.hour, utc.minute, utc.second) == (1, 1, 0, 0, 0):
        return None
    return utc.date()


def _last_segment(url: str) -> str:
    """The last segment of ``url``'s canonical path, with its query (``story.html`` of ``/science/2026/story.html``,
    ``content.jsp?wbnewsid=7001`` of a portal's script)."""
    parts = urlsplit(canonical_url(url))
    segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{segment}?{parts.query}" if parts.query else segment


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
