"""Template blocks: per source, how many stored articles hold each block of extracted text, kept in
the database so that every crawl of a source (in any process) learns from the same counts.

The caller says what a block is (a key), when a block is template (a :class:`TemplateRule`) and
what to do with the articles to clean; these functions count and answer. A block that met the rule
once stays template.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from storage.models import Source, TemplateBlock, utcnow
from storage.repository import dialect_of, insert_in, table_of

#: A kept sample of a block is cut to this many characters.
SAMPLE_CHARS = 200


@dataclass(frozen=True)
class TemplateRule:
    """When a block is its source's template: a line held by at least ``pages`` of the source's stored articles; a
    sentence (a long block: an article's own paragraph may recur, a series' intro, a statement several articles
    quote, a lead that follow-ups repeat) held by at least ``sentence_pages`` of them and by ``share`` of those
    counted since it first showed (a footer is on every page), or by ``sure_pages`` whatever their share."""

    pages: int
    sentence_pages: int | None = None
    share: Fraction = Fraction(0)
    sure_pages: int | None = None

    def holds(self, pages: int, span: int, sentence: bool = False) -> bool:
        """Whether a block held by ``pages`` articles of the ``span`` counted since it first showed is template."""
        if pages < self.pages:
            return False
        if not sentence or self.sentence_pages is None:
            return True
        if self.sure_pages is not None and pages >= self.sure_pages:
            return True
        return pages >= self.sentence_pages and pages * self.share.denominator >= self.share.numerator * span


@dataclass(frozen=True)
class BlockCount:
    """What is counted of one block of a source: the stored articles holding it, the articles counted since it
    first showed (its first one included), whether it is a sentence, and whether it is template."""

    pages: int
    span: int
    template: bool
    sentence: bool = False

    def template_after(self, rule: TemplateRule, articles: int) -> bool:
        """Whether the block is template once ``articles`` more articles holding it are counted."""
        return self.template or rule.holds(self.pages + articles, self.span + articles, self.sentence)


def block_counts(session: Session, source_id: int, keys: Iterable[int]) -> dict[int, BlockCount]:
    """The counts of each of ``keys`` in the source (keys never seen are left out)."""
    wanted = list(keys)
    if not wanted:
        return {}
    rows = session.execute(
        select(
            TemplateBlock.block_key,
            TemplateBlock.pages,
            TemplateBlock.first_count,
            TemplateBlock.template_since,
            TemplateBlock.sentence,
        ).where(TemplateBlock.source_id == source_id, TemplateBlock.block_key.in_(wanted))
    ).all()
    if not rows:
        return {}
    counted = _counted(session, source_id)
    return {
        row.block_key: BlockCount(
            row.pages, span(counted, row.first_count), row.template_since is not None, bool(row.sentence)
        )
        for row in rows
    }


def span(counted: Any, first_count: Any) -> Any:
    """The articles of a source counted since a block first showed, its first one included (numbers, or columns in
    a query)."""
    return counted - first_count + 1


def _counted(session: Session, source_id: int) -> int:
    """How many of the source's stored articles had their blocks counted."""
    return int(session.execute(select(Source.blocks_counted).where(Source.id == source_id)).scalar_one_or_none() or 0)


def count_blocks(
    session: Session,
    source_id: int,
    article_id: int,
    keys: Iterable[int],
    rule: TemplateRule,
    samples: Mapping[int, str] | None = None,
    sentences: Collection[int] = frozenset(),
) -> list[int]:
    """Count one more stored article (``article_id``) of the source, holding each of ``keys`` (``sentences``: those
    that are sentences); return the articles to clean again: those that held a block before it met ``rule`` now.

    A block that is not template remembers the articles holding it; one that becomes template keeps its
    text from ``samples`` instead.
    """
    # first: on PostgreSQL the source's row lock makes two crawls counting its blocks wait for each other, so
    # neither writes back counts the other has changed since it read them
    session.execute(update(Source).where(Source.id == source_id).values(blocks_counted=Source.blocks_counted + 1))
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    counted = _counted(session, source_id)
    now = utcnow()
    known = {
        row.block_key: row
        for row in session.execute(
            select(
                TemplateBlock.block_key,
                TemplateBlock.pages,
                TemplateBlock.pending,
                TemplateBlock.first_count,
                TemplateBlock.template_since,
                TemplateBlock.sentence,
            ).where(TemplateBlock.source_id == source_id, TemplateBlock.block_key.in_(wanted))
        )
    }
    to_clean: dict[int, None] = {}
    updates = []
    for key, row in known.items():
        pages = row.pages + 1
        values: dict[str, Any] = {"b_source_id": source_id, "b_block_key": key, "pages": pages, "last_seen": now}
        if row.template_since is None:
            if rule.holds(pages, span(counted, row.first_count), bool(row.sentence)):  # template now: clean the others
                to_clean.update(dict.fromkeys(int(held) for held in (row.pending or "").split(",") if held))
                values.update(pending=None, template_since=now)
                if sample := (samples or {}).get(key, "")[:SAMPLE_CHARS]:
                    values["sample"] = sample
            else:
                values["pending"] = f"{row.pending},{article_id}" if row.pending else str(article_id)
        updates.append(values)
    # one executemany per set of columns, by primary key; the counts were read in this transaction
    for columns in {tuple(values) for values in updates}:
        session.execute(_count_update(columns), [values for values in updates if tuple(values) == columns])
    new = [key for key in wanted if key not in known]
    if new:
        rows = [
            {
                "source_id": source_id,
                "block_key": key,
                "pages": 1,
                "first_count": counted,
                "sentence": key in sentences,
                "pending": None if first else str(article_id),
                "sample": ((samples or {}).get(key, "")[:SAMPLE_CHARS] or None) if first else None,
                "template_since": now if first else None,
                "first_seen": now,
                "last_seen": now,
            }
            for key in new
            for first in (rule.holds(1, 1, key in sentences),)
        ]
        session.execute(_count_upsert(dialect_of(session)), rows)
    to_clean.pop(article_id, None)
    return list(to_clean)


