"""Each source's template, learned from its stored articles and removed from their text.

A new article is cleaned of the blocks its source's stored articles already share
(:func:`clean_new_text`), before it is scored, fingerprinted and stored; once stored, its blocks
are counted (:func:`learn_blocks`), and when a block becomes template, the articles stored before
that still hold it are cleaned, scored and grouped into stories again (:func:`clean_again`): the
first pages of a new source do not keep its template. Everything happens in the caller's
session (the transaction that stores the article), so concurrent crawls count on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.relevance.profile import RelevanceScorer
from crawler.stories.assign import regroup_article
from crawler.stories.fingerprint import fingerprint
from crawler.text.template_blocks import (
    TEMPLATE_PAGES,
    TEMPLATE_PAGES_WHATEVER_SHARE,
    TEMPLATE_SENTENCE_PAGES,
    TEMPLATE_SHARE,
    CleanedText,
    KeyedBlocks,
)
from storage.models import Article, utcnow
from storage.repository import replace_text, update_relevance
from storage.templates import (
    TemplateRule,
    block_counts,
    count_blocks,
    forget_rare_blocks,
    template_blocks,
    template_keys,
)

#: When a block is its source's template.
TEMPLATE_RULE = TemplateRule(TEMPLATE_PAGES, TEMPLATE_SENTENCE_PAGES, TEMPLATE_SHARE, TEMPLATE_PAGES_WHATEVER_SHARE)

#: A block that is not template is forgotten when it has not recurred for this long (an article's own paragraphs
#: never recur: without this the table would keep every paragraph ever stored).
RARE_BLOCKS_KEPT = timedelta(days=30)


@dataclass(frozen=True)
class NewTextCleaning:
    """A new article's text cleaned of its source's template, with the blocks that decided it."""

    cleaned: CleanedText
    #: The text's blocks that are its source's template (removed, unless that left nothing).
    template: frozenset[int]
    #: The text's blocks that, once this article is stored, are template for the source's next new article if it
    #: holds them too.
    shared: frozenset[int]


def clean_new_text(session: Session, source_id: int, blocks: KeyedBlocks) -> NewTextCleaning:
    """A new article's text without its source's template, counting the article itself: a block that is template,
    or that the article makes template (:data:`TEMPLATE_RULE`)."""
    counts = block_counts(session, source_id, blocks.samples())
    template = frozenset(key for key, count in counts.items() if count.template_after(TEMPLATE_RULE, 1))
    shared = frozenset(key for key, count in counts.items() if count.template_after(TEMPLATE_RULE, 2))
    return NewTextCleaning(blocks.without(template), template, template | shared)


def likely_template(session: Session, source_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """For each source, the blocks that are template for its next new article as the corpus stands: what the
    extraction workers remove before fingerprinting."""
    return _frozen(template_blocks(session, source_ids, ahead=TEMPLATE_RULE))


def current_template(session: Session, source_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """For each source, the blocks that are its template as the corpus stands: what extracting a stored article's
    kept page again leaves out where it finds nothing else."""
    return _frozen(template_blocks(session, source_ids))


def _frozen(blocks: dict[int, set[int]]) -> dict[int, frozenset[int]]:
    return {source_id: frozenset(keys) for source_id, keys in blocks.items()}


def clean_stored_text(session: Session, source_id: int, text: str) -> CleanedText:
    """A stored article's text without the blocks that are now its source's template."""
    blocks = KeyedBlocks.of(text)
    return blocks.without(template_keys(session, source_id, blocks.samples()))


def learn_blocks(session: Session, source_id: int, article_id: int, blocks: KeyedBlocks) -> list[int]:
    """Count the blocks of a newly stored article's text as extracted (template included: that is how the
    template stays known); return the earlier articles to clean again, whose blocks just became template."""
    samples = blocks.samples()
    return count_blocks(session, source_id, article_id, samples, TEMPLATE_RULE, samples, blocks.sentences())


@dataclass(frozen=True)
class Recleaned:
    """What cleaning stored articles again did: articles whose text changed, and those left as they were
    because their cleaned text is another article's."""

    changed: list[int]
    collisions: list[int]


def clean_again(session: Session, article_ids: Iterable[int], scorer: RelevanceScorer) -> Recleaned:
    """Clean stored articles of what is now their source's template; each one changed is scored, fingerprinted
    and grouped into a story again."""
    changed: list[int] = []
    collisions: list[int] = []
    ids = list(article_ids)
    if not ids:
        return Recleaned(changed, collisions)
    rows = session.execute(
        select(Article.id, Article.source_id, Article.title, Article.text, Article.first_seen).where(
            Article.id.in_(ids)
        )
    ).all()
    for row in rows:
        cleaned = clean_stored_text(session, row.source_id, row.text)
        if not cleaned.removed:
            continue
        if not replace_text(session, row.id, cleaned.text):
            collisions.append(row.id)
            continue
        relevance = scorer.score(row.title, cleaned.text)
        evidence = relevance.evidence_json()
        update_relevance(session, row.id, relevance.score, relevance.relevant, evidence)
        regroup_article(session, row.id, fingerprint(cleaned.text), row.first_seen)
        changed.append(row.id)
    return Recleaned(changed, collisions)


def forget_rare_blocks_of_the_past(session: Session) -> int:
    """Forget the counted blocks that are not template and have not recurred for :data:`RARE_BLOCKS_KEPT`."""
    return forget_rare_blocks(session, utcnow() - RARE_BLOCKS_KEPT)
