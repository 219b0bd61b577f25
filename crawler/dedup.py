"""Stories from near-duplicates: put a newly stored article into the story of the copy it matches
best, or start a new story with it. Uses the database's band index (:mod:`storage.stories`) for
candidates and :func:`crawler.neardup.is_copy` to decide."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from crawler.neardup import Fingerprint, is_copy
from storage.stories import candidates, join_story, save_fingerprint, start_story


@dataclass(frozen=True)
class StoryAssignment:
    """Which story an article went to, and whether it joined an existing one (with what similarity)."""

    story_id: int
    joined: bool
    similarity: float = 0.0


def assign_story(session: Session, article_id: int, fingerprint: Fingerprint | None) -> StoryAssignment:
    """Give a just-stored article its story, and index its fingerprint for the articles to come."""
    best: tuple[float, int] | None = None
    if fingerprint is not None:
        for candidate in candidates(session, fingerprint.band_keys, exclude=article_id):
            copy, similarity = is_copy(fingerprint, candidate.minhash, candidate.shingles)
            if copy and candidate.story_id is not None and (best is None or similarity > best[0]):
                best = (similarity, candidate.story_id)
        save_fingerprint(session, article_id, fingerprint.signature, fingerprint.shingles, fingerprint.band_keys)
    if best is None:
        return StoryAssignment(start_story(session, article_id), joined=False)
    join_story(session, article_id, best[1])
    return StoryAssignment(best[1], joined=True, similarity=best[0])