_BLOCKS = table_of(TemplateBlock)


@cache
def _count_update(columns: tuple[str, ...]) -> Any:
    """An UPDATE of one counted block, found by its primary key (bound as ``b_source_id`` and ``b_block_key``, as
    SQLAlchemy's documentation names a key bound apart from the columns set), setting the other ``columns`` of the
    values it is run with: a Core statement, cheaper than the ORM's bulk update."""
    statement = update(_BLOCKS).where(
        _BLOCKS.c.source_id == bindparam("b_source_id"), _BLOCKS.c.block_key == bindparam("b_block_key")
    )
    return statement.values({name: bindparam(name) for name in columns if not name.startswith("b_")})


@cache
def _count_upsert(dialect: str) -> Any:
    """Insert a block's first count; another crawl of the source may have counted the block since it was read:
    then count this article too."""
    insert = insert_in(dialect, TemplateBlock)
    return insert.on_conflict_do_update(
        index_elements=["source_id", "block_key"],
        set_={"pages": TemplateBlock.pages + 1, "last_seen": insert.excluded.last_seen},
    )


def template_blocks(
    session: Session, source_ids: Iterable[int], ahead: TemplateRule | None = None
) -> dict[int, set[int]]:
    """The template blocks of each of ``source_ids`` (by source id); with ``ahead``, also the blocks that one more
    article holding them would make template by that rule."""
    wanted = list(source_ids)
    found: dict[int, set[int]] = {source_id: set() for source_id in wanted}
    if not wanted:
        return found
    near: ColumnElement[bool] = TemplateBlock.template_since.is_not(None)
    if ahead is not None:
        near = near | (TemplateBlock.pages + 1 >= ahead.pages)
    rows = session.execute(
        select(
            TemplateBlock.source_id,
            TemplateBlock.block_key,
            TemplateBlock.pages,
            TemplateBlock.template_since,
            span(Source.blocks_counted, TemplateBlock.first_count),
            TemplateBlock.sentence,
        )
        .join(Source, Source.id == TemplateBlock.source_id)
        .where(TemplateBlock.source_id.in_(wanted), near)
    )
    for source_id, key, pages, since, counted_since, sentence in rows:
        count = BlockCount(pages, counted_since, since is not None, bool(sentence))
        if count.template_after(ahead, 1) if ahead is not None else count.template:
            found[source_id].add(key)
    return found


def template_keys(session: Session, source_id: int, keys: Iterable[int]) -> set[int]:
    """Which of ``keys`` are the source's template."""
    return {key for key, count in block_counts(session, source_id, keys).items() if count.template}


@dataclass(frozen=True)
class SourceTemplate:
    """What is known of one source's template: the blocks counted, those that are template, and samples."""

    source: str
    blocks: int
    template_blocks: int
    samples: list[str]


def source_templates(session: Session, samples: int = 5) -> list[SourceTemplate]:
    """Every source's counted blocks and template blocks, with the samples of its most frequent template blocks."""
    is_template = TemplateBlock.template_since.is_not(None)
    rows = session.execute(
        select(
            Source.id,
            Source.name,
            func.count(TemplateBlock.block_key),
            func.count(TemplateBlock.block_key).filter(is_template),
        )
        .join(TemplateBlock, TemplateBlock.source_id == Source.id)
        .group_by(Source.id, Source.name)
        .order_by(Source.name)
    ).all()
    result = []
    for source_id, name, blocks, template in rows:
        texts = session.execute(
            select(TemplateBlock.sample)
            .where(TemplateBlock.source_id == source_id, is_template, TemplateBlock.sample.is_not(None))
            .order_by(TemplateBlock.pages.desc())
            .limit(samples)
        ).scalars()
        result.append(SourceTemplate(name, blocks, template, [t for t in texts if t]))
    return result


def forget_rare_blocks(session: Session, seen_before: datetime) -> int:
    """Forget the blocks that are not template, last seen before ``seen_before`` (an article's own paragraphs,
    which never recur): keeps the table to about a source's template plus its recent articles. Returns how many."""
    result = session.execute(
        delete(TemplateBlock).where(TemplateBlock.template_since.is_(None), TemplateBlock.last_seen < seen_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
