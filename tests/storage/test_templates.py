"""Template-block counts in the database, on SQLite and PostgreSQL: each stored article counts once per
block, a block that reaches the threshold names the articles that held it before (once), its sample is
kept, another source counts apart, and rare blocks are forgotten."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage import Database
from storage.models import TemplateBlock, utcnow
from storage.repository import ensure_source
from storage.templates import (
    block_pages,
    count_blocks,
    forget_rare_blocks,
    source_templates,
    template_keys,
)

THRESHOLD = 3
FOOTER, PROMO = -(2**63), 2**63 - 1  # the extremes of a signed 64-bit key are stored as they are


def test_a_block_on_enough_articles_becomes_template_and_names_the_articles_to_clean(database: Database) -> None:
    with database.session() as session, session.begin():
        site, other = ensure_source(session, "site"), ensure_source(session, "other")
    cleaned: list[list[int]] = []
    for article_id in (11, 12, 13, 14):
        with database.session() as session, session.begin():
            samples = {FOOTER: "Copyright 2026 Site", PROMO: "Subscribe", article_id: "a paragraph of its own"}
            cleaned.append(count_blocks(session, site, article_id, samples, THRESHOLD, samples))
    with database.session() as session, session.begin():
        assert count_blocks(session, other, 21, [FOOTER], THRESHOLD) == []
    assert cleaned == [[], [], [11, 12], []]  # the third article makes them template; the first two are cleaned
    with database.session() as session:
        assert block_pages(session, site, [FOOTER, PROMO, 11, 99]) == {FOOTER: 4, PROMO: 4, 11: 1}
        assert template_keys(session, site, [FOOTER, PROMO, 11], THRESHOLD) == {FOOTER, PROMO}
        assert template_keys(session, other, [FOOTER], THRESHOLD) == set()
        (learned,) = [t for t in source_templates(session, THRESHOLD) if t.source == "site"]
        assert (learned.blocks, learned.template_blocks) == (6, 2)
        assert sorted(learned.samples) == ["Copyright 2026 Site", "Subscribe"]


def test_rare_blocks_are_forgotten_template_blocks_are_kept(database: Database) -> None:
    with database.session() as session, session.begin():
        site = ensure_source(session, "site")
        for article_id in (1, 2, 3):
            count_blocks(session, site, article_id, [FOOTER, 100 + article_id], THRESHOLD)
    with database.session() as session, session.begin():
        assert forget_rare_blocks(session, THRESHOLD, seen_before=utcnow() - timedelta(days=1)) == 0
        assert forget_rare_blocks(session, THRESHOLD, seen_before=utcnow() + timedelta(seconds=1)) == 3
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(TemplateBlock)).scalar_one() == 1
        assert template_keys(session, site, [FOOTER], THRESHOLD) == {FOOTER}
