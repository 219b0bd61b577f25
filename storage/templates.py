"""Template blocks: per source, how many stored articles hold each block of extracted text, kept in
the database so that every crawl of a source (in any process) learns from the same counts.

The caller says what a block is (a key), when a block is template (``threshold`` articles) and
what to do with the articles to clean; these functions count and answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Source, TemplateBlock, utcnow
from storage.repository import dialect_of, insert_in, table_of

#: A kept sample of a block is cut to this many characters.
SAMPLE_CHARS = 200


def block_pages(session: Session, source_id: int, keys: Iterable[int]) -> dict[int, int]:
    """How many stored articles of the source hold each of ``keys`` (keys never seen are left out)."""
    wanted = list(keys)
    if not wanted:
        return {}
    rows = session.execute(
        select(TemplateBlock.block_key, TemplateBlock.pages).where(
            TemplateBlock.source_id == source_id, TemplateBlock.block_key.in_(wanted)
        )
    )
    return {row.block_key: row.pages for row in rows}


def count_blocks(
    session: Session,
    source_id: int,
    article_id: int,
    keys: Iterable[int],
    threshold: int,
    samples: Mapping[int, str] | None = None,
) -> list[int]:
    """Count one more stored article (``article_id``) holding each of ``keys``; return the articles to
    clean again: those that held a block before it reached ``threshold`` articles now.

    A block below the threshold remembers the articles holding it; one that reaches it keeps its
    text from ``samples`` instead.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    now = utcnow()
    known = {
        row.block_key: row
        for row in session.execute(
            select(TemplateBlock.block_key, TemplateBlock.pages, TemplateBlock.pending).where(
                TemplateBlock.source_id == source_id, TemplateBlock.block_key.in_(wanted)
            )
        )
    }
    to_clean: dict[int, None] = {}
    updates = []
    for key, row in known.items():
        pages = row.pages + 1
        pending, sample = row.pending, None
        if pages < threshold:
            pending = f"{row.pending},{article_id}" if row.pending else str(article_id)
        elif row.pending:  # it is template from now on: the articles that held it before are cleaned again
            to_clean.update(dict.fromkeys(int(held) for held in row.pending.split(",") if held))
            pending, sample = None, (samples or {}).get(key, "")[:SAMPLE_CHARS] or None
        values = {"b_source_id": source_id, "b_block_key": key, "pages": pages, "pending": pending, "last_seen": now}
        if sample:
            values["sample"] = sample
        updates.append(values)
    # one executemany per set of columns, by primary key; the counts were read in this transaction
    for columns in {tuple(values) for values in updates}:
        session.execute(_count_update(columns), [values for values in updates if tuple(values) == columns])
    new = [key for key in wanted if key not in known]
    if new:
        first = 1 >= threshold
        rows = [
            {
                "source_id": source_id,
                "block_key": key,
                "pages": 1,
                "pending": None if first else str(article_id),
                "sample": ((samples or {}).get(key, "")[:SAMPLE_CHARS] or None) if first else None,
                "first_seen": now,
                "last_seen": now,
            }
            for key in new
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


def shared_blocks(session: Session, source_ids: Iterable[int], threshold: int) -> dict[int, set[int]]:
    """The blocks held by at least ``threshold`` stored articles of each of ``source_ids`` (by source id)."""
    wanted = list(source_ids)
    shared: dict[int, set[int]] = {source_id: set() for source_id in wanted}
    if wanted:
        rows = session.execute(
            select(TemplateBlock.source_id, TemplateBlock.block_key).where(
                TemplateBlock.source_id.in_(wanted), TemplateBlock.pages >= threshold
            )
        )
        for row in rows:
            shared[row.source_id].add(row.block_key)
    return shared


def template_keys(session: Session, source_id: int, keys: Iterable[int], threshold: int) -> set[int]:
    """Which of ``keys`` are the source's template: held by at least ``threshold`` of its stored articles."""
    return {key for key, pages in block_pages(session, source_id, keys).items() if pages >= threshold}


@dataclass(frozen=True)
class SourceTemplate:
    """What is known of one source's template: the blocks counted, those that are template, and samples."""

    source: str
    blocks: int
    template_blocks: int
    samples: list[str]


def source_templates(session: Session, threshold: int, samples: int = 5) -> list[SourceTemplate]:
    """Every source's counted blocks and template blocks, with the samples of its most frequent template blocks."""
    is_template = TemplateBlock.pages >= threshold
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


def forget_rare_blocks(session: Session, threshold: int, seen_before: datetime) -> int:
    """Forget the blocks below ``threshold`` last seen before ``seen_before`` (an article's own paragraphs,
    which never recur): keeps the table to about a source's template plus its recent articles. Returns how many."""
    result = session.execute(
        delete(TemplateBlock).where(TemplateBlock.pages < threshold, TemplateBlock.last_seen < seen_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
