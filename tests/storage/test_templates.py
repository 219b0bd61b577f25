"""Template-block counts in the database, on SQLite and PostgreSQL: each stored article counts once per
block, a block that reaches the threshold names the articles that held it before (once), its sample is
kept, another source counts apart, a block on a few of many articles is not template, and rare blocks are
forgotten."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from sqlalchemy import func, select

from storage import Database
from storage.models import TemplateBlock, utcnow
from storage.repository import ensure_source
from storage.templates import (
    TemplateRule,
    block_counts,
    count_blocks,
    forget_rare_blocks,
    source_templates,
    template_keys,
)

THRESHOLD = TemplateRule(3)  # three articles, whatever their share
SHARE = TemplateRule(3, sentence_pages=4, share=Fraction(2, 3), sure_pages=6)
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
        assert {key: count.pages for key, count in block_counts(session, site, [FOOTER, PROMO, 11, 99]).items()} == {
            FOOTER: 4,
            PROMO: 4,
            11: 1,
        }
        assert template_keys(session, site, [FOOTER, PROMO, 11]) == {FOOTER, PROMO}
        assert template_keys(session, other, [FOOTER]) == set()
        (learned,) = [t for t in source_templates(session) if t.source == "site"]
        assert (learned.blocks, learned.template_blocks) == (6, 2)
        assert sorted(learned.samples) == ["Copyright 2026 Site", "Subscribe"]


def test_rare_blocks_are_forgotten_template_blocks_are_kept(database: Database) -> None:
    with database.session() as session, session.begin():
        site = ensure_source(session, "site")
        for article_id in (1, 2, 3):
            count_blocks(session, site, article_id, [FOOTER, 100 + article_id], THRESHOLD)
    with database.session() as session, session.begin():
        assert forget_rare_blocks(session, seen_before=utcnow() - timedelta(days=1)) == 0
        assert forget_rare_blocks(session, seen_before=utcnow() + timedelta(seconds=1)) == 3
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(TemplateBlock)).scalar_one() == 1
        assert template_keys(session, site, [FOOTER]) == {FOOTER}


def test_a_sentence_on_a_few_of_many_articles_is_not_template_until_it_is_on_enough(database: Database) -> None:
    # A footer line on every article; a series' intro (a sentence) on every other one (a share of one half): the
    # footer is template from the third article on, the intro only once six articles hold it (the rule's number
    # whatever the share). A line that is no sentence is template on three articles, whatever their share.
    INTRO, EDITOR = 7, 8
    with database.session() as session, session.begin():
        site = ensure_source(session, "site")
    cleaned: dict[int, list[int]] = {}
    for article_id in range(1, 13):
        keys = [FOOTER, INTRO, EDITOR] if article_id % 2 else [FOOTER]
        with database.session() as session, session.begin():
            cleaned[article_id] = count_blocks(session, site, article_id, keys, SHARE, sentences={INTRO})
            counts = block_counts(session, site, [FOOTER, INTRO, EDITOR])
        assert counts[FOOTER].template == (article_id >= 3)
        assert counts[EDITOR].template == (article_id >= 5), article_id  # the third editor's line is on article 5
        assert counts[INTRO].template == (article_id >= 11), article_id  # the sixth intro is on article 11
        assert (counts[INTRO].pages, counts[INTRO].span, counts[INTRO].sentence) == (
            (article_id + 1) // 2,
            article_id,
            True,
        )
    assert cleaned[3] == [1, 2] and cleaned[5] == [1, 3] and cleaned[11] == [1, 3, 5, 7, 9]
    assert all(not ids for article_id, ids in cleaned.items() if article_id not in (3, 5, 11))
    with database.session() as session, session.begin():
        other = ensure_source(session, "other")
        for article_id in (21, 22, 23, 24):  # a sentence on articles in a row: all of them, from the fourth on
            count_blocks(session, other, article_id, [INTRO], SHARE, sentences={INTRO})
            assert template_keys(session, other, [INTRO]) == ({INTRO} if article_id == 24 else set())
